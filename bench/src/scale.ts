// Large organizations: 100,000 members and 1,000,000 audit events in one org, measured through HTTP.
// PostgreSQL when DATABASE_URL is set (a scratch database is created and dropped), embedded PGlite otherwise.
// The data is made with set-based SQL (generate_series; the audit chain in 10,000-event statements), never one
// API call per row. Prints p50/p95/p99 per page shape, the plan of each member-list shape, export times and memory,
// the audit feed with each filter, verification of the whole chain, and the compliance report.
import { performance } from "node:perf_hooks";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { sql } from "drizzle-orm";
import { createApp } from "../../packages/server/src/app.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import { rowsOf, type Database } from "../../packages/server/src/db/database.ts";
import { scratchDatabase } from "../../packages/server/src/db/scratch.ts";
import { systemClock } from "../../packages/server/src/lib/clock.ts";
import type { Mailer } from "../../packages/server/src/mail/mailer.ts";
import { canonicalJson, chainHash, GENESIS_HASH, type ChainedEvent } from "../../packages/server/src/audit/chain.ts";
import { memberPagePlan, type MemberQuery } from "../../packages/server/src/members/queries.ts";
import { download, downloadApart } from "./export.ts";
import { startRoster } from "./http.ts";
import { jobs as scheduledJobs } from "../../packages/server/src/jobs/registry.ts";
import type { Benchmark } from "./types.ts";

const MEMBERS = Number(process.env.BENCH_SCALE_MEMBERS ?? 100_000);
const EVENTS = Number(process.env.BENCH_SCALE_EVENTS ?? 1_000_000);
// 100 per shape, so the p99 is the 99th of 100 samples rather than the single slowest of 30.
const SECRET_KEY = "33".repeat(32);
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 100);
const DAY = 86_400_000;
const MB = 1024 * 1024;

/** 100,000 people and their memberships in two statements; values spread so every filter and sort has work. */
export async function seedMembers(db: Database, orgId: string, n: number): Promise<void> {
  await db.owner(async (d) => {
    await d.execute(sql`
      INSERT INTO users (id, email, name, password_hash, last_login_at, created_at, updated_at)
      SELECT 'usr_s' || lpad(g::text, 7, '0'),
             (ARRAY['ann','ben','cara','dev','eli','fay','gus','hana','ivo','jun'])[1 + g % 10] || '.' ||
               (ARRAY['lee','moss','ng','ortiz','park','quinn','rossi','sato','tran','vega'])[1 + (g / 10) % 10] || g || '@example.com',
             initcap((ARRAY['ann','ben','cara','dev','eli','fay','gus','hana','ivo','jun'])[1 + g % 10]) || ' ' ||
               initcap((ARRAY['lee','moss','ng','ortiz','park','quinn','rossi','sato','tran','vega'])[1 + (g / 10) % 10]) || ' ' || g,
             NULL,
             CASE WHEN g % 10 = 0 THEN NULL ELSE now() - ((g::bigint * 7919) % 400) * interval '1 day' - (g % 1440) * interval '1 minute' END,
             now() - interval '800 days', now()
      FROM generate_series(1, ${n}) AS g`);
    await d.execute(sql`
      INSERT INTO members (org_id, id, user_id, role, status, department, store_ids, created_at, updated_at, removed_at)
      SELECT ${orgId}, 'mem_s' || lpad(g::text, 7, '0'), 'usr_s' || lpad(g::text, 7, '0'),
             CASE WHEN g % 500 = 1 THEN 'admin' WHEN g % 7 = 0 THEN 'read_only' ELSE 'staff' END,
             -- 1 in 49 removed, spread over every name: with 1 in 50, every removed member was an "Ann Lee" or an
             -- "Ann Quinn", and the name and email orders opened with 1,000 removed rows no real org has.
             CASE WHEN g % 49 = 0 THEN 'removed' WHEN g % 12 = 0 THEN 'inactive' ELSE 'active' END,
             (ARRAY['sales','finance','tech', NULL])[1 + g % 4],
             ARRAY['store' || (g % 20)], now() - ((g::bigint * 104729) % 700) * interval '1 day', now(),
             CASE WHEN g % 49 = 0 THEN now() - interval '3 days' END
      FROM generate_series(1, ${n}) AS g`);
    // What autovacuum does after a bulk insert (PostgreSQL; PGlite's hourly job analyzes): done here, so it does
    // not run in the background while pages are timed.
    for (const table of ["users", "members", "member_stores"]) await d.execute(sql.raw(`VACUUM (ANALYZE) ${table}`));
  });
}

const ACTIONS = [
  ["auth.sign_in_succeeded", "auth"],
  ["auth.sign_in_failed", "auth"],
  ["team.role_changed", "team"],
  ["api_key.created", "api_key"],
  ["team.deactivated", "team"],
  ["security.updated", "security"],
] as const;

/** A correctly chained log of `count` events (hashes computed here), written 10,000 events per statement. */
export async function seedChain(db: Database, orgId: string, count: number, members: number): Promise<void> {
  const BATCH = 10_000;
  // The org's own first events (its creation) make way for a chain written from seq 1, and so do their hourly
  // marks: a mark left from a deleted event stays a correct bound, but one far wider than the seeded chain needs.
  await db.owner(async (d) => {
    await d.execute(sql`DELETE FROM audit_events WHERE org_id = ${orgId}`);
    await d.execute(sql`DELETE FROM audit_time_marks WHERE org_id = ${orgId}`);
  });
  let prev = GENESIS_HASH;
  const t0 = Date.now() - 60 * DAY;
  const step = (60 * DAY) / count;
  for (let from = 1; from <= count; from += BATCH) {
    const rows: unknown[] = [];
    for (let seq = from; seq < from + BATCH && seq <= count; seq++) {
      const [action, entityType] = ACTIONS[seq % ACTIONS.length]!;
      const who = 1 + ((seq * 31) % members);
      const e: ChainedEvent = {
        orgId,
        seq,
        id: `evt_s${String(seq).padStart(9, "0")}`,
        action,
        actorId: `usr_s${String(1 + (seq % 1000)).padStart(7, "0")}`,
        targetId:
          entityType === "team" ? `mem_s${String(who).padStart(7, "0")}` : `usr_s${String(who).padStart(7, "0")}`,
        entityType,
        before: action === "team.role_changed" ? { role: "staff" } : null,
        after: action === "team.role_changed" ? { role: "read_only" } : null,
        ip: "203.0.113.10",
        userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
        createdAt: new Date(Math.floor(t0 + seq * step)).toISOString(),
      };
      const hash = chainHash(prev, e);
      rows.push({
        seq,
        id: e.id,
        action,
        actor_id: e.actorId,
        target_id: e.targetId,
        entity_type: entityType,
        // As record() writes them: RFC 8785 text, which the database's canonical form takes verbatim.
        before: e.before === null ? null : canonicalJson(e.before),
        after: e.after === null ? null : canonicalJson(e.after),
        ip: e.ip,
        user_agent: e.userAgent,
        created_at: e.createdAt,
        prev_hash: prev,
        hash,
      });
      prev = hash;
    }
    await db.owner((d) =>
      d.execute(sql`
        INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash)
        SELECT ${orgId}, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash
        FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS t(seq bigint, id text, action text, actor_id text,
          target_id text, entity_type text, before text, after text, ip text, user_agent text, created_at timestamptz,
          prev_hash text, hash text)`),
    );
  }
  await db.owner(async (d) => {
    await d.execute(sql`UPDATE audit_heads SET last_seq = ${count}, last_hash = ${prev} WHERE org_id = ${orgId}`);
    // What autovacuum (PostgreSQL) or the hourly statistics job (PGlite) does after a bulk append.
    await d.execute(sql`VACUUM (ANALYZE) audit_events`);
  });
}

interface Client {
  port: number;
  token: string;
}

async function call(
  c: Client | number,
  method: string,
  path: string,
  body?: object,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const port = typeof c === "number" ? c : c.port;
  const send = () =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...(body ? { "content-type": "application/json" } : {}),
        ...(typeof c === "number" || !c.token ? {} : { authorization: `Bearer ${c.token}` }),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  // A connection kept alive across the long seeding may have been closed by the server: one retry.
  const res = await send().catch(() => send());
  const text = await res.text();
  return { status: res.status, json: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

/** `RUNS` timed GETs after three warm-ups; the last answer's body is returned for the table. */
async function timed(
  c: Client,
  path: string,
): Promise<{ p50: number; p95: number; p99: number; body: Record<string, unknown> }> {
  let body: Record<string, unknown> = {};
  for (let i = 0; i < 3; i++) {
    const r = await call(c, "GET", path);
    if (r.status !== 200) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(r.json)}`);
    body = r.json;
  }
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const r = await call(c, "GET", path);
    times.push(performance.now() - t);
    body = r.json;
  }
  return { p50: pct(times, 50), p95: pct(times, 95), p99: pct(times, 99), body };
}

/** The plan of the first statement a member-list page runs, as the application role with the org bound. */
async function planOf(db: Database, orgId: string, userId: string, q: MemberQuery): Promise<string> {
  return db.tx({ orgId, userId }, async (tx) => {
    const plan = memberPagePlan(orgId, q, sql`true`, new Date(), true);
    const stmt = plan.first ?? plan.second!(q.limit + 1);
    const lines = rowsOf<{ "QUERY PLAN": string }>(await tx.execute(sql`EXPLAIN (COSTS OFF) ${stmt}`));
    return lines.map((l) => l["QUERY PLAN"]).join("\n");
  });
}

/** The index the plan reads, or "NO INDEX" when it scans the table. */
function indexOf(plan: string): string {
  const idx = [...plan.matchAll(/(?:Index(?: Only)? Scan(?: Backward)?|Bitmap Index Scan) (?:using|on) (\w+)/g)].map(
    (m) => m[1],
  );
  return idx.length > 0 ? [...new Set(idx)].join(" + ") : "NO INDEX";
}

export const scaleBenchmark: Benchmark = {
  name: "scale",
  description: `one org with ${MEMBERS.toLocaleString("en")} members and ${EVENTS.toLocaleString("en")} audit events, through HTTP`,
  async run() {
    const { db, drop, url } = await scratchDatabase(process.env.DATABASE_URL, {
      prefix: "roster_bench",
      poolSize: 8,
    });
    const config = loadConfig({
      ROSTER_SECRET_KEY: SECRET_KEY,
      ROSTER_DATA_DIR: "memory://",
      ROSTER_PUBLIC_URL: "http://127.0.0.1:4000",
    });
    const mailer: Mailer = { send: async () => undefined };
    const app = await createApp({
      db,
      config: { ...config, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      clock: systemClock,
      mailer,
      logger: process.env.BENCH_SCALE_LOG ? { level: "error" } : false,
    });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const port = (app.server.address() as AddressInfo).port;
      const signUp = await call(port, "POST", "/v1/auth/sign-up", {
        email: "scale-owner@example.com",
        name: "Scale Owner",
        password: "correct horse battery staple",
      });
      const c: Client = { port, token: String(signUp.json.token) };
      const userId = String((signUp.json.user as { id: string }).id);
      const org = await call(c, "POST", "/v1/orgs", { name: "Scale Co", policy: "operations" });
      const orgId = String(org.json.id);

      let t = performance.now();
      await seedMembers(db, orgId, MEMBERS - 1);
      const seedMembersS = (performance.now() - t) / 1000;
      t = performance.now();
      if (EVENTS > 0) await seedChain(db, orgId, EVENTS, MEMBERS - 1);
      const seedEventsS = (performance.now() - t) / 1000;
      console.log(
        `database: ${db.kind}; ${MEMBERS.toLocaleString("en")} members seeded in ${seedMembersS.toFixed(1)} s, ` +
          `${EVENTS.toLocaleString("en")} chained audit events in ${seedEventsS.toFixed(1)} s; ${RUNS} requests per shape; ` +
          `load average ${loadavg()[0]!.toFixed(1)}\n`,
      );

      // Member list shapes.
      const m = `/v1/orgs/${orgId}/members`;
      const shapes: Array<[string, MemberQuery]> = [
        ["first page (50)", { limit: 50 }],
        ...(["name", "email", "role", "status", "lastLoginAt", "createdAt"] as const).flatMap(
          (s): Array<[string, MemberQuery]> => [
            [`sort ${s}`, { sort: s, limit: 50 }],
            [`sort -${s}`, { sort: `-${s}`, limit: 50 }],
          ],
        ),
        ["role + status filter", { role: "read_only", status: "inactive", limit: 50 }],
        ["rare role (admin) + sort -lastLoginAt", { role: "admin", sort: "-lastLoginAt", limit: 50 }],
        ["search q=ann (many)", { q: "ann", limit: 50 }],
        ["search q=ortiz4217 (one)", { q: "ortiz4217", limit: 50 }],
        ["store filter + sort name", { store: "store7", sort: "name", limit: 50 }],
        ["department + sort -createdAt", { department: "finance", sort: "-createdAt", limit: 50 }],
        ["dormantDays=90 + sort lastLoginAt", { dormantDays: 90, sort: "lastLoginAt", limit: 50 }],
      ];
      const qs = (q: MemberQuery) => {
        const p = new URLSearchParams();
        for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
        return p.toString();
      };
      console.log("| member list shape | p50 ms | p95 ms | p99 ms | total | exact | index used |");
      console.log("|---|---|---|---|---|---|---|");
      // The floor on this machine right now: the framework alone, and one member read (authentication, org
      // binding and one transaction), so a busy machine's numbers can be read against it.
      const floor = await timed({ port, token: "" }, "/healthz");
      console.log(`| (reference) GET /healthz | ${ms(floor.p50)} | ${ms(floor.p95)} | ${ms(floor.p99)} | | | |`);
      const one = await timed(c, `${m}/${String(org.json.memberId)}`);
      console.log(`| (reference) GET one member | ${ms(one.p50)} | ${ms(one.p95)} | ${ms(one.p99)} | | | |`);
      for (const [name, q] of shapes) {
        const r = await timed(c, `${m}?${qs(q)}`);
        const plan = await planOf(db, orgId, userId, q);
        console.log(
          `| ${name} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${String(r.body.total)} | ${String(r.body.totalExact)} | ${indexOf(plan)} |`,
        );
      }
      // Page 100 of a cursor walk (an earlier page when a small run has fewer pages).
      const depth = Math.max(1, Math.min(99, Math.floor((MEMBERS * 0.9) / 200) - 1));
      let cursor: string | null = null;
      for (let i = 0; i < depth; i++) {
        const r = await call(c, "GET", `${m}?limit=200${cursor ? `&cursor=${cursor}` : ""}`);
        cursor = r.json.nextCursor as string | null;
        if (!cursor) throw new Error(`the walk ended at page ${i + 1}`);
      }
      const p100 = await timed(c, `${m}?limit=200&cursor=${cursor}`);
      const plan100 = await planOf(db, orgId, userId, { limit: 200, cursor: cursor! });
      console.log(
        `| page ${depth + 1} of a cursor walk (limit 200) | ${ms(p100.p50)} | ${ms(p100.p95)} | ${ms(p100.p99)} | ${String(p100.body.total)} | ${String(p100.body.totalExact)} | ${indexOf(plan100)} |`,
      );
      if (process.env.BENCH_SCALE_PLANS) {
        for (const [name, q] of shapes) console.log(`\n${name}:\n${await planOf(db, orgId, userId, q)}`);
      }

      // Exports.
      console.log("\n| export (status=all) | size | time | peak RSS above idle |");
      console.log("|---|---|---|---|");
      for (const format of ["csv", "xlsx"] as const) {
        await download(port, `${m}/export?format=${format}&role=owner`, c.token);
        const idle = process.memoryUsage().rss;
        const r = await download(port, `${m}/export?format=${format}&status=all`, c.token);
        console.log(
          `| ${format} | ${(r.bytes / MB).toFixed(1)} MB | ${(r.ms / 1000).toFixed(2)} s | ${((r.peakRss - idle) / MB).toFixed(0)} MB |`,
        );
      }

      console.log(`\nload average ${loadavg()[0]!.toFixed(1)}`);
      if (EVENTS === 0) return;
      // Audit feed.
      const a = `/v1/orgs/${orgId}/audit-events`;
      const day = (d: number) => new Date(Date.now() - d * DAY).toISOString();
      const feeds: Array<[string, string]> = [
        ["newest page", ""],
        ["action=team.role_changed", "action=team.role_changed"],
        ["actorId (one of 1,000 actors)", "actorId=usr_s0000042"],
        ["targetId (one member)", `targetId=mem_s${String(1 + ((2 * 31) % (MEMBERS - 1))).padStart(7, "0")}`],
        ["entityType=security", "entityType=security"],
        ["from/to: one day 30 days ago", `from=${day(31)}&to=${day(30)}`],
        ["from: last hour", `from=${new Date(Date.now() - 3_600_000).toISOString()}`],
        ["action + from/to", `action=auth.sign_in_failed&from=${day(45)}&to=${day(44)}`],
      ];
      console.log(
        `\n| audit feed at ${EVENTS.toLocaleString("en")} events (limit 50) | p50 ms | p95 ms | p99 ms | rows |`,
      );
      console.log("|---|---|---|---|---|");
      for (const [name, q] of feeds) {
        const r = await timed(c, `${a}?limit=50${q ? `&${q}` : ""}`);
        console.log(`| ${name} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.p99)} | ${(r.body.data as unknown[]).length} |`);
      }

      // Verification of the whole chain and the compliance report (a handful of runs: each reads everything).
      const slow = async (path: string, runs: number) => {
        const times: number[] = [];
        let body: Record<string, unknown> = {};
        for (let i = 0; i < runs; i++) {
          const t0 = performance.now();
          const r = await call(c, "GET", path);
          times.push(performance.now() - t0);
          // A failure is reported in the table rather than ending the run (the other rows still count).
          body = r.status === 200 ? r.json : { failed: `answered ${r.status}` };
        }
        return { best: Math.min(...times), worst: Math.max(...times), body };
      };
      console.log("\n| whole-org operation | best | worst | result |");
      console.log("|---|---|---|---|");
      const v = await slow(`${a}/verify`, 3);
      console.log(
        `| verify ${EVENTS.toLocaleString("en")} events | ${(v.best / 1000).toFixed(2)} s | ${(v.worst / 1000).toFixed(2)} s | ok=${String(v.body.ok)} lastSeq=${String(v.body.lastSeq)} |`,
      );
      // On PostgreSQL the report is asked of `roster start` in a process of its own, on the same database, as an
      // operator runs it: this process has seeded a million events and served every table above, and its heap
      // and pool are not a server's. On PGlite the database lives in this process, so this process answers.
      const reporter = url ? await startRoster("Roster (PostgreSQL)", { url }, SECRET_KEY) : null;
      try {
        if (reporter) await settled(db);
        await reportRows(reporter ? Number(new URL(reporter.base).port) : port, orgId, c.token);
        await keptMonthRows(db, reporter ? Number(new URL(reporter.base).port) : port, orgId, c.token);
      } finally {
        await reporter?.stop();
      }
    } finally {
      await app.close();
      await drop();
    }
  },
};

/**
 * Waits until the jobs a freshly started server runs at once (the checkpoint job verifies the whole chain, the
 * statistics job analyzes) have finished, so they do not run beside what is timed.
 */
async function settled(db: Database): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    // The scheduler runs its jobs one after another and writes each one's row when it first claims it: settled
    // when every job has a row, each finished, none leased.
    const [state] = rowsOf<{ done: number; busy: number }>(
      await db.owner((d) =>
        d.execute(sql`
          SELECT count(*) FILTER (WHERE last_finished_at IS NOT NULL)::int AS done,
                 count(*) FILTER (WHERE locked_until > now())::int AS busy
            FROM job_runs`),
      ),
    );
    if (state && state.done >= scheduledJobs.length && state.busy === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("the started server's first jobs did not finish within 120 s");
}

/**
 * The previous month's report (finished; the seeded chain covers it): the first request, which builds and keeps it,
 * then the kept one three times. The monthly job of a started server may have kept it already: that is removed
 * first (as the owner), so the first request is timed as a user meets it before the job has run.
 */
async function keptMonthRows(db: Database, port: number, orgId: string, token: string): Promise<void> {
  const now = new Date();
  const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
  await db.owner((d) => d.execute(sql`DELETE FROM compliance_reports WHERE org_id = ${orgId} AND month = ${month}`));
  const path = `/v1/orgs/${orgId}/reports/compliance?month=${month}&format=json`;
  const first = await downloadApart(port, path, token);
  const kept: number[] = [];
  for (let i = 0; i < 3; i++) kept.push((await downloadApart(port, path, token)).ms);
  const mb = (first.bytes / MB).toFixed(1);
  console.log(
    `| compliance report ${month}, finished, first request (JSON) | ${(first.ms / 1000).toFixed(2)} s | | ${mb} MB, kept by it |`,
  );
  console.log(
    `| compliance report ${month}, kept (JSON) | ${(Math.min(...kept) / 1000).toFixed(2)} s | ${(Math.max(...kept) / 1000).toFixed(2)} s | ${mb} MB |`,
  );
}

/** The compliance report of the running month, JSON three times and XLSX twice, from the server on `port`. */
async function reportRows(port: number, orgId: string, token: string): Promise<void> {
  const c = { port, token };
  const month = new Date().toISOString().slice(0, 7);
  // Timed to the answer's last byte by a client in a process of its own, as the XLSX below: parsing 66 MB of
  // JSON, or even reading it, in this process would be counted as the server's time. One more call, untimed,
  // is parsed for the member count.
  const report = `/v1/orgs/${orgId}/reports/compliance?month=${month}`;
  const jsonTimes: number[] = [];
  let jsonBytes = 0;
  for (let i = 0; i < 3; i++) {
    const d = await downloadApart(port, `${report}&format=json`, c.token).catch(() => null);
    if (!d) break;
    jsonTimes.push(d.ms);
    jsonBytes = d.bytes;
  }
  const rj = await call(c, "GET", `${report}&format=json`);
  const members =
    rj.status !== 200 || jsonTimes.length === 0
      ? `answered ${rj.status}`
      : `${(rj.json.members as unknown[] | undefined)?.length ?? "?"} members, ${(jsonBytes / MB).toFixed(1)} MB`;
  const best = jsonTimes.length ? (Math.min(...jsonTimes) / 1000).toFixed(2) : "-";
  const worst = jsonTimes.length ? (Math.max(...jsonTimes) / 1000).toFixed(2) : "-";
  console.log(`| compliance report ${month} (JSON) | ${best} s | ${worst} s | ${members} |`);
  if (rj.status !== 200) return;
  const xlsx = [
    await downloadApart(port, `${report}&format=xlsx`, c.token),
    await downloadApart(port, `${report}&format=xlsx`, c.token),
  ];
  const xt = xlsx
    .map((x) => x.ms / 1000)
    .sort((a, b) => a - b)
    .map((x) => x.toFixed(2));
  console.log(
    `| compliance report ${month} (XLSX) | ${xt[0]} s | ${xt[1]} s | ${(xlsx[0]!.bytes / MB).toFixed(1)} MB |`,
  );
}
