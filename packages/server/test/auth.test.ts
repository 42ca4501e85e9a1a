import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, GOOD_PASSWORD, json, signUp, testApp, uniqueEmail, type TestApp } from "./helpers.ts";
import { loadConfig } from "../src/config.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

const signIn = (email: string, password: string, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: { email, password }, headers });

describe("sign-up and sign-in", () => {
  it("signs up, answers the session shape, and the token works as a bearer token", async () => {
    const email = uniqueEmail();
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email, name: "Ann", password: GOOD_PASSWORD },
    });
    expect(res.statusCode).toBe(201);
    const body = json<{ token: string; expiresAt: string; user: { email: string } }>(res);
    expect(body.user.email).toBe(email);
    expect(body.token).toMatch(/^rs_[A-Za-z0-9_-]{43}$/);
    expect(res.cookies.find((c) => c.name === "roster_session")?.httpOnly).toBe(true);
    const me = await t.app.inject({ url: "/v1/me", headers: bearer(body.token) });
    expect(me.statusCode).toBe(200);
    expect(json<{ user: { email: string }; memberships: unknown[] }>(me).user.email).toBe(email);
  });

  it("issues a new token at every sign-in and sets lastLoginAt on memberships", async () => {
    const s = await signUp(t.app);
    const org = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      headers: bearer(s),
      payload: { name: "A", policy: "saas" },
    });
    const orgId = json<{ id: string }>(org).id;
    t.clock.advance(5_000);
    const a = json<{ token: string }>(await signIn(s.user.email, GOOD_PASSWORD));
    const b = json<{ token: string }>(await signIn(s.user.email, GOOD_PASSWORD));
    expect(a.token).not.toBe(b.token);
    expect(a.token).not.toBe(s.token);
    const list = json<{ data: Array<{ lastLoginAt: string }> }>(
      await t.app.inject({ url: `/v1/orgs/${orgId}/members`, headers: bearer(b.token) }),
    );
    expect(list.data[0]?.lastLoginAt).toBe(t.clock.now().toISOString());
  });

  it("answers an unknown email and a wrong password identically", async () => {
    const s = await signUp(t.app);
    const wrong = await signIn(s.user.email, "not the password at all");
    const unknown = await signIn(uniqueEmail("nobody"), "not the password at all");
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    const strip = (b: { error: Record<string, unknown> }) => ({ ...b.error, requestId: undefined });
    expect(strip(json(wrong))).toEqual(strip(json(unknown)));
    expect(json<{ error: { code: string } }>(wrong).error.code).toBe("invalid_credentials");
  });

  it("normalises the email's case", async () => {
    const email = uniqueEmail();
    await signUp(t.app, email);
    expect((await signIn(email.toUpperCase(), GOOD_PASSWORD)).statusCode).toBe(200);
  });

  it("refuses a second account for the same email with 409", async () => {
    const email = uniqueEmail();
    await signUp(t.app, email);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email, name: "Dup", password: GOOD_PASSWORD },
    });
    expect(res.statusCode).toBe(409);
    expect(json<{ error: { type: string } }>(res).error.type).toBe("conflict_error");
  });
});

describe("password policy", () => {
  const attempt = (password: string) =>
    t.app.inject({ method: "POST", url: "/v1/auth/sign-up", payload: { email: uniqueEmail(), name: "P", password } });

  it.each([
    ["seven chars", "abcdefg", "password_too_short"],
    ["a common password", "password123", "password_too_common"],
    ["another common one", "qwertyuiop", "password_too_common"],
    ["129 characters", "x".repeat(129), "password_too_long"],
  ])("refuses %s with 422", async (_label, password, code) => {
    const res = await attempt(password);
    expect(res.statusCode).toBe(422);
    expect(json<{ error: { code: string; param: string; type: string } }>(res).error).toMatchObject({
      code,
      param: "password",
      type: "invalid_request_error",
    });
  });

  it.each([
    ["8 characters", "zq8#Lm2v"],
    ["64 characters", "a-long-passphrase-".repeat(4).slice(0, 64)],
    ["no composition rules", "tangerine submarine"],
  ])("accepts %s", async (_label, password) => {
    expect((await attempt(password)).statusCode).toBe(201);
  });

  it("hashes with argon2id at OWASP parameters by default", () => {
    expect(loadConfig({ ROSTER_SECRET_KEY: "22".repeat(32), DATABASE_URL: "postgres://x" }).argon2).toEqual({
      memoryCost: 19_456,
      timeCost: 2,
      parallelism: 1,
    });
  });
});

describe("sessions", () => {
  it("a revoked session fails on its very next request", async () => {
    const s = await signUp(t.app);
    const other = json<{ token: string }>(await signIn(s.user.email, GOOD_PASSWORD));
    const sessions = json<{ data: Array<{ id: string; current: boolean }> }>(
      await t.app.inject({ url: "/v1/me/sessions", headers: bearer(s) }),
    );
    expect(sessions.data).toHaveLength(2);
    const otherId = sessions.data.find((x) => !x.current)!.id;
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(other.token) })).statusCode).toBe(200);
    const del = await t.app.inject({ method: "DELETE", url: `/v1/me/sessions/${otherId}`, headers: bearer(s) });
    expect(del.statusCode).toBe(204);
    const after = await t.app.inject({ url: "/v1/me", headers: bearer(other.token) });
    expect(after.statusCode).toBe(401);
    expect(json<{ error: { code: string } }>(after).error.code).toBe("session_expired");
  });

  it("cannot end another user's session (404)", async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    const bSessions = json<{ data: Array<{ id: string }> }>(
      await t.app.inject({ url: "/v1/me/sessions", headers: bearer(b) }),
    );
    const res = await t.app.inject({
      method: "DELETE",
      url: `/v1/me/sessions/${bSessions.data[0]!.id}`,
      headers: bearer(a),
    });
    expect(res.statusCode).toBe(404);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(b) })).statusCode).toBe(200);
  });

  it("sign-out ends the session", async () => {
    const s = await signUp(t.app);
    expect((await t.app.inject({ method: "POST", url: "/v1/auth/sign-out", headers: bearer(s) })).statusCode).toBe(204);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(401);
  });

  it("expires after the idle timeout, and keeps living while used", async () => {
    const s = await signUp(t.app);
    const idleMs = t.deps.config.session.idleMinutes * 60_000;
    t.clock.advance(idleMs - 60_000);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    t.clock.advance(idleMs - 60_000);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    t.clock.advance(idleMs);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(401);
  });

  it("expires at the absolute timeout even when used constantly", async () => {
    const s = await signUp(t.app);
    const maxMs = t.deps.config.session.maxHours * 3_600_000;
    const step = t.deps.config.session.idleMinutes * 60_000 - 60_000;
    let elapsed = 0;
    while (elapsed + step < maxMs) {
      t.clock.advance(step);
      elapsed += step;
      expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    }
    t.clock.advance(maxMs - elapsed);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(401);
  });
});

describe("cookies and CSRF", () => {
  it("accepts the cookie for reads, and requires x-csrf-token for cookie-authenticated changes", async () => {
    const email = uniqueEmail();
    await signUp(t.app, email);
    const res = await signIn(email, GOOD_PASSWORD);
    const cookie = res.cookies.find((c) => c.name === "roster_session")!;
    const csrf = json<{ csrfToken: string }>(res).csrfToken;
    const cookies = { roster_session: cookie.value };
    expect((await t.app.inject({ url: "/v1/me", cookies })).statusCode).toBe(200);
    const noCsrf = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      cookies,
      payload: { name: "X", policy: "saas" },
    });
    expect(noCsrf.statusCode).toBe(403);
    expect(json<{ error: { code: string } }>(noCsrf).error.code).toBe("csrf_token_invalid");
    const forged = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      cookies,
      headers: { "x-csrf-token": "forged" },
      payload: { name: "X", policy: "saas" },
    });
    expect(forged.statusCode).toBe(403);
    const ok = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      cookies,
      headers: { "x-csrf-token": csrf },
      payload: { name: "X", policy: "saas" },
    });
    expect(ok.statusCode).toBe(201);
  });
});

describe("throttling", () => {
  it("locks an account after repeated failures with 429 and Retry-After, and the window passes", async () => {
    const s = await signUp(t.app);
    const { max } = t.deps.config.signInLimits.perAccount;
    for (let i = 0; i < max; i++)
      expect((await signIn(s.user.email, "wrong password " + i, { "x-forwarded-for": `10.0.0.${i}` })).statusCode).toBe(
        401,
      );
    const locked = await signIn(s.user.email, GOOD_PASSWORD);
    expect(locked.statusCode).toBe(429);
    expect(json<{ error: { type: string } }>(locked).error.type).toBe("rate_limit_error");
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    t.clock.advance(t.deps.config.signInLimits.perAccount.windowSeconds * 1000 + 1000);
    expect((await signIn(s.user.email, GOOD_PASSWORD)).statusCode).toBe(200);
  });

  it("limits attempts per address", async () => {
    const limited = await testApp({
      signInLimits: { perAccount: { max: 100, windowSeconds: 900 }, perIp: { max: 3, windowSeconds: 60 } },
    });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++)
        codes.push(
          (
            await limited.app.inject({
              method: "POST",
              url: "/v1/auth/sign-in",
              payload: { email: uniqueEmail(), password: "whatever-pass" },
            })
          ).statusCode,
        );
      expect(codes).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await limited.close();
    }
  });
});
