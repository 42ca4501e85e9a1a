import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, bearer, createOrg, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

type ErrorBody = { error: { type: string; code: string; requiredPermission?: string; param?: string } };
const errorOf = (res: { json: <T>() => T }) => res.json<ErrorBody>().error;

interface Minted {
  id: string;
  name: string;
  prefix: string;
  secret: string;
  createdAt: string;
}

interface KeyItem {
  id: string;
  name: string;
  prefix: string;
  memberId: string;
  ownerName: string;
  permissions: string[] | null;
  createdAt: string;
  rotatedAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const mint = (orgId: string, s: Session | string, body: Record<string, unknown>) =>
  t.app.inject({ method: "POST", url: `/v1/orgs/${orgId}/api-keys`, headers: bearer(s), payload: body });

async function mintOk(orgId: string, s: Session, body: Record<string, unknown> = { name: "CI" }): Promise<Minted> {
  const res = await mint(orgId, s, body);
  expect(res.statusCode, res.body).toBe(201);
  return json<Minted>(res);
}

const listKeys = async (orgId: string, s: Session) =>
  json<{ data: KeyItem[] }>(await t.app.inject({ url: `/v1/orgs/${orgId}/api-keys`, headers: bearer(s) })).data;
const members = (orgId: string, key: string) =>
  t.app.inject({ url: `/v1/orgs/${orgId}/members`, headers: bearer(key) });
const setStatus = (orgId: string, actor: Session, memberId: string, status: "active" | "inactive") =>
  t.app.inject({
    method: "PATCH",
    url: `/v1/orgs/${orgId}/members/${memberId}`,
    headers: bearer(actor),
    payload: { status },
  });
const auditActions = async (orgId: string, s: Session, action: string) =>
  json<{
    data: Array<{
      action: string;
      actorId: string;
      targetId: string;
      before: unknown;
      after: Record<string, unknown> | null;
    }>;
  }>(await t.app.inject({ url: `/v1/orgs/${orgId}/audit-events?action=${action}`, headers: bearer(s) })).data;

async function orgWithOwner(policy = "saas") {
  const owner = await signUp(t.app);
  const org = await createOrg(t.app, owner, policy);
  return { owner, org };
}

describe("lifecycle: mint → use → rotate → revoke", () => {
  it("mints with the secret shown once, lists without it, works, rotates (old fails, new works), revokes (fails)", async () => {
    const { owner, org } = await orgWithOwner();
    const key = await mintOk(org.id, owner, { name: "  Billing sync " });
    expect(key.name).toBe("Billing sync");
    expect(key.secret).toMatch(/^rk_[0-9a-z]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.secret.startsWith(`rk_${key.prefix}_`)).toBe(true);
    expect(key.createdAt).toBe(t.clock.now().toISOString());

    const listRes = await t.app.inject({ url: `/v1/orgs/${org.id}/api-keys`, headers: bearer(owner) });
    expect(listRes.body).not.toContain(key.secret);
    expect(listRes.body).not.toContain(key.secret.slice(12));
    const [item] = json<{ data: KeyItem[] }>(listRes).data;
    expect(item).toMatchObject({
      id: key.id,
      name: "Billing sync",
      prefix: key.prefix,
      memberId: org.memberId,
      ownerName: "Test User",
      permissions: null,
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(Object.keys(item!)).not.toContain("secret");

    // Use.
    expect((await members(org.id, key.secret)).statusCode).toBe(200);

    // Rotate: a new secret and prefix, the old secret fails at once.
    const rotatedRes = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}/rotate`,
      headers: bearer(owner),
    });
    expect(rotatedRes.statusCode).toBe(200);
    const rotated = json<Minted>(rotatedRes);
    expect(rotated.id).toBe(key.id);
    expect(rotated.secret).not.toBe(key.secret);
    expect(rotated.prefix).not.toBe(key.prefix);
    const old = await members(org.id, key.secret);
    expect(old.statusCode).toBe(401);
    expect(errorOf(old)).toMatchObject({ type: "authentication_error", code: "api_key_invalid" });
    expect((await members(org.id, rotated.secret)).statusCode).toBe(200);

    // Revoke: fails from the next request; revoking again changes nothing.
    const revoke = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}`,
      headers: bearer(owner),
    });
    expect(revoke.statusCode).toBe(204);
    const after = await members(org.id, rotated.secret);
    expect(after.statusCode).toBe(401);
    expect(errorOf(after).code).toBe("api_key_invalid");
    expect(
      (await t.app.inject({ method: "DELETE", url: `/v1/orgs/${org.id}/api-keys/${key.id}`, headers: bearer(owner) }))
        .statusCode,
    ).toBe(204);
    const rotateRevoked = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}/rotate`,
      headers: bearer(owner),
    });
    expect(rotateRevoked.statusCode).toBe(409);
    const [listed] = await listKeys(org.id, owner);
    expect(listed?.revokedAt).toBe(t.clock.now().toISOString());

    // Each step is audited once, without the secret.
    expect(await auditActions(org.id, owner, "api_key.created")).toHaveLength(1);
    expect(await auditActions(org.id, owner, "api_key.rotated")).toHaveLength(1);
    expect(await auditActions(org.id, owner, "api_key.revoked")).toHaveLength(1);
    const feed = await t.app.inject({ url: `/v1/orgs/${org.id}/audit-events`, headers: bearer(owner) });
    expect(feed.body).not.toContain(key.secret);
    expect(feed.body).not.toContain(rotated.secret);
  });

  it("lastUsedAt records use, at most once a minute", async () => {
    const { owner, org } = await orgWithOwner();
    const key = await mintOk(org.id, owner);
    t.clock.advance(10_000);
    const firstUse = t.clock.now().toISOString();
    await members(org.id, key.secret);
    expect((await listKeys(org.id, owner))[0]?.lastUsedAt).toBe(firstUse);
    t.clock.advance(20_000);
    await members(org.id, key.secret);
    expect((await listKeys(org.id, owner))[0]?.lastUsedAt).toBe(firstUse);
    t.clock.advance(60_000);
    await members(org.id, key.secret);
    expect((await listKeys(org.id, owner))[0]?.lastUsedAt).toBe(t.clock.now().toISOString());
  });

  it("a made-up, truncated or tampered key is refused with 401", async () => {
    const { owner, org } = await orgWithOwner();
    const key = await mintOk(org.id, owner);
    const last = key.secret.at(-1) === "A" ? "B" : "A";
    for (const bad of [
      `${key.secret.slice(0, -1)}${last}`,
      key.secret.slice(0, -2),
      `rk_${key.prefix}_${"A".repeat(43)}`,
      "rk_nope",
    ]) {
      const res = await members(org.id, bad);
      expect(res.statusCode, bad).toBe(401);
      expect(errorOf(res).code).toBe("api_key_invalid");
    }
  });
});

describe("what a key may do", () => {
  it("acts in its own org only: another org's id answers 404, account routes 403", async () => {
    const a = await orgWithOwner();
    const b = await orgWithOwner();
    const key = await mintOk(a.org.id, a.owner);
    expect((await members(b.org.id, key.secret)).statusCode).toBe(404);
    const me = await t.app.inject({ url: "/v1/me", headers: bearer(key.secret) });
    expect(me.statusCode).toBe(403);
    expect(errorOf(me).code).toBe("api_key_not_allowed");
    // Nor can it mint, rotate or revoke keys, or change security settings.
    const minted = await mint(a.org.id, key.secret, { name: "child" });
    expect(minted.statusCode).toBe(403);
    expect(errorOf(minted).code).toBe("api_key_not_allowed");
    expect(
      (
        await t.app.inject({
          method: "POST",
          url: `/v1/orgs/${a.org.id}/api-keys/${key.id}/rotate`,
          headers: bearer(key.secret),
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await t.app.inject({
          method: "DELETE",
          url: `/v1/orgs/${a.org.id}/api-keys/${key.id}`,
          headers: bearer(key.secret),
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await t.app.inject({
          method: "PATCH",
          url: `/v1/orgs/${a.org.id}/security`,
          headers: bearer(key.secret),
          payload: { requireMfa: false },
        })
      ).statusCode,
    ).toBe(403);
    // Nor delete the org, even a key minted by the top role with the top role's permissions.
    const deleted = await t.app.inject({ method: "DELETE", url: `/v1/orgs/${a.org.id}`, headers: bearer(key.secret) });
    expect(deleted.statusCode).toBe(403);
    expect(errorOf(deleted).code).toBe("api_key_not_allowed");
    expect((await members(a.org.id, key.secret)).statusCode).toBe(200);
    // It can ask POST /v1/authorize about its own org.
    const decision = await t.app.inject({
      method: "POST",
      url: "/v1/authorize",
      headers: bearer(key.secret),
      payload: { orgId: a.org.id, action: "read", resource: { type: "member" } },
    });
    expect(decision.statusCode).toBe(200);
    expect(json<{ allowed: boolean }>(decision).allowed).toBe(true);
  });

  it("narrowed permissions: the key can do only what was listed", async () => {
    const { owner, org } = await orgWithOwner();
    const admin = await addMember(t, org.id, "admin");
    const key = await mintOk(org.id, admin.session, { name: "reader", permissions: ["member:read", "member:read"] });
    expect((await listKeys(org.id, owner)).find((k) => k.id === key.id)?.permissions).toEqual(["member:read"]);
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
    const inv = await t.app.inject({ url: `/v1/orgs/${org.id}/invitations`, headers: bearer(key.secret) });
    expect(inv.statusCode).toBe(403);
    expect(errorOf(inv)).toMatchObject({
      type: "authorization_error",
      code: "permission_denied",
      requiredPermission: "invitation:read",
    });
    // The same admin's session still can.
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/invitations`, headers: bearer(admin.session) })).statusCode,
    ).toBe(200);
  });

  it("refuses permissions the member does not hold, unknown ones and malformed ones", async () => {
    const { org } = await orgWithOwner();
    const admin = await addMember(t, org.id, "admin");
    const notHeld = await mint(org.id, admin.session, { name: "x", permissions: ["member:delete"] });
    expect(notHeld.statusCode).toBe(403);
    expect(errorOf(notHeld)).toMatchObject({ code: "permission_denied", requiredPermission: "member:delete" });
    const unknown = await mint(org.id, admin.session, { name: "x", permissions: ["invoice:void"] });
    expect(unknown.statusCode).toBe(422);
    expect(errorOf(unknown)).toMatchObject({ code: "invalid_value", param: "permissions.0" });
    const malformed = await mint(org.id, admin.session, { name: "x", permissions: ["member:read", "DROP TABLE"] });
    expect(malformed.statusCode).toBe(422);
    expect(errorOf(malformed)).toMatchObject({ code: "invalid_value", param: "permissions.1" });
    const twoScopes = await mint(org.id, admin.session, {
      name: "x",
      permissions: ["member:read", "member:read@department"],
    });
    expect(twoScopes.statusCode).toBe(422);
    expect(errorOf(twoScopes)).toMatchObject({ code: "invalid_value", param: "permissions.1" });
    for (const body of [
      {},
      { name: "" },
      { name: "   " },
      { name: "x".repeat(101) },
      { name: "x", permissions: [1] },
    ]) {
      const res = await mint(org.id, admin.session, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(errorOf(res).type).toBe("invalid_request_error");
    }
  });

  it("the owner is the signed-in member, never one named in the body", async () => {
    const { owner, org } = await orgWithOwner();
    const admin = await addMember(t, org.id, "admin");
    const spoof = await mint(org.id, admin.session, { name: "x", memberId: org.memberId });
    expect(spoof.statusCode).toBe(400);
    expect(errorOf(spoof).type).toBe("invalid_request_error");
    const key = await mintOk(org.id, admin.session, { name: "mine" });
    expect((await listKeys(org.id, owner)).find((k) => k.id === key.id)?.memberId).toBe(admin.memberId);
    // The admin's key cannot do what only the owner can.
    const del = await t.app.inject({ method: "DELETE", url: `/v1/orgs/${org.id}`, headers: bearer(key.secret) });
    expect(del.statusCode).toBe(403);
  });

  it("follows the member's current role: a demotion narrows the key on its next request", async () => {
    const { owner, org } = await orgWithOwner();
    const admin = await addMember(t, org.id, "admin");
    const key = await mintOk(org.id, admin.session);
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/invitations`, headers: bearer(key.secret) })).statusCode,
    ).toBe(200);
    const demote = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/members/${admin.memberId}`,
      headers: bearer(owner),
      payload: { role: "member" },
    });
    expect(demote.statusCode).toBe(200);
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/invitations`, headers: bearer(key.secret) })).statusCode,
    ).toBe(403);
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
  });

  it("minting needs api_key:create; only the key's member rotates it; others with api_key:revoke revoke it", async () => {
    const { owner, org } = await orgWithOwner();
    const member = await addMember(t, org.id, "member");
    const denied = await mint(org.id, member.session, { name: "x" });
    expect(denied.statusCode).toBe(403);
    expect(errorOf(denied)).toMatchObject({ code: "permission_denied", requiredPermission: "api_key:create" });
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/api-keys`, headers: bearer(member.session) })).statusCode,
    ).toBe(403);

    const admin = await addMember(t, org.id, "admin");
    const key = await mintOk(org.id, admin.session);
    const rotate = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}/rotate`,
      headers: bearer(owner),
    });
    expect(rotate.statusCode).toBe(403);
    expect(errorOf(rotate).code).toBe("permission_denied");
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
    expect(
      (await t.app.inject({ method: "DELETE", url: `/v1/orgs/${org.id}/api-keys/${key.id}`, headers: bearer(owner) }))
        .statusCode,
    ).toBe(204);
    expect((await members(org.id, key.secret)).statusCode).toBe(401);
  });

  it("another org's key id answers 404", async () => {
    const a = await orgWithOwner();
    const b = await orgWithOwner();
    const key = await mintOk(a.org.id, a.owner);
    expect(
      (
        await t.app.inject({
          method: "DELETE",
          url: `/v1/orgs/${b.org.id}/api-keys/${key.id}`,
          headers: bearer(b.owner),
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (
        await t.app.inject({
          method: "POST",
          url: `/v1/orgs/${b.org.id}/api-keys/${key.id}/rotate`,
          headers: bearer(b.owner),
        })
      ).statusCode,
    ).toBe(404);
    expect((await members(a.org.id, key.secret)).statusCode).toBe(200);
  });
});

describe("the member's status", () => {
  it("deactivated with suspendedMemberApiKeys=active (the default): keys keep working while sign-in is blocked", async () => {
    const { owner, org } = await orgWithOwner("billing");
    const admin = await addMember(t, org.id, "admin");
    const key = await mintOk(org.id, admin.session);
    expect((await setStatus(org.id, owner, admin.memberId, "inactive")).statusCode).toBe(200);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(admin.session) })).statusCode).toBe(
      401,
    );
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
    expect((await setStatus(org.id, owner, admin.memberId, "active")).statusCode).toBe(200);
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
  });

  it("deactivated with suspendedMemberApiKeys=paused: keys answer 403 api_key_paused; reactivation restores them", async () => {
    const { owner, org } = await orgWithOwner("billing");
    const patch = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/security`,
      headers: bearer(owner),
      payload: { suspendedMemberApiKeys: "paused" },
    });
    expect(patch.statusCode).toBe(200);
    const admin = await addMember(t, org.id, "admin");
    const key = await mintOk(org.id, admin.session);
    expect((await setStatus(org.id, owner, admin.memberId, "inactive")).statusCode).toBe(200);
    const paused = await members(org.id, key.secret);
    expect(paused.statusCode).toBe(403);
    expect(errorOf(paused)).toMatchObject({ type: "authorization_error", code: "api_key_paused" });
    expect((await setStatus(org.id, owner, admin.memberId, "active")).statusCode).toBe(200);
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
    // The key itself was never revoked.
    expect((await listKeys(org.id, owner)).find((k) => k.id === key.id)?.revokedAt).toBeNull();
  });

  it("switching the setting applies to keys of members already deactivated, both ways", async () => {
    const { owner, org } = await orgWithOwner();
    const admin = await addMember(t, org.id, "admin");
    const key = await mintOk(org.id, admin.session);
    await setStatus(org.id, owner, admin.memberId, "inactive");
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
    await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/security`,
      headers: bearer(owner),
      payload: { suspendedMemberApiKeys: "paused" },
    });
    expect((await members(org.id, key.secret)).statusCode).toBe(403);
    await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/security`,
      headers: bearer(owner),
      payload: { suspendedMemberApiKeys: "active" },
    });
    expect((await members(org.id, key.secret)).statusCode).toBe(200);
  });

  it("removal revokes the member's keys, and restoring the member does not bring them back", async () => {
    const { owner, org } = await orgWithOwner();
    const admin = await addMember(t, org.id, "admin");
    const a = await mintOk(org.id, admin.session, { name: "a" });
    const b = await mintOk(org.id, admin.session, { name: "b" });
    const ownKey = await mintOk(org.id, owner, { name: "owner's" });
    const removed = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/members/${admin.memberId}`,
      headers: bearer(owner),
    });
    expect(removed.statusCode).toBe(200);
    for (const k of [a, b]) {
      const res = await members(org.id, k.secret);
      expect(res.statusCode).toBe(401);
      expect(errorOf(res).code).toBe("api_key_invalid");
    }
    expect((await members(org.id, ownKey.secret)).statusCode).toBe(200);
    const listed = await listKeys(org.id, owner);
    expect(
      listed
        .filter((k) => k.revokedAt !== null)
        .map((k) => k.name)
        .sort(),
    ).toEqual(["a", "b"]);
    const restore = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/members/${admin.memberId}/restore`,
      headers: bearer(owner),
    });
    expect(restore.statusCode).toBe(200);
    expect((await members(org.id, a.secret)).statusCode).toBe(401);
  });
});

describe("asking about another member (subject: { userId })", () => {
  const ask = (auth: Session | string, body: Record<string, unknown>) =>
    t.app.inject({ method: "POST", url: "/v1/authorize", headers: bearer(auth), payload: body });
  const voidFor = (orgId: string, userId: string) => ({
    orgId,
    action: "void",
    resource: { type: "invoice" },
    subject: { userId },
  });

  it("an integration key decides for any member, from the member's current role and status", async () => {
    const { owner, org } = await orgWithOwner("billing");
    const service = await addMember(t, org.id, "customer_service");
    const sales = await addMember(t, org.id, "sales");
    const key = await mintOk(org.id, owner, { name: "backend", permissions: ["authorize:any_member"] });

    const yes = await ask(key.secret, voidFor(org.id, service.userId));
    expect(yes.statusCode, yes.body).toBe(200);
    expect(json(yes)).toMatchObject({ allowed: true, requiredPermission: "invoice:void" });
    expect(json(await ask(key.secret, voidFor(org.id, sales.userId)))).toMatchObject({
      allowed: false,
      requiredPermission: "invoice:void",
    });
    // The narrowed key cannot void itself: it only asks.
    expect(json(await ask(key.secret, { ...voidFor(org.id, service.userId), subject: undefined }))).toMatchObject({
      allowed: false,
    });

    // A suspension is seen by the next question, and so is the reactivation.
    expect((await setStatus(org.id, owner, service.memberId, "inactive")).statusCode).toBe(200);
    expect(json(await ask(key.secret, voidFor(org.id, service.userId)))).toMatchObject({ allowed: false });
    expect((await setStatus(org.id, owner, service.memberId, "active")).statusCode).toBe(200);
    expect(json(await ask(key.secret, voidFor(org.id, service.userId)))).toMatchObject({ allowed: true });

    // A role change too.
    const demoted = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/members/${service.memberId}`,
      headers: bearer(owner),
      payload: { role: "sales" },
    });
    expect(demoted.statusCode, demoted.body).toBe(200);
    expect(json(await ask(key.secret, voidFor(org.id, service.userId)))).toMatchObject({ allowed: false });
  });

  it("needs authorize:any_member; strangers, removed members and other orgs' users answer 404", async () => {
    const { owner, org } = await orgWithOwner("billing");
    const other = await orgWithOwner("billing");
    const service = await addMember(t, org.id, "customer_service");
    const sales = await addMember(t, org.id, "sales");
    const gone = await addMember(t, org.id, "customer_service", { status: "removed" });
    const reader = await mintOk(org.id, owner, { name: "reader", permissions: ["member:read"] });
    const refused = await ask(reader.secret, voidFor(org.id, service.userId));
    expect(refused.statusCode).toBe(403);
    expect(errorOf(refused)).toMatchObject({ code: "permission_denied", requiredPermission: "authorize:any_member" });
    // A member's own session without the permission may not ask about others either.
    const bySales = await ask(sales.session, voidFor(org.id, service.userId));
    expect(bySales.statusCode).toBe(403);
    // Asking about oneself is the plain question.
    expect(json(await ask(sales.session, voidFor(org.id, sales.userId)))).toMatchObject({ allowed: false });

    const key = await mintOk(org.id, owner, { name: "backend", permissions: ["authorize:any_member"] });
    for (const userId of [gone.userId, other.owner.user.id, "usr_00000000000000000000000000"]) {
      const res = await ask(key.secret, voidFor(org.id, userId));
      expect(res.statusCode, userId).toBe(404);
      expect(errorOf(res).code).toBe("not_found");
    }
    // The key's org only: another org's id is 404 as before.
    expect((await ask(key.secret, voidFor(other.org.id, other.owner.user.id))).statusCode).toBe(404);
    // The subject is named by id only: a role or stores in it are refused, not believed.
    const bad = await ask(key.secret, {
      ...voidFor(org.id, sales.userId),
      subject: { userId: sales.userId, role: "owner" },
    });
    expect(bad.statusCode).toBe(400);
  });
});
