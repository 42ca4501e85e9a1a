// OpenID Provider: organization access tokens issued per second (the refresh grant: each one reads the member,
// rotates the refresh token and signs a JWT), machine tokens per second (client credentials), and the SDK's
// local verification of an organization token per second. PGlite by default; DATABASE_URL for PostgreSQL.
import { performance } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import * as oc from "openid-client";
import { presets } from "@roster/policy";
import { createApp } from "../../packages/server/src/app.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import { scratchDatabase } from "../../packages/server/src/db/scratch.ts";
import { systemClock } from "../../packages/server/src/lib/clock.ts";
import type { AppDeps } from "../../packages/server/src/deps.ts";
import { addMember, createOrg, signUp } from "../../packages/server/test/helpers.ts";
import { freePort, registerApplication, signInTokens } from "../../packages/server/test/oidc.helpers.ts";
import { enforcerFromToken, verifyAccessToken } from "../../packages/sdk/src/index.ts";
import type { Benchmark } from "./types.ts";

export const oidcBenchmark: Benchmark = {
  name: "oidc",
  description: "organization tokens issued/s (refresh grant), machine tokens/s, SDK token verification/s",
  run: runOidcBenchmark,
};

const CHAINS = Number(process.env.BENCH_OIDC_CONCURRENCY ?? 10);
const SECONDS = Number(process.env.BENCH_OIDC_SECONDS ?? 5);
const insecure = { execute: [oc.allowInsecureRequests] };
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

/** `CHAINS` loops, each issuing one token after the other, for `SECONDS`: tokens/s and latency percentiles. */
async function closedLoop(issue: (chain: number) => Promise<void>): Promise<string> {
  const latencies: number[] = [];
  const until = performance.now() + SECONDS * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CHAINS }, async (_, chain) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await issue(chain);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const rate = latencies.length / ((performance.now() - start) / 1000);
  return `${rate.toFixed(0)} tokens/s | p50 ${pct(latencies, 0.5).toFixed(1)} ms, p99 ${pct(latencies, 0.99).toFixed(1)} ms`;
}

async function runOidcBenchmark({ timeMs }: { timeMs: number }): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const scratch = await scratchDatabase(process.env.DATABASE_URL, { prefix: "roster_bench_oidc", poolSize: 10 });
  const config = {
    ...loadConfig({ ROSTER_SECRET_KEY: "44".repeat(32), ROSTER_DATA_DIR: "memory://", ROSTER_PUBLIC_URL: base }),
    ...(scratch.url ? { databaseUrl: scratch.url } : {}),
  };
  const deps: AppDeps = { db: scratch.db, config, clock: systemClock, mailer: { send: async () => {} }, logger: false };
  const app = await createApp(deps);
  await app.listen({ port, host: "127.0.0.1" });
  try {
    const t = { app, deps, db: scratch.db, clock: systemClock };
    const operator = await signUp(app);
    await scratch.db.owner((db) =>
      db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.user.id}`),
    );
    const orgId = (await createOrg(app, operator, "billing", "Bench Billing")).id;
    const redirectUri = "http://127.0.0.1:9/callback";
    const asTest = t as unknown as Parameters<typeof registerApplication>[0];
    const web = await registerApplication(asTest, operator, { name: "Web", type: "web", redirectUris: [redirectUri] });
    const machine = await registerApplication(asTest, operator, { name: "Jobs", type: "machine", redirectUris: [] });
    const issuer = new URL(`${base}/oidc`);
    const webConfig = await oc.discovery(issuer, web.clientId, web.clientSecret, undefined, insecure);
    const machineConfig = await oc.discovery(issuer, machine.clientId, machine.clientSecret, undefined, insecure);

    // One signed-in customer-service member per chain, each holding a refresh token for the org.
    const refresh: string[] = [];
    let accessToken = "";
    for (let i = 0; i < CHAINS; i++) {
      const member = await addMember(asTest, orgId, "customer_service");
      const tokens = await signInTokens({
        base,
        config: webConfig,
        redirectUri,
        session: member.session,
        resource: `urn:roster:org:${orgId}`,
        orgId,
      });
      refresh.push(tokens.refresh_token!);
      accessToken = tokens.access_token;
    }

    console.log(`| engine | what | rate | latency (${CHAINS} concurrent, ${SECONDS} s) |`);
    console.log("|---|---|---|---|");
    const orgTokens = await closedLoop(async (chain) => {
      const next = await oc.refreshTokenGrant(webConfig, refresh[chain]!, { resource: `urn:roster:org:${orgId}` });
      refresh[chain] = next.refresh_token!;
    });
    console.log(`| ${scratch.db.kind} | organization token (refresh grant, rotation) | ${orgTokens} |`);
    const machineTokens = await closedLoop(async () => {
      await oc.clientCredentialsGrant(machineConfig);
    });
    console.log(`| ${scratch.db.kind} | machine token (client credentials) | ${machineTokens} |`);

    // The SDK in the host app: the key set is fetched once, then every verification is local.
    const options = { issuer: issuer.href };
    const claims = await verifyAccessToken(accessToken, options);
    const measure = async (fn: () => unknown) => {
      let n = 0;
      const until = performance.now() + timeMs;
      const start = performance.now();
      while (performance.now() < until) {
        for (let i = 0; i < 100; i++) await fn();
        n += 100;
      }
      return n / ((performance.now() - start) / 1000);
    };
    const verified = await measure(() => verifyAccessToken(accessToken, options));
    console.log(`| SDK | verifyAccessToken (RS256, cached JWKS) | ${verified.toFixed(0)} verifications/s | |`);
    const decided = await measure(() => enforcerFromToken(claims, presets.billing).can("void", { type: "invoice" }));
    console.log(`| SDK | enforcerFromToken + can() | ${decided.toFixed(0)} decisions/s | |`);
  } finally {
    await app.close();
    await scratch.drop();
  }
}
