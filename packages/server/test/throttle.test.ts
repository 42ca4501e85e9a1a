import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { users } from "../src/db/schema.ts";
import { hashPassword } from "../src/auth/passwords.ts";
import { loadConfig } from "../src/config.ts";
import { newId } from "../src/lib/ids.ts";
import { engine, GOOD_PASSWORD, json, testApp, type TestApp } from "./helpers.ts";

/**
 * Sign-in throttling per client address counts failures only: a host app's backend that signs its users in
 * from one address is not refused for their successes, while guessing from one address still is.
 */
let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t?.close());

/** `count` accounts with GOOD_PASSWORD, written in one statement (sign-up itself is limited per address). */
async function makeUsers(app: TestApp, count: number, tag: string): Promise<string[]> {
  const hash = await hashPassword(GOOD_PASSWORD, app.deps.config.argon2);
  const now = app.clock.now();
  const rows = Array.from({ length: count }, (_, i) => ({
    id: newId("usr"),
    email: `${tag}.${i}@throttle.example`,
    name: `${tag} ${i}`,
    passwordHash: hash,
    platformRole: null,
    lastLoginAt: null,
    createdAt: now,
    updatedAt: now,
  }));
  await app.db.owner((db) => db.insert(users).values(rows));
  return rows.map((r) => r.email);
}

function signIn(
  app: TestApp,
  email: string,
  password: string,
  from?: { remoteAddress?: string; forwardedFor?: string },
) {
  return app.app.inject({
    method: "POST",
    url: "/v1/auth/sign-in",
    payload: { email, password },
    ...(from?.remoteAddress ? { remoteAddress: from.remoteAddress } : {}),
    ...(from?.forwardedFor ? { headers: { "x-forwarded-for": from.forwardedFor } } : {}),
  });
}

describe(`sign-in throttling per address (${engine})`, () => {
  it(
    "200 successful sign-ins of different users from one address in a minute all succeed",
    { timeout: 300_000 },
    async () => {
      const { perIp } = t.deps.config.signInLimits;
      expect(perIp).toEqual({ max: 50, windowSeconds: 300 }); // the installation default
      const emails = await makeUsers(t, 200, "ok");
      const codes = new Map<number, number>();
      const started = t.clock.now().getTime();
      for (const [i, email] of emails.entries()) {
        if (i % 50 === 0) t.clock.advance(10_000); // 200 sign-ins spread over 40 seconds
        const res = await signIn(t, email, GOOD_PASSWORD, { remoteAddress: "198.51.100.10" });
        codes.set(res.statusCode, (codes.get(res.statusCode) ?? 0) + 1);
      }
      expect(t.clock.now().getTime() - started).toBeLessThan(60_000);
      expect(Object.fromEntries(codes)).toEqual({ 200: 200 });
    },
  );

  it("60 failures from one address are throttled: 50 answered, then 429 with Retry-After for everyone there", async () => {
    const [victim, bystander] = await makeUsers(t, 2, "fail");
    const from = { remoteAddress: "198.51.100.20" };
    const codes: number[] = [];
    for (let i = 0; i < 60; i++) {
      // A different account each time: the per-account limit (10) never trips, only the address's.
      codes.push((await signIn(t, `nobody.${i}@throttle.example`, "wrong password", from)).statusCode);
    }
    expect(codes.slice(0, 50).every((c) => c === 401)).toBe(true);
    expect(codes.slice(50)).toEqual(Array(10).fill(429));

    // While it lasts, even a right password from that address is refused, without checking it.
    const refused = await signIn(t, victim!, GOOD_PASSWORD, from);
    expect(refused.statusCode).toBe(429);
    expect(json<{ error: { type: string; code: string; message: string } }>(refused).error).toMatchObject({
      type: "rate_limit_error",
      code: "rate_limited",
      message: "Too many failed sign-in attempts from this address. Try again later.",
    });
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(300);

    // Another address is not affected, and the address is free again once the window has passed.
    expect((await signIn(t, bystander!, GOOD_PASSWORD, { remoteAddress: "198.51.100.21" })).statusCode).toBe(200);
    t.clock.advance(retryAfter * 1000);
    expect((await signIn(t, victim!, GOOD_PASSWORD, from)).statusCode).toBe(200);
  });

  it("successes do not clear the address's failures", { timeout: 120_000 }, async () => {
    const limited = await testApp({
      signInLimits: { perAccount: { max: 100, windowSeconds: 900 }, perIp: { max: 3, windowSeconds: 60 } },
    });
    try {
      const [mine] = await makeUsers(limited, 1, "mine");
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) {
        codes.push((await signIn(limited, `guess.${i}@throttle.example`, "wrong password")).statusCode);
        codes.push((await signIn(limited, mine!, GOOD_PASSWORD)).statusCode);
      }
      codes.push((await signIn(limited, "guess.3@throttle.example", "wrong password")).statusCode);
      expect(codes).toEqual([401, 200, 401, 200, 401, 429, 429]);
    } finally {
      await limited.close();
    }
  });

  it(
    "behind a trusted backend, each end user's forwarded address is throttled on its own; others' headers are ignored",
    {
      timeout: 120_000,
    },
    async () => {
      const viaBackend = await testApp({
        trustProxy: ["10.20.0.0/16"],
        signInLimits: { perAccount: { max: 100, windowSeconds: 900 }, perIp: { max: 3, windowSeconds: 60 } },
      });
      try {
        const [alice] = await makeUsers(viaBackend, 1, "alice");
        const backend = "10.20.3.4";
        for (let i = 0; i < 3; i++)
          expect(
            (
              await signIn(viaBackend, `guess.${i}@throttle.example`, "wrong password", {
                remoteAddress: backend,
                forwardedFor: "203.0.113.5",
              })
            ).statusCode,
          ).toBe(401);
        const guesser = await signIn(viaBackend, alice!, GOOD_PASSWORD, {
          remoteAddress: backend,
          forwardedFor: "203.0.113.5",
        });
        expect(guesser.statusCode).toBe(429);
        // The same backend signing in another person (another forwarded address) is not refused.
        expect(
          (await signIn(viaBackend, alice!, GOOD_PASSWORD, { remoteAddress: backend, forwardedFor: "203.0.113.6" }))
            .statusCode,
        ).toBe(200);
        // A caller outside the trusted range cannot pick its address with the header.
        for (let i = 0; i < 3; i++)
          await signIn(viaBackend, `spoof.${i}@throttle.example`, "wrong password", {
            remoteAddress: "198.51.100.30",
            forwardedFor: `203.0.113.${100 + i}`,
          });
        expect(
          (
            await signIn(viaBackend, alice!, GOOD_PASSWORD, {
              remoteAddress: "198.51.100.30",
              forwardedFor: "203.0.113.200",
            })
          ).statusCode,
        ).toBe(429);
      } finally {
        await viaBackend.close();
      }
    },
  );
});

describe("ROSTER_TRUST_PROXY", () => {
  const parse = (v: string) => loadConfig({ ROSTER_SECRET_KEY: "11".repeat(32), ROSTER_TRUST_PROXY: v }).trustProxy;
  it("takes true/false or a list of addresses and CIDR ranges, and names a bad entry", () => {
    expect(parse("true")).toBe(true);
    expect(parse("off")).toBe(false);
    expect(parse("")).toBe(false);
    expect(parse("10.0.0.5, 10.1.0.0/16,::1,fd00::/8")).toEqual(["10.0.0.5", "10.1.0.0/16", "::1", "fd00::/8"]);
    expect(() => parse("10.0.0.5,backend.internal")).toThrow(
      'ROSTER_TRUST_PROXY: "backend.internal" is not an IP address or CIDR range (or use true / false).',
    );
    expect(() => parse("10.0.0.0/33")).toThrow(/"10\.0\.0\.0\/33"/);
  });
});
