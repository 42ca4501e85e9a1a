// Audit chain: durable appends per second on PostgreSQL (one event per transaction) and verification speed
// over 1,000,000 events. Needs DATABASE_URL for the database figures; it creates and drops its own database.
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { availableParallelism, loadavg } from "node:os";
import pg from "pg";
import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../../packages/server/src/db/database.ts";
import { scratchDatabase } from "../../packages/server/src/db/scratch.ts";

async function withDatabase<T>(base: string, fn: (db: Database, url: string) => Promise<T>): Promise<T> {
  const scratch = await scratchDatabase(base, { prefix: "roster_bench", poolSize: 24 });
  try {
    return await fn(scratch.db, scratch.url!);
  } finally {
    await scratch.drop();
  }
}
import { record, startChain } from "../../packages/server/src/audit/record.ts";
import { canonicalJson, chainHash, GENESIS_HASH, type ChainedEvent } from "../../packages/server/src/audit/chain.ts";
import { verifyChain } from "../../packages/server/src/audit/verify.ts";
import { loadSigningKey } from "../../packages/server/src/audit/signing.ts";
import { formatRate } from "./measure.ts";
import type { BenchOptions, Benchmark } from "./types.ts";

export const auditBenchmark: Benchmark = {
  name: "audit",
  description:
    "durable audit appends/s on PostgreSQL (one event per transaction) and chain verification of 1,000,000 events",
  run: runAuditBenchmark,
};

const APPEND_TARGET = 1000;
const VERIFY_TARGET_S = 3.5;
const MILLION = 1_000_000;

async function makeOrg(db: Database, i: number): Promise<string> {
  const orgId = `org_bench_${i}_${randomBytes(4).toString("hex")}`;
  const now = new Date();
  await db.tx({ orgId }, async (tx) => {
    await tx.execute(
      sql`INSERT INTO organizations (id, name, policy, settings, created_at, updated_at) VALUES (${orgId}, ${`Bench ${i}`}, 'saas', '{}'::jsonb, ${now}, ${now})`,
    );
    await startChain(tx, orgId);
  });
  return orgId;
}

const sampleEvent = (i: number) => ({
  action: "team.role_changed" as const,
  actorId: "usr_01jbenchactor000000000000",
  targetId: `mem_01jbench${String(i % 5000).padStart(16, "0")}`,
  entityType: "team",
  before: { role: "member" },
  after: { role: i % 2 ? "admin" : "member" },
  ip: "203.0.113.10",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
});

/** Appends for `timeMs` from `writers` concurrent loops, each transaction holding exactly one event. */
async function appendRate(
  db: Database,
  orgIds: string[],
  writers: number,
  timeMs: number,
): Promise<{ rate: number; n: number }> {
  let n = 0;
  const start = performance.now();
  const deadline = start + timeMs;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const orgId = orgIds[w % orgIds.length]!;
      while (performance.now() < deadline) {
        await db.tx({ orgId }, (tx) => record(tx, orgId, new Date(), sampleEvent(n)));
        n++;
      }
    }),
  );
  return { rate: n / ((performance.now() - start) / 1000), n };
}

/** The machine's ceiling for comparison: a plain one-row INSERT per transaction, no audit, no row-level security. */
async function plainInsertRate(db: Database, writers: number, timeMs: number): Promise<number> {
  await db.owner((d) =>
    d.execute(sql`CREATE TABLE IF NOT EXISTS bench_plain (id bigserial PRIMARY KEY, payload text NOT NULL)`),
  );
  let n = 0;
  const start = performance.now();
  const deadline = start + timeMs;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        await db.owner((d) =>
          d.transaction((tx) => tx.execute(sql`INSERT INTO bench_plain (payload) VALUES (${"x".repeat(300)})`)),
        );
        n++;
      }
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

/** Writes `count` correctly chained events straight into the table (bulk), as the chain would hold them. */
async function fillChain(db: Database, url: string, orgId: string, count: number): Promise<void> {
  const BATCH = 10_000;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let prev = GENESIS_HASH;
  const t0 = Date.UTC(2026, 0, 1);
  for (let from = 1; from <= count; from += BATCH) {
    const cols: Record<string, unknown[]> = {
      seq: [],
      id: [],
      action: [],
      actor: [],
      target: [],
      entity: [],
      before: [],
      after: [],
      ip: [],
      ua: [],
      at: [],
      prev: [],
      hash: [],
    };
    for (let seq = from; seq < from + BATCH && seq <= count; seq++) {
      const s = sampleEvent(seq);
      const e: ChainedEvent = {
        orgId,
        seq,
        id: `evt_bench${String(seq).padStart(17, "0")}`,
        ...s,
        createdAt: new Date(t0 + seq * 10).toISOString(),
      };
      const hash = chainHash(prev, e);
      cols.seq!.push(seq);
      cols.id!.push(e.id);
      cols.action!.push(e.action);
      cols.actor!.push(e.actorId);
      cols.target!.push(e.targetId);
      cols.entity!.push(e.entityType);
      cols.before!.push(canonicalJson(e.before));
      cols.after!.push(canonicalJson(e.after));
      cols.ip!.push(e.ip);
      cols.ua!.push(e.userAgent);
      cols.at!.push(e.createdAt);
      cols.prev!.push(prev);
      cols.hash!.push(hash);
      prev = hash;
    }
    await client.query(
      `INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash)
       SELECT $1, seq, id, action, actor, target, entity, before, after, ip, ua, at::timestamptz, prev, hash
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
         AS t(seq, id, action, actor, target, entity, before, after, ip, ua, at, prev, hash)`,
      [
        orgId,
        cols.seq,
        cols.id,
        cols.action,
        cols.actor,
        cols.target,
        cols.entity,
        cols.before,
        cols.after,
        cols.ip,
        cols.ua,
        cols.at,
        cols.prev,
        cols.hash,
      ],
    );
  }
  await client.end();
  await db.owner((d) =>
    d.execute(sql`UPDATE audit_heads SET last_seq = ${count}, last_hash = ${prev} WHERE org_id = ${orgId}`),
  );
  await db.owner((d) => d.execute(sql`VACUUM ANALYZE audit_events`));
}

/** Hash recomputation alone, in memory: the floor under any database-backed verification. */
function inMemoryVerify(count: number): { wall: number; cpu: number } {
  const events: Array<ChainedEvent & { prevHash: string; hash: string }> = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const e: ChainedEvent = {
      orgId: "org_bench",
      seq,
      id: `evt_${seq}`,
      ...sampleEvent(seq),
      createdAt: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(),
    };
    const hash = chainHash(prev, e);
    events.push({ ...e, prevHash: prev, hash });
    prev = hash;
  }
  const cpu = process.cpuUsage();
  const t = performance.now();
  let p = GENESIS_HASH;
  for (const e of events) {
    if (e.prevHash !== p || chainHash(p, e) !== e.hash) throw new Error(`bench chain broken at ${e.seq}`);
    p = e.hash;
  }
  return { wall: (performance.now() - t) / 1000, cpu: cpuSeconds(cpu) };
}

/** CPU seconds this process used since `from`: on a busy shared host, closer to what an idle core would take. */
function cpuSeconds(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

function loadNote(): string {
  const [one] = loadavg();
  return `load average ${one!.toFixed(1)} on ${availableParallelism()} CPUs`;
}

const verdict = (ok: boolean) => (ok ? "meets target" : "BELOW TARGET");

async function runAuditBenchmark({ timeMs }: BenchOptions): Promise<void> {
  console.log(`(host: ${loadNote()})`);
  const mem = inMemoryVerify(MILLION);
  console.log(
    `verify, hashing only (in memory): 1,000,000 events in ${mem.wall.toFixed(2)} s wall, ${mem.cpu.toFixed(2)} s CPU`,
  );
  const base = process.env.DATABASE_URL;
  if (!base) {
    console.log(
      "appends/s and database-backed verification: skipped (set DATABASE_URL to a PostgreSQL server to measure them)",
    );
    return;
  }
  await withDatabase(base, async (db, url) => {
    const settings = rowsOf<{ sc: string; fsync: string }>(
      await db.owner((d) =>
        d.execute(sql`SELECT current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync`),
      ),
    )[0]!;
    console.log(`PostgreSQL durability: synchronous_commit=${settings.sc}, fsync=${settings.fsync}`);
    const orgs: string[] = [];
    for (let i = 0; i < 16; i++) orgs.push(await makeOrg(db, i));
    const dur = Math.max(timeMs, 3000);
    await appendRate(db, [orgs[0]!], 1, 300); // warm-up
    const rows: Array<[string, { rate: number; n: number }]> = [
      ["1 writer, 1 org", await appendRate(db, [orgs[0]!], 1, dur)],
      ["8 writers, 1 org (serialized by the head lock)", await appendRate(db, [orgs[1]!], 8, dur)],
      ["8 writers, 8 orgs", await appendRate(db, orgs.slice(0, 8), 8, dur)],
      ["16 writers, 16 orgs", await appendRate(db, orgs, 16, dur)],
    ];
    const plain1 = await plainInsertRate(db, 1, dur);
    const plain16 = await plainInsertRate(db, 16, dur);
    for (const [name, r] of rows)
      console.log(`appends/s, ${name}: ${formatRate(r.rate)} (${r.n} committed transactions)`);
    console.log(
      `(this server's ceiling, a plain one-row INSERT per transaction: ${formatRate(plain1)} with 1 writer, ${formatRate(plain16)} with 16)`,
    );
    const best = Math.max(...rows.map(([, r]) => r.rate));
    console.log(`appends/s target ≥ ${APPEND_TARGET}: best ${formatRate(best)} — ${verdict(best >= APPEND_TARGET)}`);

    const orgId = await makeOrg(db, 99);
    const fillStart = performance.now();
    await fillChain(db, url, orgId, MILLION);
    console.log(`(wrote a 1,000,000-event chain in ${((performance.now() - fillStart) / 1000).toFixed(1)} s)`);
    const key = loadSigningKey({ auditSigningKey: { pem: undefined, file: undefined } });
    const cpu = process.cpuUsage();
    const t = performance.now();
    const v = await verifyChain(db, orgId, { trustedKeys: [key] });
    const s = (performance.now() - t) / 1000;
    const cpuS = cpuSeconds(cpu);
    if (!v.ok || v.eventsVerified !== MILLION) throw new Error(`verification did not pass: ${JSON.stringify(v)}`);
    console.log(
      `verify from PostgreSQL (hashes checked in the database, ${availableParallelism()} ranges): 1,000,000 events in ${s.toFixed(2)} s wall (${formatRate(MILLION / s)} events), ${cpuS.toFixed(2)} s CPU in Roster — target ≤ ${VERIFY_TARGET_S} s: ${verdict(s <= VERIFY_TARGET_S)}`,
    );
    const cpu2 = process.cpuUsage();
    const t2 = performance.now();
    const ref = await verifyChain(db, orgId, { trustedKeys: [key], mode: "process" });
    const s2 = (performance.now() - t2) / 1000;
    if (!ref.ok || ref.eventsVerified !== MILLION)
      throw new Error(`in-process verification did not pass: ${JSON.stringify(ref)}`);
    console.log(
      `(the reference path, every canonical form recomputed in the process: ${s2.toFixed(2)} s wall, ${cpuSeconds(cpu2).toFixed(2)} s CPU in Roster)`,
    );
    console.log(`(host: ${loadNote()})`);
  });
}
