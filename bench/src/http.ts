// The request path over real HTTP: Roster's CLI (`roster start`) in a child process on PostgreSQL and on
// PGlite, loaded by autocannon from this process (10 connections, a few seconds per endpoint), against the same
// server's /healthz; Better Auth with its organization plugin on the same PostgreSQL in another child; and how
// long a change on one Roster instance takes to be seen by a second instance on the same database.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a scratch database is created
// and dropped for each server), BENCH_HTTP_SECONDS (per endpoint, default 5), BENCH_HTTP_CONNECTIONS (10),
// BENCH_HTTP_CHANGES (revocations for the propagation measure, default 200), BENCH_HTTP_MEMBERS (members seeded
// besides the measured ones, default 60), BENCH_HTTP_ENGINES (`postgres,pglite`), BENCH_HTTP_BETTER_AUTH
// (`false` skips the comparison).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import pg from "pg";
import { createApp } from "../../packages/server/src/app.ts";
import type { AppDeps } from "../../packages/server/src/deps.ts";
import { outboxWorker } from "../../packages/server/src/mail/worker.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import { openDatabase, type Database } from "../../packages/server/src/db/database.ts";
import { createScratchDatabase, scratchDatabase } from "../../packages/server/src/db/scratch.ts";
import { systemClock } from "../../packages/server/src/lib/clock.ts";
import type { Mailer, OutgoingMail } from "../../packages/server/src/mail/mailer.ts";
import type { Benchmark } from "./types.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres";
const PASSWORD = "correct horse battery staple";
const START_TIMEOUT_MS = 180_000;
/** How long the second instance is polled for one change before it counts as not seen. */
const PROPAGATION_LIMIT_MS = 2_000;

export interface HttpBenchOptions {
  /** load per endpoint, in seconds */
  seconds: number;
  connections: number;
  /** PostgreSQL server for the scratch databases; undefined skips every PostgreSQL measure */
  postgresUrl: string | undefined;
  pglite: boolean;
  betterAuth: boolean;
  /** revocations for the propagation measure (PostgreSQL only; each follows a grant); 0 skips it */
  changes: number;
  /** members in the bench org besides the owner and the two measured ones (60: a members page holds 50 rows) */
  members: number;
  log: (line: string) => void;
}

export interface EndpointResult {
  server: string;
  endpoint: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** requests/s over the same server's liveness route, measured in the same interleaved rounds */
  ratio: number;
  total: number;
}

export interface PropagationStats {
  changes: number;
  p50: number;
  p99: number;
  max: number;
  /** changes the second instance had not reflected within PROPAGATION_LIMIT_MS */
  missed: number;
  /** mean requests sent to the second instance per change, the reflecting one included */
  pollsPerChange: number;
}

export interface Propagation {
  /** admin → member on A, until B refuses */
  revocations: PropagationStats;
  /** member → admin on A, until B allows */
  grants: PropagationStats;
}

export interface Target {
  name: string;
  value: string;
  met: boolean | null;
}

export interface HttpBenchResult {
  endpoints: EndpointResult[];
  propagation: Propagation | null;
  targets: Target[];
  skipped: string[];
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Child {
  base: string;
  stop: () => Promise<void>;
}

/** Keeps the child's last output for an error message; nothing else reads it. */
function tail(child: ChildProcess): () => string {
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => out;
}

async function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  port: number,
  readyPath: string,
): Promise<Child> {
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env, PORT: String(port) };
  // BENCH_HTTP_PROFILE=<dir>: each server writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
  const profile = process.env.BENCH_HTTP_PROFILE
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_HTTP_PROFILE}`]
    : [];
  const child = spawn(process.execPath, [...profile, ...args], {
    env: childEnv,
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = tail(child);
  const state: { exited: number | null } = { exited: null };
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      state.exited = code ?? -1;
      resolve();
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (state.exited === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exit;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (state.exited !== null)
      throw new Error(`${name} exited with code ${state.exited} before answering:\n${output()}`);
    try {
      const res = await fetch(base + readyPath);
      if (res.ok) {
        await res.arrayBuffer();
        return { base, stop };
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  await stop();
  throw new Error(`${name} did not answer ${readyPath} within ${START_TIMEOUT_MS / 1000} s:\n${output()}`);
}

/**
 * `roster start`, exactly as an operator runs it, on the given database. On PostgreSQL its data directory (where
 * it keeps its audit signing key) is a temporary one, removed when it stops: never the checkout's `data/`.
 */
export async function startRoster(
  name: string,
  database: { url: string } | { dataDir: string },
  secretKey: string,
): Promise<Child> {
  const port = await freePort();
  const dataDir = "url" in database ? mkdtempSync(join(tmpdir(), "roster-bench-")) : database.dataDir;
  const removeScratch = () => {
    if ("url" in database) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const child = await startChild(
      name,
      [join(ROOT, "bin", "roster.mjs"), "start"],
      {
        ...("url" in database ? { DATABASE_URL: database.url } : {}),
        ROSTER_DATA_DIR: dataDir,
        ROSTER_SECRET_KEY: secretKey,
        ROSTER_PUBLIC_URL: `http://127.0.0.1:${port}`,
        HOST: "127.0.0.1",
        ROSTER_DEMO: "false",
        // Request logs off in every server measured here, so no server pays for writing lines nobody reads.
        LOG_LEVEL: "warn",
      },
      port,
      "/healthz",
    );
    return {
      ...child,
      stop: async () => {
        await child.stop();
        removeScratch();
      },
    };
  } catch (err) {
    removeScratch();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP helpers

async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(options.body !== undefined ? { "content-type": "application/json" } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, body, headers: res.headers };
}

async function expectOk(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await call(base, method, path, options);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Load {
  endpoint: string;
  path: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: unknown;
}

interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  total: number;
  /** seconds */
  duration: number;
}

async function load(base: string, l: Load, seconds: number, connections: number, warm: boolean): Promise<LoadResult> {
  const body = l.body === undefined ? undefined : JSON.stringify(l.body);
  const headers = { ...(body ? { "content-type": "application/json" } : {}), ...l.headers };
  const run = (opts: { duration?: number; amount?: number }) =>
    autocannon({
      url: base + l.path,
      method: l.method ?? "GET",
      headers,
      ...(body ? { body } : {}),
      connections,
      ...opts,
    });
  // A short warm-up: the server's JIT, pools and any caches reach their working state before the measure.
  if (warm) await run({ duration: Math.min(1, seconds / 4) });
  const r = await run({ duration: seconds });
  if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) {
    // One more request, alone, to show what the server answers.
    const sample = await call(base, l.method ?? "GET", l.path, {
      headers,
      ...(l.body !== undefined ? { body: l.body } : {}),
    }).then(
      (x) => `${x.status} ${JSON.stringify(x.body).slice(0, 300)}`,
      (err: unknown) => String(err),
    );
    throw new Error(
      `${l.method ?? "GET"} ${l.path}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts of ${r.requests.total}; alone it answers ${sample}`,
    );
  }
  return {
    requestsPerSecond: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    duration: r.duration,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Roster: data, endpoints

interface RosterFixture {
  orgId: string;
  ownerToken: string;
  /** a plain member (role "member") whose requests are measured */
  readerToken: string;
  readerMemberId: string;
  /** a second plain member whose role the propagation measure flips */
  flipperToken: string;
  flipperMemberId: string;
}

class CapturingMailer implements Mailer {
  sent: OutgoingMail[] = [];
  async send(mail: OutgoingMail) {
    this.sent.push(mail);
  }
}

/**
 * Seeds the database through Roster's own API (in this process, before any server is started on it): an owner,
 * a saas org, and members who joined through invitations.
 */
async function seedRoster(db: Database, secretKey: string, members: number): Promise<RosterFixture> {
  const base = loadConfig({
    ROSTER_SECRET_KEY: secretKey,
    ROSTER_DATA_DIR: "memory://",
    ROSTER_PUBLIC_URL: "http://127.0.0.1:4000",
  });
  const mailer = new CapturingMailer();
  // Cheap password hashing for the seeded accounts only: the servers measured never hash a password.
  const config = { ...base, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
  const deps: AppDeps = { db, config, clock: systemClock, mailer, logger: false };
  const app = await createApp(deps);
  const inject = async (method: "GET" | "POST", url: string, token: string | null, payload?: object) => {
    const res = await app.inject({
      method,
      url,
      ...(payload ? { payload: payload as Record<string, unknown> } : {}),
      headers: token ? bearer(token) : {},
    });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json<Record<string, unknown>>();
  };
  try {
    const tag = randomBytes(4).toString("hex");
    const owner = await inject("POST", "/v1/auth/sign-up", null, {
      email: `owner.${tag}@example.com`,
      name: "Bench Owner",
      password: PASSWORD,
    });
    const ownerToken = owner.token as string;
    const org = await inject("POST", "/v1/orgs", ownerToken, { name: "Bench", policy: "saas" });
    const orgId = org.id as string;
    // Everyone is invited first; the outbox then delivers the mails (as the server's worker would), and each
    // invitee accepts through the link it was sent.
    const readerEmail = `reader.${tag}@example.com`;
    const flipperEmail = `flipper.${tag}@example.com`;
    const invitees = [
      { name: "Reader", email: readerEmail },
      { name: "Flipper", email: flipperEmail },
      ...Array.from({ length: members }, (_, i) => ({ name: `Member ${i}`, email: `member${i}.${tag}@example.com` })),
    ];
    for (const { email } of invitees)
      await inject("POST", `/v1/orgs/${orgId}/invitations`, ownerToken, { email, role: "member" });
    const worker = outboxWorker(deps);
    for (let round = 0; round < invitees.length; round++) {
      const r = await worker.runOnce();
      if (r.failed > 0) throw new Error("an invitation mail could not be delivered");
      if (r.sent === 0) break;
    }
    const tokens = new Map<string, string>();
    for (const { name, email } of invitees) {
      const mail = mailer.sent.findLast((m) => m.to === email);
      const link = /accept-invitation\?token=([^\s"&<]+)/.exec(mail?.text ?? "")?.[1];
      if (!link) throw new Error(`no invitation link mailed to ${email}`);
      const accepted = await inject("POST", `/v1/invitations/${decodeURIComponent(link)}/accept`, null, {
        name,
        password: PASSWORD,
      });
      tokens.set(email, accepted.token as string);
    }
    const readerToken = tokens.get(readerEmail)!;
    const flipperToken = tokens.get(flipperEmail)!;
    const list = await inject("GET", `/v1/orgs/${orgId}/members?limit=200`, ownerToken);
    const rows = (list.data as Array<{ id: string; email: string }>) ?? [];
    const idOf = (email: string) => {
      const row = rows.find((m) => m.email === email);
      if (!row) throw new Error(`member ${email} not listed`);
      return row.id;
    };
    return {
      orgId,
      ownerToken,
      readerToken,
      readerMemberId: idOf(readerEmail),
      flipperToken,
      flipperMemberId: idOf(flipperEmail),
    };
  } finally {
    await app.close();
  }
}

function rosterLoads(f: RosterFixture): Load[] {
  const auth = bearer(f.readerToken);
  return [
    { endpoint: "GET /v1/me", path: "/v1/me", headers: auth },
    {
      endpoint: "POST /v1/authorize",
      path: "/v1/authorize",
      method: "POST",
      headers: auth,
      body: { orgId: f.orgId, action: "read", resource: { type: "member" } },
    },
    { endpoint: "member read (self)", path: `/v1/orgs/${f.orgId}/members/${f.readerMemberId}`, headers: auth },
    { endpoint: "members page (limit 50)", path: `/v1/orgs/${f.orgId}/members?limit=50`, headers: auth },
  ];
}

async function measureServer(
  server: string,
  base: string,
  liveness: Load,
  loads: Load[],
  o: HttpBenchOptions,
): Promise<EndpointResult[]> {
  // Interleaved rounds of about a second: the liveness route and each endpoint in turn, round after round, so that
  // load from elsewhere on the machine, which comes and goes, falls on every row alike. req/s is over all rounds;
  // p50 is the median of the rounds' p50s and p99 the highest of their p99s.
  const all = [liveness, ...loads];
  const rounds = Math.max(1, Math.floor(o.seconds));
  const results = all.map(() => [] as LoadResult[]);
  for (let round = 0; round < rounds; round++)
    for (const [i, l] of all.entries())
      results[i]!.push(await load(base, l, o.seconds / rounds, o.connections, round === 0));
  const merged = results.map((rs) => {
    const p50s = rs.map((r) => r.p50).sort((x, y) => x - y);
    const total = rs.reduce((n, r) => n + r.total, 0);
    const duration = rs.reduce((n, r) => n + r.duration, 0);
    return {
      requestsPerSecond: total / duration,
      p50: p50s[Math.floor(p50s.length / 2)]!,
      p99: Math.max(...rs.map((r) => r.p99)),
      total,
      duration,
    };
  });
  const ceiling = merged[0]!.requestsPerSecond;
  return merged.map((r, i) => ({ server, endpoint: all[i]!.endpoint, ...r, ratio: r.requestsPerSecond / ceiling }));
}

// ---------------------------------------------------------------------------------------------------------------
// Revocation propagation: a role change on instance A, seen by instance B

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * `revocations` times an owner on A taking admin away from a member (admin → member), `grants` giving it back:
 * each revocation is preceded by a grant, so `changes` revocations are 2 × `changes` role changes.
 */
async function propagation(a: string, b: string, f: RosterFixture, changes: number): Promise<Propagation> {
  // Admins may read API keys, members may not: the flipper's answer on B flips with each role change on A.
  const ask = async () => {
    const res = await call(b, "POST", "/v1/authorize", {
      headers: bearer(f.flipperToken),
      body: { orgId: f.orgId, action: "read", resource: { type: "api_key" } },
    });
    if (res.status !== 200) throw new Error(`authorize on B: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.allowed === true;
  };
  const until = async (expected: boolean) => {
    const start = performance.now();
    let polls = 0;
    while (performance.now() - start < PROPAGATION_LIMIT_MS) {
      polls++;
      if ((await ask()) === expected) return { ms: performance.now() - start, polls, seen: true };
    }
    return { ms: performance.now() - start, polls, seen: false };
  };
  const samples = { true: [] as number[], false: [] as number[] };
  const missed = { true: 0, false: 0 };
  const polls = { true: 0, false: 0 };
  let admin = false;
  // B answers (and may cache) the current state first, so what is measured is a change, not a cold read.
  if (!(await until(admin)).seen) throw new Error("instance B does not answer the member's starting role");
  for (let i = 0; i < changes * 2; i++) {
    const next: boolean = !admin;
    await expectOk(a, "PATCH", `/v1/orgs/${f.orgId}/members/${f.flipperMemberId}`, {
      headers: bearer(f.ownerToken),
      body: { role: next ? "admin" : "member" },
    });
    // A has answered, so the change has committed; from here, B's first answer that reflects it.
    const seen = await until(next);
    const key = next ? "true" : "false";
    polls[key] += seen.polls;
    if (seen.seen) samples[key].push(seen.ms);
    else {
      missed[key]++;
      // Not seen within the limit: wait (bounded) until B agrees again before the next change.
      if (!(await until(next)).seen) throw new Error("instance B never reflected a change made on A");
    }
    admin = next;
  }
  const stats = (key: "true" | "false"): PropagationStats => {
    const times = samples[key].sort((x, y) => x - y);
    return {
      changes,
      p50: percentile(times, 0.5),
      p99: percentile(times, 0.99),
      max: times[times.length - 1] ?? NaN,
      missed: missed[key],
      pollsPerChange: polls[key] / changes,
    };
  };
  return { revocations: stats("false"), grants: stats("true") };
}

// ---------------------------------------------------------------------------------------------------------------
// Better Auth

async function betterAuthFixture(base: string): Promise<{ cookie: string }> {
  const origin = { origin: base };
  const signUp = await expectOk(base, "POST", "/api/auth/sign-up/email", {
    headers: origin,
    body: { email: `bench.${randomBytes(4).toString("hex")}@example.com`, password: PASSWORD, name: "Bench" },
  });
  const cookie = signUp.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith("better-auth.session_token="));
  if (!cookie) throw new Error("Better Auth sign-up set no session cookie");
  const headers = { ...origin, cookie };
  const org = await expectOk(base, "POST", "/api/auth/organization/create", {
    headers,
    body: { name: "Bench", slug: `bench-${randomBytes(4).toString("hex")}` },
  });
  await expectOk(base, "POST", "/api/auth/organization/set-active", {
    headers,
    body: { organizationId: org.body.id },
  });
  const member = await expectOk(base, "GET", "/api/auth/organization/get-active-member", { headers });
  if (member.body.organizationId !== org.body.id) throw new Error("Better Auth has no active member");
  return { cookie };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

async function reachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const find = (rows: EndpointResult[], server: string, endpoint: string) =>
  rows.find((r) => r.server === server && r.endpoint === endpoint);

function targets(rows: EndpointResult[], prop: Propagation | null): Target[] {
  const out: Target[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const share = (name: string, server: string, endpoint: string, min: number) => {
    const r = find(rows, server, endpoint);
    out.push({
      name,
      value: r ? `${pct(r.ratio)} of /healthz` : "not measured",
      met: r ? r.ratio >= min : null,
    });
  };
  const p99 = (name: string, server: string, endpoint: string) => {
    const r = find(rows, server, endpoint);
    out.push({ name, value: r ? `${r.p99} ms` : "not measured", met: r ? r.p99 < 10 : null });
  };
  share("PostgreSQL: POST /v1/authorize ≥ 40% of /healthz", "Roster on PostgreSQL", "POST /v1/authorize", 0.4);
  share("PostgreSQL: member read ≥ 30% of /healthz", "Roster on PostgreSQL", "member read (self)", 0.3);
  p99("PostgreSQL: POST /v1/authorize p99 < 10 ms", "Roster on PostgreSQL", "POST /v1/authorize");
  p99("PostgreSQL: member read p99 < 10 ms", "Roster on PostgreSQL", "member read (self)");
  const read = find(rows, "Roster on PostgreSQL", "member read (self)");
  const active = find(rows, "Better Auth on PostgreSQL", "GET get-active-member");
  const times = read && active ? read.requestsPerSecond / active.requestsPerSecond : null;
  out.push({
    name: "member read ≥ 20× Better Auth get-active-member",
    value: times === null ? "not measured" : `${times.toFixed(2)}×`,
    met: times === null ? null : times >= 20,
  });
  share("PGlite: POST /v1/authorize ≥ 25% of its /healthz", "Roster on PGlite", "POST /v1/authorize", 0.25);
  share("PGlite: member read ≥ 25% of its /healthz", "Roster on PGlite", "member read (self)", 0.25);
  const r = prop?.revocations;
  out.push({
    name: "revocation seen by the other instance: p99 < 100 ms",
    value: r ? `p99 ${r.p99.toFixed(1)} ms${r.missed ? `, ${r.missed} not seen in 2 s` : ""}` : "not measured",
    met: r ? r.missed === 0 && r.p99 < 100 : null,
  });
  return out;
}

function print(result: HttpBenchResult, o: HttpBenchOptions) {
  const { log } = o;
  log(
    `\n${o.connections} connections, ${o.seconds} s per endpoint in ${Math.max(1, Math.floor(o.seconds))} interleaved rounds (autocannon, after a short warm-up); p50: median of the rounds, p99: highest of the rounds:\n`,
  );
  log("| server | endpoint | req/s | p50 ms | p99 ms | / same server's liveness |");
  log("|---|---|---|---|---|---|");
  for (const r of result.endpoints)
    log(
      `| ${r.server} | ${r.endpoint} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50} | ${r.p99} | ${(r.ratio * 100).toFixed(1)}% |`,
    );
  const read = find(result.endpoints, "Roster on PostgreSQL", "member read (self)");
  const active = find(result.endpoints, "Better Auth on PostgreSQL", "GET get-active-member");
  if (read && active)
    log(
      `\nRoster member read / Better Auth get-active-member: ${(read.requestsPerSecond / active.requestsPerSecond).toFixed(2)}×`,
    );
  const p = result.propagation;
  if (p) {
    log(
      `\nPropagation between two instances on one database (role change on A → first answer on B that reflects it):\n`,
    );
    log("| change | count | p50 ms | p99 ms | max ms | not seen in 2 s | requests to B per change |");
    log("|---|---|---|---|---|---|---|");
    for (const [name, x] of [
      ["revocation (admin → member, B refuses)", p.revocations],
      ["grant (member → admin, B allows)", p.grants],
    ] as const)
      log(
        `| ${name} | ${x.changes} | ${x.p50.toFixed(2)} | ${x.p99.toFixed(2)} | ${x.max.toFixed(2)} | ${x.missed} | ${x.pollsPerChange.toFixed(1)} |`,
      );
  }
  for (const s of result.skipped) log(`\nSkipped: ${s}`);
  log("\nTargets (printed, not asserted):\n");
  log("| target | measured | |\n|---|---|---|");
  for (const t of result.targets)
    log(`| ${t.name} | ${t.value} | ${t.met === null ? "not measured" : t.met ? "met" : "not met"} |`);
}

/** Runs one step of the set-up and logs how long it took (the set-up is most of a short run's time). */
async function step<T>(o: HttpBenchOptions, label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await fn();
  o.log(`  ${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return value;
}

export async function runHttpBench(o: HttpBenchOptions): Promise<HttpBenchResult> {
  const endpoints: EndpointResult[] = [];
  const skipped: string[] = [];
  let prop: Propagation | null = null;
  const secretKey = randomBytes(32).toString("hex");
  const cleanups: Array<() => Promise<void>> = [];
  try {
    let postgres = o.postgresUrl;
    if (postgres) {
      const why = await reachable(postgres);
      if (why) {
        skipped.push(`PostgreSQL (${why}): set DATABASE_URL to a reachable server`);
        postgres = undefined;
      }
    }
    if (postgres) {
      o.log("Roster on PostgreSQL …");
      const scratch = await step(o, "database created", () =>
        scratchDatabase(postgres, { prefix: "roster_bench_http" }),
      );
      let dropped = false;
      const drop = async () => {
        if (!dropped) await scratch.drop();
        dropped = true;
      };
      cleanups.push(drop);
      const fixture = await step(o, "seeded", () => seedRoster(scratch.db, secretKey, o.members));
      const a = await step(o, "roster start answering", () =>
        startRoster("Roster (PostgreSQL)", { url: scratch.url! }, secretKey),
      );
      cleanups.push(a.stop);
      const liveness: Load = { endpoint: "GET /healthz", path: "/healthz" };
      endpoints.push(...(await measureServer("Roster on PostgreSQL", a.base, liveness, rosterLoads(fixture), o)));
      if (o.changes > 0) {
        o.log("Propagation between two instances …");
        const b = await startRoster("Roster (PostgreSQL, second instance)", { url: scratch.url! }, secretKey);
        cleanups.push(b.stop);
        prop = await propagation(a.base, b.base, fixture, o.changes);
        await b.stop();
      }
      await a.stop();
      await drop();
    }
    if (o.pglite) {
      o.log("Roster on PGlite …");
      const dataDir = mkdtempSync(join(tmpdir(), "roster-bench-http-"));
      cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
      const fixture = await step(o, "database created and seeded", async () => {
        const db = await openDatabase({ dataDir });
        try {
          return await seedRoster(db, secretKey, o.members);
        } finally {
          await db.close();
        }
      });
      const server = await step(o, "roster start answering", () =>
        startRoster("Roster (PGlite)", { dataDir }, secretKey),
      );
      cleanups.push(server.stop);
      const liveness: Load = { endpoint: "GET /healthz", path: "/healthz" };
      endpoints.push(...(await measureServer("Roster on PGlite", server.base, liveness, rosterLoads(fixture), o)));
      await server.stop();
    }
    if (o.betterAuth && postgres) {
      o.log("Better Auth on PostgreSQL …");
      const database = await createScratchDatabase(postgres, "better_auth_bench");
      cleanups.push(database.drop);
      const port = await freePort();
      const server = await startChild(
        "Better Auth",
        ["--import", "tsx", join(import.meta.dirname, "http-better-auth.ts")],
        { BETTER_AUTH_DATABASE_URL: database.url, BETTER_AUTH_SECRET: randomBytes(32).toString("hex") },
        port,
        "/api/auth/ok",
      );
      cleanups.push(server.stop);
      const { cookie } = await betterAuthFixture(server.base);
      const headers = { cookie };
      endpoints.push(
        ...(await measureServer(
          "Better Auth on PostgreSQL",
          server.base,
          { endpoint: "GET /api/auth/ok", path: "/api/auth/ok" },
          [
            { endpoint: "GET get-session", path: "/api/auth/get-session", headers },
            { endpoint: "GET get-active-member", path: "/api/auth/organization/get-active-member", headers },
          ],
          o,
        )),
      );
      await server.stop();
    } else if (o.betterAuth) skipped.push("Better Auth (it runs on PostgreSQL only)");
    if (!postgres && o.changes > 0) skipped.push("propagation between two instances (PostgreSQL only)");
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
  const result = { endpoints, propagation: prop, targets: targets(endpoints, prop), skipped };
  print(result, o);
  return result;
}

function positiveNumber(name: string, fallback: number, integer = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
    throw new Error(`${name} must be a ${integer ? "whole " : ""}number ≥ 0, got "${raw}"`);
  return n;
}

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): HttpBenchOptions {
  const engines = (env.BENCH_HTTP_ENGINES ?? "postgres,pglite").split(",").map((e) => e.trim());
  for (const e of engines)
    if (e !== "postgres" && e !== "pglite") throw new Error(`BENCH_HTTP_ENGINES: unknown engine "${e}"`);
  const seconds = positiveNumber("BENCH_HTTP_SECONDS", 5);
  if (seconds < 1) throw new Error("BENCH_HTTP_SECONDS must be at least 1");
  const connections = positiveNumber("BENCH_HTTP_CONNECTIONS", 10, true);
  if (connections < 1) throw new Error("BENCH_HTTP_CONNECTIONS must be at least 1");
  return {
    seconds,
    connections,
    postgresUrl: engines.includes("postgres") ? env.DATABASE_URL || DEFAULT_POSTGRES : undefined,
    pglite: engines.includes("pglite"),
    betterAuth: env.BENCH_HTTP_BETTER_AUTH !== "false",
    changes: positiveNumber("BENCH_HTTP_CHANGES", 200, true),
    members: positiveNumber("BENCH_HTTP_MEMBERS", 60, true),
    log: (line) => console.log(line),
  };
}

export const httpBenchmark: Benchmark = {
  name: "http",
  description:
    "Roster over HTTP on PostgreSQL and PGlite against its own /healthz and Better Auth; change propagation between two instances",
  async run() {
    await runHttpBench(optionsFromEnv());
  },
};
