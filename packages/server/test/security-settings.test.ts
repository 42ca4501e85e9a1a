import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  bearer,
  createOrg,
  GOOD_PASSWORD,
  json,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { enrolTotp } from "./security.helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

type ErrorBody = { error: { type: string; code: string; param?: string; requiredPermission?: string } };
const errorOf = (res: { json: <T>() => T }) => res.json<ErrorBody>().error;

interface Security {
  requireMfa: boolean;
  allowedFactors: string[];
  sessionIdleMinutes: number | null;
  sessionMaxHours: number | null;
  suspendedMemberApiKeys: "active" | "paused";
  allowedEmailDomains: string[];
  invitationLifetimeHours: number;
  accessReviewEveryDays: number | null;
}

const getSecurity = (orgId: string, s: Session | string) =>
  t.app.inject({ url: `/v1/orgs/${orgId}/security`, headers: bearer(s) });
const patchSecurity = (orgId: string, s: Session | string, body: unknown) =>
  t.app.inject({
    method: "PATCH",
    url: `/v1/orgs/${orgId}/security`,
    headers: bearer(s),
    payload: body as Record<string, unknown>,
  });
const securityEvents = async (orgId: string, s: Session) =>
  json<{
    data: Array<{
      action: string;
      actorId: string;
      targetId: string;
      entityType: string;
      before: Record<string, unknown>;
      after: Record<string, unknown>;
    }>;
  }>(await t.app.inject({ url: `/v1/orgs/${orgId}/audit-events?action=security.updated`, headers: bearer(s) })).data;

async function orgWithOwner(policy = "saas") {
  const owner = await signUp(t.app);
  const org = await createOrg(t.app, owner, policy);
  return { owner, org };
}

describe("GET/PATCH /v1/orgs/{orgId}/security", () => {
  it("answers the defaults, with the preset's invitation lifetime", async () => {
    const { owner, org } = await orgWithOwner();
    const res = await getSecurity(org.id, owner);
    expect(res.statusCode).toBe(200);
    expect(json<Security>(res)).toEqual({
      requireMfa: false,
      allowedFactors: ["totp"],
      sessionIdleMinutes: null,
      sessionMaxHours: null,
      suspendedMemberApiKeys: "active",
      allowedEmailDomains: [],
      invitationLifetimeHours: 72,
      accessReviewEveryDays: null,
    });
    const ops = await orgWithOwner("operations");
    expect(json<Security>(await getSecurity(ops.org.id, ops.owner)).invitationLifetimeHours).toBe(168);
  });

  it("changes only the fields sent, and records security.updated with the before and after of those fields", async () => {
    const { owner, org } = await orgWithOwner();
    const res = await patchSecurity(org.id, owner, {
      sessionIdleMinutes: 30,
      suspendedMemberApiKeys: "paused",
      allowedEmailDomains: ["Example.COM", " example.org ", "example.com"],
      invitationLifetimeHours: 24,
    });
    expect(res.statusCode).toBe(200);
    const after = json<Security>(res);
    expect(after).toMatchObject({
      sessionIdleMinutes: 30,
      sessionMaxHours: null,
      suspendedMemberApiKeys: "paused",
      allowedEmailDomains: ["example.com", "example.org"],
      invitationLifetimeHours: 24,
      requireMfa: false,
    });
    expect(json<Security>(await getSecurity(org.id, owner))).toEqual(after);

    const events = await securityEvents(org.id, owner);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actorId: owner.user.id,
      targetId: org.id,
      entityType: "security",
      before: {
        sessionIdleMinutes: null,
        suspendedMemberApiKeys: "active",
        allowedEmailDomains: [],
        invitationLifetimeHours: 72,
      },
      after: {
        sessionIdleMinutes: 30,
        suspendedMemberApiKeys: "paused",
        allowedEmailDomains: ["example.com", "example.org"],
        invitationLifetimeHours: 24,
      },
    });
    expect(Object.keys(events[0]!.after).sort()).toEqual([
      "allowedEmailDomains",
      "invitationLifetimeHours",
      "sessionIdleMinutes",
      "suspendedMemberApiKeys",
    ]);

    // A second change records only what it changed; a change to the same values records nothing.
    await patchSecurity(org.id, owner, { sessionIdleMinutes: 30, sessionMaxHours: 12 });
    await patchSecurity(org.id, owner, { sessionMaxHours: 12 });
    const all = await securityEvents(org.id, owner);
    expect(all).toHaveLength(2);
    const latest = all.find((e) => "sessionMaxHours" in e.after);
    expect(latest).toMatchObject({ before: { sessionMaxHours: null }, after: { sessionMaxHours: 12 } });
    expect(Object.keys(latest!.after)).toEqual(["sessionMaxHours"]);

    // null returns to the installation default.
    expect(json<Security>(await patchSecurity(org.id, owner, { sessionMaxHours: null })).sessionMaxHours).toBeNull();
  });

  it.each([
    ["an empty body", {}],
    ["an unknown field", { requireMFA: true }],
    ["a string for a boolean", { requireMfa: "yes please" }],
    ["an idle limit under 5 minutes", { sessionIdleMinutes: 1 }],
    ["a fractional idle limit", { sessionIdleMinutes: 7.5 }],
    ["a max age of 0 hours (not the same as null)", { sessionMaxHours: 0 }],
    ["an idle limit of 0 minutes", { sessionIdleMinutes: 0 }],
    ["false as a limit", { sessionIdleMinutes: false }],
    ["a max age over a year", { sessionMaxHours: 365 * 24 + 1 }],
    ["an unknown factor", { allowedFactors: ["sms"] }],
    ["no factor at all", { allowedFactors: [] }],
    ["an unknown key mode", { suspendedMemberApiKeys: "off" }],
    ["a domain that is not one", { allowedEmailDomains: ["not a domain"] }],
    ["an address instead of a domain", { allowedEmailDomains: ["ann@example.com"] }],
    ["an invitation lifetime of 0", { invitationLifetimeHours: 0 }],
    ["an invitation lifetime over 30 days", { invitationLifetimeHours: 30 * 24 + 1 }],
    ["an access review every 0 days", { accessReviewEveryDays: 0 }],
    ["an access review every 2 years", { accessReviewEveryDays: 731 }],
    ["an array body", [{ requireMfa: true }]],
  ])("refuses %s with 400 and changes nothing", async (_label, body) => {
    const { owner, org } = await orgWithOwner();
    const res = await patchSecurity(org.id, owner, body);
    expect(res.statusCode).toBe(400);
    expect(errorOf(res).type).toBe("invalid_request_error");
    expect(await securityEvents(org.id, owner)).toHaveLength(0);
  });

  it("needs security:read to read and security:update plus a session to change; another org answers 404", async () => {
    const { owner, org } = await orgWithOwner();
    const member = await addMember(t, org.id, "member");
    const read = await getSecurity(org.id, member.session);
    expect(read.statusCode).toBe(403);
    expect(errorOf(read)).toMatchObject({ code: "permission_denied", requiredPermission: "security:read" });
    const write = await patchSecurity(org.id, member.session, { sessionIdleMinutes: 30 });
    expect(write.statusCode).toBe(403);
    expect(errorOf(write)).toMatchObject({ code: "permission_denied", requiredPermission: "security:update" });

    const admin = await addMember(t, org.id, "admin");
    expect((await patchSecurity(org.id, admin.session, { sessionIdleMinutes: 45 })).statusCode).toBe(200);
    const key = json<{ secret: string }>(
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org.id}/api-keys`,
        headers: bearer(owner),
        payload: { name: "k" },
      }),
    ).secret;
    expect((await getSecurity(org.id, key)).statusCode).toBe(200);
    const byKey = await patchSecurity(org.id, key, { sessionIdleMinutes: 60 });
    expect(byKey.statusCode).toBe(403);
    expect(errorOf(byKey).code).toBe("api_key_not_allowed");

    const other = await orgWithOwner();
    expect((await getSecurity(other.org.id, owner)).statusCode).toBe(404);
    expect((await patchSecurity(other.org.id, owner, { sessionIdleMinutes: 30 })).statusCode).toBe(404);
  });

  it("requireMfa can be turned on by an enrolled admin and is audited", async () => {
    const { owner, org } = await orgWithOwner();
    await enrolTotp(t, owner);
    const res = await patchSecurity(org.id, owner, { requireMfa: true });
    expect(res.statusCode).toBe(200);
    expect(json<Security>(res).requireMfa).toBe(true);
    const [event] = await securityEvents(org.id, owner);
    expect(event).toMatchObject({ before: { requireMfa: false }, after: { requireMfa: true } });
  });
});

describe("session limits of the org", () => {
  const signIn = async (email: string, userAgent = "vitest") => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email, password: GOOD_PASSWORD },
      headers: { "user-agent": userAgent },
    });
    expect(res.statusCode).toBe(200);
    return json<Session>(res);
  };

  it("sessionIdleMinutes ends a session left idle that long on the org's routes; activity keeps it alive", async () => {
    const { owner, org } = await orgWithOwner();
    const member = await addMember(t, org.id, "member");
    await patchSecurity(org.id, owner, { sessionIdleMinutes: 30 });
    const s = await signIn(member.session.user.email);
    const use = () => t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(s) });
    for (let i = 0; i < 4; i++) {
      t.clock.advance(20 * 60_000);
      expect((await use()).statusCode, `after ${(i + 1) * 20} active minutes`).toBe(200);
    }
    t.clock.advance(30 * 60_000);
    const idle = await use();
    expect(idle.statusCode).toBe(401);
    expect(errorOf(idle).code).toBe("session_expired");
    // Ended for good, not just refused on this org's routes.
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(401);
  });

  it("sessionMaxHours ends a session that old however active it is", async () => {
    const { owner, org } = await orgWithOwner();
    const member = await addMember(t, org.id, "member");
    await patchSecurity(org.id, owner, { sessionMaxHours: 2 });
    const s = await signIn(member.session.user.email);
    const use = () => t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(s) });
    for (let i = 0; i < 5; i++) {
      t.clock.advance(20 * 60_000);
      expect((await use()).statusCode).toBe(200);
    }
    t.clock.advance(20 * 60_000);
    const old = await use();
    expect(old.statusCode).toBe(401);
    expect(errorOf(old).code).toBe("session_expired");
  });

  it("without org limits, the installation's idle limit (24 h) still applies", async () => {
    const { org } = await orgWithOwner();
    const member = await addMember(t, org.id, "member");
    const s = await signIn(member.session.user.email);
    t.clock.advance(23 * 3_600_000);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(s) })).statusCode).toBe(200);
    t.clock.advance(24 * 3_600_000);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(s) })).statusCode).toBe(401);
  });
});
