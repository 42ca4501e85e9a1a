// What authentication costs per request: the same light org route (GET /v1/orgs/{id}/policy) called with a
// session token, a session in an org that requires MFA (the gate query runs), and an API key. In-process
// (app.inject) against PGlite, or PostgreSQL when DATABASE_URL is set (a scratch database is created and
// dropped). Also the TOTP check itself (otpauth, ±1 step) in codes per second.
import type { FastifyInstance } from "fastify";
import { createApp } from "../../packages/server/src/app.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import { scratchDatabase } from "../../packages/server/src/db/scratch.ts";
import { systemClock } from "../../packages/server/src/lib/clock.ts";
import type { Mailer } from "../../packages/server/src/mail/mailer.ts";
import { matchTotp, newTotpSecret, totpCode } from "../../packages/server/src/mfa/totp.ts";
import { formatRate, measure, sink } from "./measure.ts";
import type { Benchmark } from "./types.ts";

async function post(
  app: FastifyInstance,
  url: string,
  payload: object,
  token?: string,
): Promise<Record<string, unknown>> {
  const res = await app.inject({
    method: "POST",
    url,
    payload: payload as Record<string, unknown>,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  return res.json<Record<string, unknown>>();
}

interface Latency {
  p50: number;
  p95: number;
  perSecond: number;
}

/**
 * Latency percentiles in milliseconds of `n` calls of each case, interleaved (one of each in turn) so that load
 * from elsewhere on the machine falls on every case alike.
 */
async function latencies(n: number, cases: ReadonlyArray<() => Promise<number>>): Promise<Latency[]> {
  const times = cases.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (const [j, call] of cases.entries()) {
      const t0 = performance.now();
      const status = await call();
      if (status !== 200) throw new Error(`unexpected status ${status}`);
      times[j]!.push(performance.now() - t0);
    }
  }
  return times.map((ts) => {
    ts.sort((a, b) => a - b);
    const total = ts.reduce((a, b) => a + b, 0);
    return { p50: ts[Math.floor(n * 0.5)]!, p95: ts[Math.floor(n * 0.95)]!, perSecond: (n / total) * 1000 };
  });
}

export const securityBenchmark: Benchmark = {
  name: "security",
  description: "per-request cost of session, MFA-gated session and API-key authentication; TOTP checks per second",
  async run({ timeMs }) {
    const secret = newTotpSecret();
    const now = new Date();
    const code = totpCode(secret, now);
    const rates = await measure(
      [
        {
          name: "matchTotp",
          batch: 100,
          fn: () => {
            for (let i = 0; i < 100; i++) sink.value += matchTotp(secret, code, now) ?? 0;
          },
        },
      ],
      timeMs,
    );
    console.log(`TOTP check (otpauth, window ±1): ${formatRate(rates.get("matchTotp") ?? 0)}`);

    const { db, drop } = await scratchDatabase(process.env.DATABASE_URL, { prefix: "roster_bench" });
    const config = loadConfig({
      ROSTER_SECRET_KEY: "33".repeat(32),
      ROSTER_DATA_DIR: "memory://",
      ROSTER_PUBLIC_URL: "http://127.0.0.1:4000",
    });
    const mailer: Mailer = { send: async () => undefined };
    const app = await createApp({
      db,
      config: { ...config, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      clock: systemClock,
      mailer,
      logger: false,
    });
    try {
      const owner = await post(app, "/v1/auth/sign-up", {
        email: `bench.${Date.now()}@example.com`,
        name: "Bench",
        password: "correct horse battery staple",
      });
      const token = owner.token as string;
      const org = await post(app, "/v1/orgs", { name: "Bench", policy: "saas" }, token);
      const strict = await post(app, "/v1/orgs", { name: "Strict", policy: "saas" }, token);
      const key = await post(app, `/v1/orgs/${org.id as string}/api-keys`, { name: "bench" }, token);
      // A second user, enrolled, in an org requiring MFA: each of their requests runs the gate query.
      const gated = await post(app, "/v1/auth/sign-up", {
        email: `bench.gated.${Date.now()}@example.com`,
        name: "Gated",
        password: "correct horse battery staple",
      });
      const enrol = await post(app, "/v1/me/mfa/totp", {}, gated.token as string);
      await post(
        app,
        "/v1/me/mfa/totp/confirm",
        { code: totpCode(enrol.secret as string, new Date()) },
        gated.token as string,
      );
      const enrolOwner = await post(app, "/v1/me/mfa/totp", {}, token);
      await post(app, "/v1/me/mfa/totp/confirm", { code: totpCode(enrolOwner.secret as string, new Date()) }, token);
      const patched = await app.inject({
        method: "PATCH",
        url: `/v1/orgs/${strict.id as string}/security`,
        payload: { requireMfa: true },
        headers: { authorization: `Bearer ${token}` },
      });
      if (patched.statusCode !== 200) throw new Error(`requireMfa: ${patched.body}`);

      const n = Math.max(200, Math.round(timeMs / 2));
      const get = (orgId: string, bearer: string) => async () =>
        (await app.inject({ url: `/v1/orgs/${orgId}/policy`, headers: { authorization: `Bearer ${bearer}` } }))
          .statusCode;
      const names = ["session", "session, org requires MFA", "API key"];
      const cases = [
        get(org.id as string, token),
        get(strict.id as string, token),
        get(org.id as string, key.secret as string),
      ];
      await latencies(50, cases);
      const results = await latencies(n, cases);
      const rows = names.map((name, i) => [name, results[i]!] as const);
      console.log(`\nGET /v1/orgs/{id}/policy, ${n} requests per caller, interleaved (${db.kind}):\n`);
      console.log("| caller | p50 ms | p95 ms | requests/s |\n|---|---|---|---|");
      for (const [name, r] of rows)
        console.log(`| ${name} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.perSecond.toFixed(0)} |`);
    } finally {
      await app.close();
      await drop();
    }
  },
};
