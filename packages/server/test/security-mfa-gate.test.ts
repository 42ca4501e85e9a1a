import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  bearer,
  createOrg,
  GOOD_PASSWORD,
  json,
  signUp,
  testApp,
  uniqueEmail,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { deliverMail, lastMailTo, tokenIn } from "./members.helpers.ts";
import { codeAt, enrolTotp } from "./security.helpers.ts";
import { members } from "../src/db/schema.ts";
import { newId } from "../src/lib/ids.ts";

/**
 * Org-wide MFA: with requireMfa on, a member without a factor reaches only enrolment and sign-out (plus
 * GET /v1/me, which tells a client where to send them; docs/decisions/0004-mfa-api-keys-and-org-security.md).
 * The route list comes from the app's own OpenAPI document, so a route added later is covered automatically.
 */
let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

type Operation = { security?: unknown[] };
type ErrorBody = { error: { type: string; code: string } };

const ENROLMENT_AND_SIGN_OUT = new Set([
  "GET /v1/me",
  "GET /v1/me/mfa",
  "POST /v1/me/mfa/totp",
  "POST /v1/me/mfa/totp/confirm",
  "DELETE /v1/me/mfa/totp",
  "POST /v1/auth/sign-out",
]);

async function operations(): Promise<Array<{ method: string; path: string; public: boolean }>> {
  const doc = json<{ paths: Record<string, Record<string, Operation>> }>(await t.app.inject({ url: "/openapi.json" }));
  const out: Array<{ method: string; path: string; public: boolean }> = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops))
      out.push({ method: method.toUpperCase(), path, public: op.security !== undefined && op.security.length === 0 });
  }
  return out;
}

/**
 * Calls every authenticated operation of /openapi.json but the `open` ones with `session` (path ids filled in,
 * unknown ones made up) and lists those that do not answer 403 `code`.
 */
async function ungated(
  session: Session,
  code: string,
  open: Set<string>,
  ids: { orgId: string; memberId: string },
): Promise<string[]> {
  const fill = (path: string) =>
    path
      .replace("{orgId}", ids.orgId)
      .replace("{memberId}", ids.memberId)
      .replace(/\{[A-Za-z]+\}/g, "x_unknown");
  const ops = await operations();
  expect(ops.length).toBeGreaterThan(30);
  const notGated: string[] = [];
  let checked = 0;
  for (const op of ops) {
    const name = `${op.method} ${op.path}`;
    if (op.public || open.has(name)) continue;
    const res = await t.app.inject({
      method: op.method as "GET",
      url: fill(op.path),
      headers: bearer(session),
      ...(op.method === "GET" ? {} : { payload: {} }),
    });
    checked++;
    const body = res.json<Partial<ErrorBody>>();
    if (res.statusCode !== 403 || body.error?.code !== code || body.error.type !== "authorization_error") {
      notGated.push(`${name} → ${res.statusCode} ${body.error?.code ?? ""}`);
    }
  }
  expect(checked).toBeGreaterThan(25);
  return notGated;
}

async function setSecurity(owner: Session, orgId: string, patch: Record<string, unknown>) {
  const res = await t.app.inject({
    method: "PATCH",
    url: `/v1/orgs/${orgId}/security`,
    headers: bearer(owner),
    payload: patch,
  });
  expect(res.statusCode, res.body).toBe(200);
}

describe("requireMfa", () => {
  it("a member without a factor gets 403 mfa_enrollment_required on every route but enrolment and sign-out, until enrolled", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    await enrolTotp(t, owner);
    const staff = await addMember(t, org.id, "admin");
    await setSecurity(owner, org.id, { requireMfa: true });

    // Signing in still works: the password is right and there is no factor to ask for.
    const signIn = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: staff.session.user.email, password: GOOD_PASSWORD },
    });
    expect(signIn.statusCode).toBe(200);
    const gated = json<Session>(signIn);
    expect(gated.token).toMatch(/^rs_/);

    expect(
      await ungated(gated, "mfa_enrollment_required", ENROLMENT_AND_SIGN_OUT, {
        orgId: org.id,
        memberId: staff.memberId,
      }),
    ).toEqual([]);

    // Public routes that take an optional session do not let a gated session act there either.
    const accept = await t.app.inject({
      method: "POST",
      url: "/v1/invitations/inv_unknown/accept",
      headers: bearer(gated),
      payload: {},
    });
    expect(accept.statusCode).toBe(403);
    expect(accept.json<ErrorBody>().error.code).toBe("mfa_enrollment_required");

    // What is left open works: who am I, enrolment status, enrolment.
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(gated) })).statusCode).toBe(200);
    expect(json<{ totp: string }>(await t.app.inject({ url: "/v1/me/mfa", headers: bearer(gated) })).totp).toBe("none");
    const start = await t.app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(gated) });
    expect(start.statusCode).toBe(200);
    // Half-way through enrolment is still gated.
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(gated) })).statusCode).toBe(403);
    const confirm = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(gated),
      payload: { code: codeAt(json<{ secret: string }>(start).secret, t.clock.now()) },
    });
    expect(confirm.statusCode).toBe(200);

    // Enrolled: the same session reaches the rest at once.
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(gated) })).statusCode).toBe(200);
    expect((await t.app.inject({ url: "/v1/me/sessions", headers: bearer(gated) })).statusCode).toBe(200);
  });

  it("a session signed in before the factor was set up elsewhere gets 403 mfa_required everywhere but who-am-I and sign-out", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    const other = await createOrg(t.app, owner, "saas", "No MFA here");
    const member = await addMember(t, org.id, "admin");
    // A second device signed in with the password alone, before any factor existed.
    const signIn = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: member.session.user.email, password: GOOD_PASSWORD },
    });
    const earlier = json<Session>(signIn);
    expect(earlier.token).toMatch(/^rs_/);
    // The factor is set up on the first device, which thereby counts as verified.
    const { secret } = await enrolTotp(t, member.session);
    await enrolTotp(t, owner);
    // Without requireMfa nothing changes for the earlier session.
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(earlier) })).statusCode).toBe(200);
    await setSecurity(owner, org.id, { requireMfa: true });

    const open = new Set(["GET /v1/me", "GET /v1/me/mfa", "POST /v1/auth/sign-out"]);
    expect(await ungated(earlier, "mfa_required", open, { orgId: org.id, memberId: member.memberId })).toEqual([]);
    // Removing the factor from there would get around it: refused too, even with the password.
    const remove = await t.app.inject({
      method: "DELETE",
      url: "/v1/me/mfa/totp",
      headers: bearer(earlier),
      payload: { password: GOOD_PASSWORD },
    });
    expect(remove.json<ErrorBody>().error.code).toBe("mfa_required");
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(earlier) })).statusCode).toBe(200);
    // The device that confirmed the factor, and a new sign-in that shows it, work.
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(member.session) })).statusCode,
    ).toBe(200);
    const again = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: member.session.user.email, password: GOOD_PASSWORD },
    });
    const { challengeId } = json<{ mfaRequired: boolean; challengeId: string }>(again);
    const verified = await t.app.inject({
      method: "POST",
      url: "/v1/auth/mfa/verify",
      payload: { challengeId, code: codeAt(secret, t.clock.now()) },
    });
    expect(verified.statusCode).toBe(200);
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(json<Session>(verified)) })).statusCode,
    ).toBe(200);
    // Turning requireMfa off lifts it; the owner's other org never had it.
    expect((await t.app.inject({ url: `/v1/orgs/${other.id}`, headers: bearer(owner) })).statusCode).toBe(200);
    await setSecurity(owner, org.id, { requireMfa: false });
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(earlier) })).statusCode).toBe(200);
  });

  it("a new invitee joins, and must enrol before anything else (seed 004: before finishing onboarding)", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    await enrolTotp(t, owner);
    await setSecurity(owner, org.id, { requireMfa: true });
    const email = uniqueEmail("invitee");
    const invited = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/invitations`,
      headers: bearer(owner),
      payload: { email, role: "staff" },
    });
    expect(invited.statusCode).toBe(201);
    await deliverMail(t);
    const accept = await t.app.inject({
      method: "POST",
      url: `/v1/invitations/${tokenIn(lastMailTo(t, email))}/accept`,
      payload: { name: "New Person", password: GOOD_PASSWORD },
    });
    expect(accept.statusCode).toBe(200);
    const session = json<Session>(accept);
    const res = await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(session) });
    expect(res.statusCode).toBe(403);
    expect(res.json<ErrorBody>().error.code).toBe("mfa_enrollment_required");
    await enrolTotp(t, session);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(session) })).statusCode).toBe(200);
  });

  it("sign-out stays open to a gated session", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    await enrolTotp(t, owner);
    const member = await addMember(t, org.id, "member");
    await setSecurity(owner, org.id, { requireMfa: true });
    const out = await t.app.inject({ method: "POST", url: "/v1/auth/sign-out", headers: bearer(member.session) });
    expect(out.statusCode).toBe(204);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(member.session) })).statusCode).toBe(401);
  });

  it("removing one's factor in such an org sends one back to enrolment; turning requireMfa off lifts the gate", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    await enrolTotp(t, owner);
    const member = await addMember(t, org.id, "member");
    await enrolTotp(t, member.session);
    await setSecurity(owner, org.id, { requireMfa: true });
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(member.session) })).statusCode,
    ).toBe(200);
    const removed = await t.app.inject({
      method: "DELETE",
      url: "/v1/me/mfa/totp",
      headers: bearer(member.session),
      payload: { password: GOOD_PASSWORD },
    });
    expect(removed.statusCode).toBe(200);
    const gated = await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(member.session) });
    expect(gated.statusCode).toBe(403);
    expect(gated.json<ErrorBody>().error.code).toBe("mfa_enrollment_required");
    await setSecurity(owner, org.id, { requireMfa: false });
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(member.session) })).statusCode,
    ).toBe(200);
  });

  it("does not gate members of other orgs, nor deactivated memberships", async () => {
    const owner = await signUp(t.app);
    const strict = await createOrg(t.app, owner, "saas", "Strict");
    await enrolTotp(t, owner);
    await setSecurity(owner, strict.id, { requireMfa: true });
    const other = await signUp(t.app);
    const relaxed = await createOrg(t.app, other, "saas", "Relaxed");
    expect((await t.app.inject({ url: `/v1/orgs/${relaxed.id}/members`, headers: bearer(other) })).statusCode).toBe(
      200,
    );
    // Deactivated in the strict org: nothing there to protect, so the other org is not gated.
    const now = t.clock.now();
    await t.db.tx({ orgId: strict.id, userId: other.user.id }, (tx) =>
      tx.insert(members).values({
        orgId: strict.id,
        id: newId("mem"),
        userId: other.user.id,
        role: "member",
        status: "inactive",
        department: null,
        secondaryEmail: null,
        storeIds: [],
        hiddenModules: [],
        invitedBy: null,
        createdAt: now,
        updatedAt: now,
        removedAt: null,
      }),
    );
    expect((await t.app.inject({ url: `/v1/orgs/${relaxed.id}/members`, headers: bearer(other) })).statusCode).toBe(
      200,
    );
  });

  it("turning it on needs the caller to have a factor (otherwise they would lock themselves out)", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const res = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/security`,
      headers: bearer(owner),
      payload: { requireMfa: true },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ error: { code: string; param: string } }>().error).toMatchObject({
      code: "invalid_value",
      param: "requireMfa",
    });
  });
});
