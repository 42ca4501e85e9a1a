import QRCode from "qrcode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  bearer,
  createOrg,
  engine,
  GOOD_PASSWORD,
  json,
  signUp,
  testApp,
  uniqueEmail,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { base32Decode, base32Encode, codeAt, referenceTotp } from "./security.helpers.ts";
import { matchTotp, newTotpSecret, otpauthUrl, timeStep, totpCode, TOTP_PERIOD_SECONDS } from "../src/mfa/totp.ts";

const RFC_SECRET_ASCII = "12345678901234567890";
const RFC_VECTORS: Array<[number, string]> = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

describe("TOTP against RFC 6238", () => {
  const secret = base32Encode(Buffer.from(RFC_SECRET_ASCII, "ascii"));

  it("the reference implementation reproduces Appendix B (SHA-1)", () => {
    for (const [t, code] of RFC_VECTORS) expect(referenceTotp(Buffer.from(RFC_SECRET_ASCII, "ascii"), t, 8)).toBe(code);
  });

  it.each(RFC_VECTORS)("mfa/totp.ts gives the 8-digit vector at T=%i", (t, code) => {
    expect(secret).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    expect(totpCode(secret, new Date(t * 1000), { digits: 8 })).toBe(code);
  });

  it.each(RFC_VECTORS)("mfa/totp.ts gives the 6-digit truncation at T=%i and accepts it", (t, code) => {
    const six = code.slice(-6);
    const at = new Date(t * 1000);
    expect(totpCode(secret, at)).toBe(six);
    expect(matchTotp(secret, six, at)).toBe(timeStep(at));
  });

  it("accepts codes of an independent implementation at ±1 step and refuses ±2", () => {
    for (let i = 0; i < 20; i++) {
      const s = newTotpSecret();
      expect(base32Decode(s)).toHaveLength(20);
      const at = new Date(Date.UTC(2026, 0, 1) + i * 7_919_000);
      const step = timeStep(at);
      expect(matchTotp(s, codeAt(s, at, 0), at)).toBe(step);
      expect(matchTotp(s, codeAt(s, at, -1), at)).toBe(step - 1);
      expect(matchTotp(s, codeAt(s, at, 1), at)).toBe(step + 1);
      // A ±2 code may coincide with a code inside the window (1 in 10^6 per step); then it is that code.
      for (const off of [-2, 2, 5]) {
        const c = codeAt(s, at, off);
        if (![-1, 0, 1].some((w) => codeAt(s, at, w) === c)) expect(matchTotp(s, c, at)).toBeNull();
      }
    }
  });

  it("refuses malformed codes", () => {
    const s = newTotpSecret();
    const at = new Date();
    for (const bad of ["", "12345", "1234567", "abcdef", ` ${codeAt(s, at)}`, "12 456"])
      expect(matchTotp(s, bad, at)).toBeNull();
  });

  it("builds an otpauth URI an authenticator app reads", () => {
    const url = new URL(otpauthUrl("JBSWY3DPEHPK3PXP", "ann@example.com", "Roster"));
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(decodeURIComponent(url.pathname)).toBe("/Roster:ann@example.com");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      secret: "JBSWY3DPEHPK3PXP",
      issuer: "Roster",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Over HTTP
// ---------------------------------------------------------------------------------------------------------

let t: TestApp;
beforeAll(async () => {
  // The concurrency test signs one account in 50 times; throttling has its own tests in auth.test.ts.
  t = await testApp({
    signInLimits: { perAccount: { max: 1000, windowSeconds: 900 }, perIp: { max: 1000, windowSeconds: 300 } },
  });
});
afterAll(async () => t.close());

type ErrorBody = { error: { type: string; code: string; message: string; param?: string } };
const errorOf = (res: { json: () => unknown }) => (res.json() as ErrorBody).error;

interface Enrolled {
  session: Session;
  secret: string;
  recoveryCodes: string[];
}

async function startEnrolment(s: Session) {
  const res = await t.app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(s) });
  expect(res.statusCode).toBe(200);
  return json<{ otpauthUrl: string; secret: string; qrCode: string }>(res);
}

async function enrol(s?: Session): Promise<Enrolled> {
  const session = s ?? (await signUp(t.app));
  const { secret } = await startEnrolment(session);
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/me/mfa/totp/confirm",
    headers: bearer(session),
    payload: { code: codeAt(secret, t.clock.now()) },
  });
  expect(res.statusCode).toBe(200);
  // The confirming code spent this step; move on so the next code is a fresh one.
  t.clock.advance(TOTP_PERIOD_SECONDS * 1000);
  return { session, secret, recoveryCodes: json<{ recoveryCodes: string[] }>(res).recoveryCodes };
}

const signIn = (email: string, password = GOOD_PASSWORD) =>
  t.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: { email, password } });

async function challenge(email: string): Promise<string> {
  const res = await signIn(email);
  expect(res.statusCode).toBe(200);
  const body = json<{ mfaRequired: boolean; challengeId: string; token?: string }>(res);
  expect(body.mfaRequired).toBe(true);
  expect(body.token).toBeUndefined();
  return body.challengeId;
}

const verify = (challengeId: string, code: string) =>
  t.app.inject({ method: "POST", url: "/v1/auth/mfa/verify", payload: { challengeId, code } });

const mfaStatus = async (s: Session | string) =>
  json<{ totp: string; recoveryCodesLeft: number }>(await t.app.inject({ url: "/v1/me/mfa", headers: bearer(s) }));

describe("enrolment", () => {
  it("answers an otpauth URI, the base32 secret and a QR image; nothing changes until confirmed", async () => {
    const s = await signUp(t.app);
    const e = await startEnrolment(s);
    const url = new URL(e.otpauthUrl);
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(url.searchParams.get("secret")).toBe(e.secret);
    expect(url.searchParams.get("issuer")).toBe("Roster");
    expect(decodeURIComponent(url.pathname)).toBe(`/Roster:${s.user.email}`);
    expect(e.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(e.qrCode).toMatch(/^data:image\/png;base64,/);
    const png = Buffer.from(e.qrCode.slice("data:image/png;base64,".length), "base64");
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.length).toBeGreaterThan(500);
    // The image encodes the URI itself (QR encoding is deterministic for the same content and options).
    expect(e.qrCode).toBe(await QRCode.toDataURL(e.otpauthUrl, { errorCorrectionLevel: "M", margin: 2, width: 240 }));
    expect(e.qrCode).not.toBe(await QRCode.toDataURL(e.secret, { errorCorrectionLevel: "M", margin: 2, width: 240 }));
    expect(await mfaStatus(s)).toEqual({ totp: "pending", recoveryCodesLeft: 0 });
    // Unconfirmed: sign-in still answers a session directly.
    expect(json<{ token?: string }>(await signIn(s.user.email)).token).toMatch(/^rs_/);
  });

  it("a wrong first code is refused with 422 and the factor stays pending", async () => {
    const s = await signUp(t.app);
    const { secret } = await startEnrolment(s);
    const wrong = codeAt(secret, t.clock.now(), 3);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(s),
      payload: { code: wrong },
    });
    expect(res.statusCode).toBe(422);
    expect(errorOf(res)).toMatchObject({ type: "invalid_request_error", code: "mfa_code_rejected", param: "code" });
    expect((await mfaStatus(s)).totp).toBe("pending");
  });

  it("restarting enrolment replaces the unconfirmed seed: a code of the old one no longer confirms", async () => {
    const s = await signUp(t.app);
    const first = await startEnrolment(s);
    const second = await startEnrolment(s);
    expect(second.secret).not.toBe(first.secret);
    const old = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(s),
      payload: { code: codeAt(first.secret, t.clock.now()) },
    });
    expect(old.statusCode).toBe(422);
    const ok = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(s),
      payload: { code: codeAt(second.secret, t.clock.now()) },
    });
    expect(ok.statusCode).toBe(200);
  });

  it("confirming with a code of the independent implementation gives 10 distinct recovery codes and is audited", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "saas");
    const { recoveryCodes } = await enrol(s);
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const c of recoveryCodes) expect(c).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}$/);
    expect(await mfaStatus(s)).toEqual({ totp: "enrolled", recoveryCodesLeft: 10 });
    const events = json<{ data: Array<{ action: string; actorId: string; targetId: string }> }>(
      await t.app.inject({ url: `/v1/orgs/${org.id}/audit-events?action=auth.mfa_enrolled`, headers: bearer(s) }),
    );
    expect(events.data).toHaveLength(1);
    expect(events.data[0]).toMatchObject({ action: "auth.mfa_enrolled", actorId: s.user.id, targetId: s.user.id });
  });

  it(`20 concurrent confirmations with one code: exactly one turns the factor on (${engine})`, async () => {
    const s = await signUp(t.app);
    const { secret } = await startEnrolment(s);
    const code = codeAt(secret, t.clock.now());
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.app.inject({ method: "POST", url: "/v1/me/mfa/totp/confirm", headers: bearer(s), payload: { code } }),
      ),
    );
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(results.every((r) => [200, 409, 422, 429].includes(r.statusCode))).toBe(true);
    expect(await mfaStatus(s)).toEqual({ totp: "enrolled", recoveryCodesLeft: 10 });
  });

  it("a second enrolment while one is confirmed answers 409", async () => {
    const { session } = await enrol();
    const res = await t.app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(session) });
    expect(res.statusCode).toBe(409);
    expect(errorOf(res).code).toBe("mfa_already_enrolled");
  });

  it("confirming without a started enrolment answers 409, and a bad body 400", async () => {
    const s = await signUp(t.app);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(s),
      payload: { code: "123456" },
    });
    expect(res.statusCode).toBe(409);
    const bad = await t.app.inject({
      method: "POST",
      url: "/v1/me/mfa/totp/confirm",
      headers: bearer(s),
      payload: { kode: "123456" },
    });
    expect(bad.statusCode).toBe(400);
    expect(errorOf(bad).type).toBe("invalid_request_error");
  });

  it("needs a session: no token is 401", async () => {
    const res = await t.app.inject({ method: "POST", url: "/v1/me/mfa/totp" });
    expect(res.statusCode).toBe(401);
  });
});

describe("sign-in with a second factor", () => {
  it("answers {mfaRequired, challengeId}; verify with a TOTP code completes it with the session shape", async () => {
    const { session, secret } = await enrol();
    const challengeId = await challenge(session.user.email);
    expect(challengeId).toMatch(/^mc_/);
    const res = await verify(challengeId, codeAt(secret, t.clock.now()));
    expect(res.statusCode).toBe(200);
    const body = json<{ token: string; expiresAt: string; user: { id: string; email: string } }>(res);
    expect(body.token).toMatch(/^rs_/);
    expect(body.user).toMatchObject({ id: session.user.id, email: session.user.email });
    expect(res.cookies.find((c) => c.name === "roster_session")?.httpOnly).toBe(true);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(body.token) })).statusCode).toBe(200);
  });

  it("accepts codes of the independent implementation at -1 and +1 step and refuses -2 and +2", async () => {
    const { session, secret } = await enrol();
    const attempt = async (offset: number) =>
      verify(await challenge(session.user.email), codeAt(secret, t.clock.now(), offset));
    const gap = 4 * TOTP_PERIOD_SECONDS * 1000; // each accepted step is then far behind the next test's window
    t.clock.advance(gap); // past the step that confirmed the enrolment
    expect((await attempt(-1)).statusCode).toBe(200);
    t.clock.advance(gap);
    expect((await attempt(1)).statusCode).toBe(200);
    t.clock.advance(gap);
    expect((await attempt(0)).statusCode).toBe(200);
    t.clock.advance(gap);
    for (const offset of [-2, 2]) {
      const code = codeAt(secret, t.clock.now(), offset);
      if ([-1, 0, 1].some((w) => codeAt(secret, t.clock.now(), w) === code)) continue;
      const res = await attempt(offset);
      expect(res.statusCode).toBe(401);
      expect(errorOf(res)).toMatchObject({ type: "authentication_error", code: "invalid_mfa_code" });
    }
  });

  it("a code is accepted once: replaying it (or an older one) is refused", async () => {
    const { session, secret } = await enrol();
    const code = codeAt(secret, t.clock.now());
    expect((await verify(await challenge(session.user.email), code)).statusCode).toBe(200);
    const replay = await verify(await challenge(session.user.email), code);
    expect(replay.statusCode).toBe(401);
    expect(errorOf(replay).code).toBe("invalid_mfa_code");
    // The previous step's code is still inside the window but older than the one used: refused too.
    const older = await verify(await challenge(session.user.email), codeAt(secret, t.clock.now(), -1));
    expect(older.statusCode).toBe(401);
    t.clock.advance(TOTP_PERIOD_SECONDS * 1000);
    expect((await verify(await challenge(session.user.email), codeAt(secret, t.clock.now()))).statusCode).toBe(200);
  });

  it(`50 concurrent submissions of one valid code: exactly one is accepted (${engine})`, async () => {
    const { session, secret } = await enrol();
    const challenges: string[] = [];
    for (let i = 0; i < 50; i++) challenges.push(await challenge(session.user.email));
    const code = codeAt(secret, t.clock.now());
    const results = await Promise.all(challenges.map((c) => verify(c, code)));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    // The others are refused (401), or throttled once ten wrong tries pile up (429); never a 500.
    expect(statuses.every((s) => s === 200 || s === 401 || s === 429)).toBe(true);
    const sessions = json<{ data: unknown[] }>(
      await t.app.inject({ url: "/v1/me/sessions", headers: bearer(session) }),
    );
    expect(sessions.data).toHaveLength(2);
  });

  it("a challenge is single use, expires after 5 minutes and allows 5 tries", async () => {
    const { session, secret } = await enrol();
    const used = await challenge(session.user.email);
    expect((await verify(used, codeAt(secret, t.clock.now()))).statusCode).toBe(200);
    t.clock.advance(TOTP_PERIOD_SECONDS * 1000);
    const again = await verify(used, codeAt(secret, t.clock.now()));
    expect(again.statusCode).toBe(401);
    expect(errorOf(again).code).toBe("mfa_challenge_invalid");

    const stale = await challenge(session.user.email);
    t.clock.advance(5 * 60_000 + 1);
    expect(errorOf(await verify(stale, codeAt(secret, t.clock.now()))).code).toBe("mfa_challenge_invalid");

    const tries = await challenge(session.user.email);
    for (let i = 0; i < 5; i++)
      expect(errorOf(await verify(tries, "000000" === codeAt(secret, t.clock.now()) ? "111111" : "000000")).code).toBe(
        "invalid_mfa_code",
      );
    const sixth = await verify(tries, codeAt(secret, t.clock.now()));
    expect(errorOf(sixth).code).toBe("mfa_challenge_invalid");
    expect((await verify("mc_unknown", "123456")).statusCode).toBe(401);
  });

  it("a member deactivated between password and code is refused at the code, like at sign-in", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const member = await addMember(t, org.id, "member");
    const { secret } = await enrol(member.session);
    const challengeId = await challenge(member.session.user.email);
    const off = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/members/${member.memberId}`,
      headers: bearer(owner),
      payload: { status: "inactive" },
    });
    expect(off.statusCode).toBe(200);
    const res = await verify(challengeId, codeAt(secret, t.clock.now()));
    expect(res.statusCode).toBe(403);
    expect(errorOf(res)).toMatchObject({ type: "authorization_error", code: "member_inactive" });
  });

  it("a wrong password never reaches the second step", async () => {
    const { session } = await enrol();
    const res = await signIn(session.user.email, "not the password at all");
    expect(res.statusCode).toBe(401);
    expect(errorOf(res).code).toBe("invalid_credentials");
  });
});

describe("recovery codes", () => {
  it("each of the 10 codes completes one sign-in, once; the count goes down", async () => {
    const { session, recoveryCodes } = await enrol();
    for (const [i, code] of recoveryCodes.entries()) {
      // Upper case and without the dash, as people type them from paper.
      const typed = i % 2 === 0 ? code : code.toUpperCase().replace("-", "");
      const res = await verify(await challenge(session.user.email), typed);
      expect(res.statusCode, `recovery code ${i}`).toBe(200);
      expect((await mfaStatus(session)).recoveryCodesLeft).toBe(9 - i);
    }
    const reused = await verify(await challenge(session.user.email), recoveryCodes[0]!);
    expect(reused.statusCode).toBe(401);
    expect(errorOf(reused).code).toBe("invalid_mfa_code");
  });

  it(`20 concurrent sign-ins with one recovery code: exactly one is accepted (${engine})`, async () => {
    const { session, recoveryCodes } = await enrol();
    const challenges: string[] = [];
    for (let i = 0; i < 20; i++) challenges.push(await challenge(session.user.email));
    const results = await Promise.all(challenges.map((c) => verify(c, recoveryCodes[0]!)));
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(results.every((r) => [200, 401, 429].includes(r.statusCode))).toBe(true);
    expect((await mfaStatus(session)).recoveryCodesLeft).toBe(9);
  });

  it("a made-up recovery code is refused", async () => {
    const { session } = await enrol();
    const res = await verify(await challenge(session.user.email), "abcde-fghjk");
    expect(res.statusCode).toBe(401);
  });
});

describe("removing the factor", () => {
  const remove = (s: Session | string, body: Record<string, unknown>) =>
    t.app.inject({ method: "DELETE", url: "/v1/me/mfa/totp", headers: bearer(s), payload: body });

  it("needs exactly one of password or code", async () => {
    const { session, secret } = await enrol();
    for (const body of [{}, { password: GOOD_PASSWORD, code: codeAt(secret, t.clock.now()) }]) {
      const res = await remove(session, body);
      expect(res.statusCode).toBe(400);
      expect(errorOf(res).type).toBe("invalid_request_error");
    }
    expect((await mfaStatus(session)).totp).toBe("enrolled");
  });

  it("refuses a wrong password or a wrong code with 422 and keeps the factor", async () => {
    const { session, secret } = await enrol();
    const wrongPassword = await remove(session, { password: "not the password at all" });
    expect(wrongPassword.statusCode).toBe(422);
    expect(errorOf(wrongPassword)).toMatchObject({ code: "current_password_incorrect", param: "password" });
    const wrongCode = await remove(session, { code: codeAt(secret, t.clock.now(), 7) });
    expect(wrongCode.statusCode).toBe(422);
    expect(errorOf(wrongCode).code).toBe("mfa_code_rejected");
    expect((await mfaStatus(session)).totp).toBe("enrolled");
  });

  it("with the password: deletes the factor, ends every other session, keeps this one, and is audited", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "saas");
    const { secret } = await enrol(s);
    const other = json<{ token: string }>(
      await verify(await challenge(s.user.email), codeAt(secret, t.clock.now())),
    ).token;
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(other) })).statusCode).toBe(200);
    const res = await remove(s, { password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(200);
    expect(json<{ sessionsEnded: number }>(res).sessionsEnded).toBe(1);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(other) })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    expect(await mfaStatus(s)).toEqual({ totp: "none", recoveryCodesLeft: 0 });
    // Sign-in no longer asks for a second factor.
    expect(json<{ token?: string }>(await signIn(s.user.email)).token).toMatch(/^rs_/);
    const events = json<{ data: Array<{ action: string; after: Record<string, unknown> }> }>(
      await t.app.inject({ url: `/v1/orgs/${org.id}/audit-events?action=auth.mfa_removed`, headers: bearer(s) }),
    );
    expect(events.data).toHaveLength(1);
    expect(events.data[0]?.after).toMatchObject({ sessionsEnded: 1, proof: "password" });
  });

  it("with a TOTP code or a recovery code, each spent by the removal", async () => {
    const a = await enrol();
    const code = codeAt(a.secret, t.clock.now());
    expect((await remove(a.session, { code })).statusCode).toBe(200);
    expect((await mfaStatus(a.session)).totp).toBe("none");

    const b = await enrol();
    expect((await remove(b.session, { code: b.recoveryCodes[3]! })).statusCode).toBe(200);
    expect((await mfaStatus(b.session)).totp).toBe("none");
  });

  it("answers 404 when there is no factor", async () => {
    const s = await signUp(t.app);
    const res = await remove(s, { password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(404);
  });

  it("cannot be done with an API key", async () => {
    const s = await signUp(t.app, uniqueEmail("keyowner"));
    const org = await createOrg(t.app, s, "saas");
    const key = json<{ secret: string }>(
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org.id}/api-keys`,
        headers: bearer(s),
        payload: { name: "ci" },
      }),
    ).secret;
    const res = await remove(key, { password: GOOD_PASSWORD });
    expect(res.statusCode).toBe(403);
    expect(errorOf(res).code).toBe("api_key_not_allowed");
  });
});
