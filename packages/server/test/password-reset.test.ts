// Password reset: admin-triggered and self-service, through the HTTP API and the emailed link.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret, TOTP } from "otpauth";
import {
  addMember,
  bearer,
  createOrg,
  json,
  signUp,
  testApp,
  uniqueEmail,
  GOOD_PASSWORD,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { api, deliverMail, eventsOf, lastMailTo, tokenIn, type ErrorJson } from "./members.helpers.ts";
import { FORGOT_LIMITS, RESET_LIFETIME_MINUTES } from "../src/auth/password-reset.ts";

let t: TestApp;
let owner: Session;
let orgId: string;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app, uniqueEmail("pw-owner"), "Owner");
  orgId = (await createOrg(t.app, owner, "operations", "Reset Co")).id;
});
afterAll(async () => t.close());

const NEW_PASSWORD = "a completely new passphrase";
const signIn = (email: string, password: string) =>
  t.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: { email, password } });
const forgot = (email: string) =>
  t.app.inject({ method: "POST", url: "/v1/auth/password/forgot", payload: { email }, remoteAddress: "10.0.0.7" });
const reset = (token: string, password = NEW_PASSWORD) =>
  t.app.inject({ method: "POST", url: "/v1/auth/password/reset", payload: { token, password } });

async function linkFor(email: string): Promise<string> {
  await deliverMail(t);
  return tokenIn(lastMailTo(t, email));
}

describe("self-service (forgot → reset)", () => {
  it("answers the same 202 for a known and an unknown email, and mails only the known one", async () => {
    const user = await signUp(t.app, uniqueEmail("known"));
    const known = await forgot(user.user.email);
    const unknown = await forgot(uniqueEmail("nobody"));
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    const mails = await deliverMail(t);
    expect(mails.map((m) => m.to)).toEqual([user.user.email]);
    expect(mails[0]!.text).toContain(`http://127.0.0.1:4000/reset-password?token=rp_`);
    expect(mails[0]!.html).toContain("reset-password?token=rp_");
  });

  it("sets the password once: the link is single use, the old password stops working, the new one works", async () => {
    const user = await signUp(t.app, uniqueEmail("once"));
    await forgot(user.user.email);
    const token = await linkFor(user.user.email);
    const done = await reset(token);
    expect(done.statusCode).toBe(200);
    const again = await reset(token, "yet another passphrase");
    expect(again.statusCode).toBe(400);
    expect(json<ErrorJson>(again).error).toMatchObject({ type: "invalid_request_error", code: "reset_token_invalid" });
    expect((await signIn(user.user.email, GOOD_PASSWORD)).statusCode).toBe(401);
    expect((await signIn(user.user.email, NEW_PASSWORD)).statusCode).toBe(200);
  });

  it("ends every session of the user", async () => {
    const user = await signUp(t.app, uniqueEmail("sessions"));
    const other = json<Session>(await signIn(user.user.email, GOOD_PASSWORD));
    expect((await api(t).get(user, "/v1/me")).statusCode).toBe(200);
    await forgot(user.user.email);
    expect((await reset(await linkFor(user.user.email))).statusCode).toBe(200);
    for (const s of [user, other]) expect((await api(t).get(s, "/v1/me")).statusCode).toBe(401);
  });

  it("expires after its lifetime, and only the newest link works", async () => {
    const user = await signUp(t.app, uniqueEmail("expiry"));
    await forgot(user.user.email);
    const first = await linkFor(user.user.email);
    await forgot(user.user.email);
    const second = await linkFor(user.user.email);
    expect(second).not.toBe(first);
    expect((await reset(first)).statusCode).toBe(400);
    t.clock.advance(RESET_LIFETIME_MINUTES * 60_000 + 1000);
    expect((await reset(second)).statusCode).toBe(400);
  });

  it("a weak password is refused without spending the link", async () => {
    const user = await signUp(t.app, uniqueEmail("weak"));
    await forgot(user.user.email);
    const token = await linkFor(user.user.email);
    const weak = await reset(token, "password");
    expect(weak.statusCode).toBe(422);
    expect(json<ErrorJson>(weak).error.code).toBe("password_too_common");
    expect((await reset(token, "short")).statusCode).toBe(422);
    expect((await reset(token)).statusCode).toBe(200);
  });

  it("an unknown or malformed token is the same 400", async () => {
    for (const token of ["rp_notarealtoken", "garbage"]) {
      const res = await reset(token);
      expect(res.statusCode).toBe(400);
      expect(json<ErrorJson>(res).error.code).toBe("reset_token_invalid");
    }
  });

  it("throttles silently per account: past the limit the answer is the same 202 and no mail is sent", async () => {
    const user = await signUp(t.app, uniqueEmail("throttle"));
    await deliverMail(t);
    for (let i = 0; i < FORGOT_LIMITS.perAccount.max + 2; i++)
      expect((await forgot(user.user.email)).statusCode).toBe(202);
    const mails = (await deliverMail(t)).filter((m) => m.to === user.user.email);
    expect(mails).toHaveLength(FORGOT_LIMITS.perAccount.max);
  });

  it("does not bypass MFA: after a reset, a user with TOTP still gets the MFA challenge", async () => {
    const user = await signUp(t.app, uniqueEmail("mfa"));
    const start = json<{ secret: string }>(
      await t.app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(user) }),
    );
    const totp = new TOTP({ algorithm: "SHA1", digits: 6, period: 30, secret: Secret.fromBase32(start.secret) });
    const confirm = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(user),
      payload: { code: totp.generate({ timestamp: t.clock.now().getTime() }) },
    });
    expect(confirm.statusCode).toBe(200);
    t.clock.advance(30_000);

    await forgot(user.user.email);
    const done = await reset(await linkFor(user.user.email));
    expect(done.statusCode).toBe(200);
    // The reset answer does not sign in.
    expect(json<Record<string, unknown>>(done).token).toBeUndefined();
    expect(done.cookies.find((c) => c.name === "roster_session" && c.value)).toBeUndefined();

    const res = await signIn(user.user.email, NEW_PASSWORD);
    expect(res.statusCode).toBe(200);
    const body = json<{ mfaRequired?: boolean; challengeId?: string; token?: string }>(res);
    expect(body.mfaRequired).toBe(true);
    expect(body.token).toBeUndefined();
    const verified = await t.app.inject({
      method: "POST",
      url: "/v1/auth/mfa/verify",
      payload: { challengeId: body.challengeId, code: totp.generate({ timestamp: t.clock.now().getTime() }) },
    });
    expect(verified.statusCode).toBe(200);
    expect(json<{ token: string }>(verified).token).toBeTruthy();
  });
});

describe("admin-triggered", () => {
  it("an admin emails an active member a link; the admin sees neither token nor password; the member's sessions end on completion", async () => {
    const admin = await addMember(t, orgId, "admin");
    const staff = await addMember(t, orgId, "staff");
    const res = await api(t).post(admin.session, `/v1/orgs/${orgId}/members/${staff.memberId}/password-reset`);
    expect(res.statusCode).toBe(202);
    expect(Object.keys(json(res)).sort()).toEqual(["expiresAt", "message"]);
    expect(res.body).not.toMatch(/rp_/);
    const mail = (await deliverMail(t)).find((m) => m.to === staff.session.user.email)!;
    expect(mail.text).toContain("An administrator of Reset Co");
    const token = tokenIn(mail);
    // Not in the admin's view of the audit log either.
    const audit = await api(t).get(
      admin.session,
      `/v1/orgs/${orgId}/audit-events?action=team.password_reset_requested`,
    );
    expect(audit.statusCode).toBe(200);
    expect(audit.body).not.toContain(token);
    const ev = (await eventsOf(t, orgId)).find(
      (e) => e.action === "team.password_reset_requested" && e.targetId === staff.memberId,
    );
    expect(ev).toMatchObject({ actorId: admin.userId, entityType: "team" });

    expect((await reset(token)).statusCode).toBe(200);
    expect((await api(t).get(staff.session, `/v1/orgs/${orgId}`)).statusCode).toBe(401);
    expect((await signIn(staff.session.user.email, NEW_PASSWORD)).statusCode).toBe(200);
    expect((await reset(token)).statusCode).toBe(400);
  });

  it("is decided by the policy: staff may not, and an admin may not reset an owner's password", async () => {
    const staff = await addMember(t, orgId, "staff");
    const target = await addMember(t, orgId, "read_only");
    const byStaff = await api(t).post(staff.session, `/v1/orgs/${orgId}/members/${target.memberId}/password-reset`);
    expect(byStaff.statusCode).toBe(403);
    expect(json<ErrorJson>(byStaff).error).toMatchObject({
      type: "authorization_error",
      requiredPermission: "member:reset_password",
    });
    const admin = await addMember(t, orgId, "admin");
    const ownerMember = json<{ data: Array<{ id: string }> }>(
      await api(t).get(admin.session, `/v1/orgs/${orgId}/members?role=owner`),
    ).data[0]!;
    const onOwner = await api(t).post(admin.session, `/v1/orgs/${orgId}/members/${ownerMember.id}/password-reset`);
    expect(onOwner.statusCode).toBe(403);
    expect(json<ErrorJson>(onOwner).error.type).toBe("authorization_error");
  });

  it("another org's member id answers 404; an inactive member answers 409", async () => {
    const stranger = await signUp(t.app);
    const other = await createOrg(t.app, stranger, "saas");
    expect((await api(t).post(owner, `/v1/orgs/${orgId}/members/${other.memberId}/password-reset`)).statusCode).toBe(
      404,
    );
    const off = await addMember(t, orgId, "staff", { status: "inactive" });
    const res = await api(t).post(owner, `/v1/orgs/${orgId}/members/${off.memberId}/password-reset`);
    expect(res.statusCode).toBe(409);
    expect(json<ErrorJson>(res).error.type).toBe("conflict_error");
  });
});
