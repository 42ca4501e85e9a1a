import type { KeyObject } from "node:crypto";
import { availableParallelism } from "node:os";
import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../db/database.ts";
import { listMigrations } from "../db/migrate.ts";
import { chainHash, GENESIS_HASH, parseEventObject, type ChainedEvent } from "./chain.ts";
import { verifyCheckpoint, type SigningKey } from "./signing.ts";

/**
 * Why a chain is broken, decided at the first bad position (docs/decisions/audit-verification.md):
 * - missing: a seq is absent, or rows after a removed one were renumbered to close the gap;
 * - edited: a row's content no longer gives its hash, or a row was rewritten with a recomputed hash
 *   (its successor still points at the old one), or a signed checkpoint disagrees with the stored hash;
 * - reordered: a row is intact but sits at another seq than the one it was written with;
 * - inserted: a row that the chain never contained (a forged row, or rows beyond the recorded head);
 * - truncated: the newest events are gone (a checkpoint or the head proves they existed);
 * - checkpoint_forged: a checkpoint's signature does not verify with a trusted key.
 */
export type BreakReason = "edited" | "missing" | "reordered" | "inserted" | "truncated" | "checkpoint_forged";

export interface CheckpointInfo {
  seq: number;
  hash: string;
  keyId: string;
  createdAt: string;
}

export type VerifyResult =
  | { ok: true; lastSeq: number; lastHash: string; eventsVerified: number; checkpoint: CheckpointInfo | null }
  | {
      ok: false;
      brokenAtSeq: number;
      reason: BreakReason;
      detail: string;
      eventsVerified: number;
      checkpoint: CheckpointInfo | null;
    };

export interface VerifyOptions {
  /** Public keys whose checkpoint signatures are trusted; the installation's signing key at least. */
  trustedKeys: ReadonlyArray<Pick<SigningKey, "keyId" | "publicKey">>;
  batchSize?: number;
  /** Start after a point already known good (a valid checkpoint): the checkpoint job verifies only what is new. */
  startAfter?: { seq: number; hash: string };
  /**
   * "auto" (the default) lets the database compare each row's hash with the one it computed from the row's
   * fields (a generated column), a range per CPU, when that column and its function are intact, and recomputes
   * in the process from the first suspect row on;
   * "process" recomputes every event's canonical form and hash in the process (the reference).
   */
  mode?: "auto" | "process";
  /** How many ranges the database checks side by side; by default one per CPU on PostgreSQL, one on PGlite. */
  ranges?: number;
}

interface StoredRow {
  seq: string | number;
  id: string;
  action: string;
  actor_id: string | null;
  target_id: string | null;
  entity_type: string;
  before: string | null;
  after: string | null;
  ip: string | null;
  user_agent: string | null;
  created_us: string;
  prev_hash: string;
  hash: string;
}

interface Row {
  event: ChainedEvent;
  prevHash: string;
  hash: string;
  /** Sub-millisecond digits in created_at: never written by record(), so the row was edited. */
  exactTime: boolean;
  /** before/after text that is not a JSON object: only an edit by hand gives that, and it hashes to nothing. */
  unreadable: boolean;
}

const parseObject = (text: string | null) => (text === null ? null : parseEventObject(text));

function toRow(orgId: string, r: StoredRow): Row {
  const us = r.created_us;
  const before = parseObject(r.before);
  const after = parseObject(r.after);
  return {
    event: {
      orgId,
      seq: Number(r.seq),
      id: r.id,
      action: r.action,
      actorId: r.actor_id,
      targetId: r.target_id,
      entityType: r.entity_type,
      before: before ?? null,
      after: after ?? null,
      ip: r.ip,
      userAgent: r.user_agent,
      createdAt: `${us.slice(0, 23)}Z`,
    },
    prevHash: r.prev_hash,
    hash: r.hash,
    exactTime: us.endsWith("000"),
    unreadable: before === undefined || after === undefined,
  };
}

const COLUMNS = sql.raw(
  `seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent,
   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_us, prev_hash, hash`,
);

async function fetchBatch(db: Database, orgId: string, afterSeq: number, limit: number): Promise<Row[]> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(
      sql`SELECT ${COLUMNS} FROM audit_events WHERE org_id = ${orgId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`,
    ),
  );
  return rowsOf<StoredRow>(res).map((r) => toRow(orgId, r));
}

const hashOk = (r: Row, seq: number) =>
  r.exactTime && !r.unreadable && chainHash(r.prevHash, seq === r.event.seq ? r.event : { ...r.event, seq }) === r.hash;

interface LoadedCheckpoint extends CheckpointInfo {
  valid: boolean;
}

async function loadCheckpoints(
  db: Database,
  orgId: string,
  trusted: VerifyOptions["trustedKeys"],
): Promise<LoadedCheckpoint[]> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(
      sql`SELECT seq, hash, key_id, signature, created_at FROM audit_checkpoints WHERE org_id = ${orgId} ORDER BY seq, created_at`,
    ),
  );
  const keys = new Map<string, KeyObject>(trusted.map((k) => [k.keyId, k.publicKey]));
  return rowsOf<{ seq: string | number; hash: string; key_id: string; signature: string; created_at: Date | string }>(
    res,
  ).map((c) => {
    const seq = Number(c.seq);
    const key = keys.get(c.key_id);
    return {
      seq,
      hash: c.hash,
      keyId: c.key_id,
      createdAt: new Date(c.created_at).toISOString(),
      valid: key !== undefined && verifyCheckpoint(key, { orgId, seq, hash: c.hash }, c.signature),
    };
  });
}

async function headOf(db: Database, orgId: string): Promise<{ lastSeq: number; lastHash: string } | null> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(sql`SELECT last_seq, last_hash FROM audit_heads WHERE org_id = ${orgId}`),
  );
  const h = rowsOf<{ last_seq: string | number; last_hash: string }>(res)[0];
  return h ? { lastSeq: Number(h.last_seq), lastHash: h.last_hash } : null;
}

/** The seq a displaced row was written with, if it can be found near its place or after its true predecessor. */
async function originalSeq(db: Database, orgId: string, r: Row): Promise<number | null> {
  const at = r.event.seq;
  const candidates = new Set<number>();
  for (let d = 1; d <= 8; d++) candidates.add(at + d).add(at - d);
  if (r.prevHash === GENESIS_HASH) candidates.add(1);
  else {
    const res = await db.tx({ orgId }, (tx) =>
      tx.execute(sql`SELECT seq FROM audit_events WHERE org_id = ${orgId} AND hash = ${r.prevHash} LIMIT 1`),
    );
    const p = rowsOf<{ seq: string | number }>(res)[0];
    if (p) candidates.add(Number(p.seq) + 1);
  }
  for (const c of candidates) if (c >= 1 && c !== at && hashOk(r, c)) return c;
  return null;
}

/** Is the row that should follow the last good one still present somewhere later? (Swapped, not deleted.) */
async function successorLater(db: Database, orgId: string, prevHash: string, afterSeq: number): Promise<boolean> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(
      sql`SELECT 1 AS x FROM audit_events WHERE org_id = ${orgId} AND prev_hash = ${prevHash} AND seq > ${afterSeq} LIMIT 1`,
    ),
  );
  return rowsOf(res).length > 0;
}

/** The body of roster_audit_hash() exactly as migration 0017 created it (read once, when first needed). */
let hashFunctionSource: string | undefined;
function expectedFunctionSource(): string {
  if (hashFunctionSource === undefined) {
    const m = listMigrations().find((x) => x.name === "0017_audit_computed_hash.sql");
    const body = m ? /AS \$\$([\s\S]*?)\$\$/.exec(m.sql)?.[1] : undefined;
    if (body === undefined) throw new Error("migration 0017_audit_computed_hash.sql has no hash function");
    hashFunctionSource = body;
  }
  return hashFunctionSource;
}
const HASH_EXPRESSION =
  "roster_audit_hash(prev_hash, org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at)";

/**
 * Is the stored `computed_hash` column still what the chain's hashes can be checked against? It must be
 * generated (PostgreSQL recomputes it from the row's fields on every write, and no role can write it) by the one
 * roster_audit_hash() whose body, volatility and pinned search_path are those of migration 0017. Someone who can
 * alter the table could otherwise turn it into a plain column and edit fields under an unchanged hash.
 */
export async function hashColumnIntact(db: Database): Promise<boolean> {
  const res = await db.tx({}, (tx) =>
    tx.execute(sql`
    SELECT a.attgenerated::text AS generated, pg_get_expr(d.adbin, d.adrelid) AS expr,
           (SELECT json_agg(json_build_object('src', p.prosrc, 'volatile', p.provolatile::text, 'config', p.proconfig))
              FROM pg_proc p WHERE p.proname = 'roster_audit_hash') AS fns
      FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = 'audit_events'::regclass AND a.attname = 'computed_hash' AND NOT a.attisdropped`),
  );
  const row = rowsOf<{
    generated: string;
    expr: string | null;
    fns: Array<{ src: string; volatile: string; config: string[] | null }> | string | null;
  }>(res)[0];
  if (!row || row.generated !== "s" || row.expr !== HASH_EXPRESSION) return false;
  const fns =
    typeof row.fns === "string"
      ? (JSON.parse(row.fns) as Array<{ src: string; volatile: string; config: string[] | null }>)
      : row.fns;
  const fn = fns?.length === 1 ? fns[0] : undefined;
  return (
    fn !== undefined &&
    fn.src === expectedFunctionSource() &&
    fn.volatile === "i" &&
    JSON.stringify(fn.config) === JSON.stringify(["search_path=pg_catalog"])
  );
}

interface RangeScan {
  firstBad: number | null;
  lastSeq: number | null;
}

/**
 * One range (lo, hi] checked inside the database: seqs consecutive from lo + 1, each prev_hash equal to the
 * hash before it (`prevAtLo` for the first row), each hash equal to `computed_hash`: SHA-256(prev_hash ‖
 * canonical) as PostgreSQL computed it from the row's fields when the row was last written.
 * Returns the first seq where that fails (a missing seq counts where it is missing), if one does: the row
 * before it is then present and passed.
 */
async function scanRange(
  db: Database,
  orgId: string,
  lo: number,
  hi: number | null,
  prevAtLo: string | null,
): Promise<RangeScan> {
  const prevHashAtLo =
    prevAtLo === null
      ? sql`(SELECT hash FROM audit_events WHERE org_id = ${orgId} AND seq = ${lo})`
      : sql`${prevAtLo}::text`;
  const upper = hi === null ? sql`` : sql`AND seq <= ${hi}`;
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(sql`
    SELECT min(CASE WHEN seq <> expected THEN expected ELSE seq END) FILTER (WHERE seq <> expected OR bad) AS first_bad,
           max(seq) AS last_seq
      FROM (
        SELECT seq, coalesce(lag(seq) OVER w, ${lo}) + 1 AS expected,
               prev_hash IS DISTINCT FROM coalesce(lag(hash) OVER w, ${prevHashAtLo})
               OR hash IS DISTINCT FROM computed_hash AS bad
          FROM audit_events WHERE org_id = ${orgId} AND seq > ${lo} ${upper}
        WINDOW w AS (ORDER BY seq)
      ) checked`),
  );
  const r = rowsOf<{ first_bad: string | number | null; last_seq: string | number | null }>(res)[0]!;
  return {
    firstBad: r.first_bad === null ? null : Number(r.first_bad),
    lastSeq: r.last_seq === null ? null : Number(r.last_seq),
  };
}

/** Rows per range below which splitting the scan across connections is not worth it. */
const MIN_RANGE = 50_000;

/**
 * The chain after `from`, checked in the database in ranges run side by side (one per CPU, on PostgreSQL).
 * Everything before `goodThrough + 1` is consecutive, linked and hashes correctly; `firstBad` is where the
 * first row failing that sits (or the seq that is missing there), null when every stored row passes.
 */
async function scanInDatabase(
  db: Database,
  orgId: string,
  from: { seq: number; hash: string },
  ranges: number | undefined,
): Promise<{ firstBad: number | null; goodThrough: number }> {
  const maxRes = await db.tx({ orgId }, (tx) =>
    tx.execute(sql`SELECT max(seq) AS m FROM audit_events WHERE org_id = ${orgId}`),
  );
  const maxSeq = Number(rowsOf<{ m: string | number | null }>(maxRes)[0]?.m ?? from.seq);
  const span = Math.max(0, maxSeq - from.seq);
  const parts =
    ranges !== undefined
      ? Math.max(1, Math.min(ranges, span))
      : db.kind === "postgres"
        ? Math.max(1, Math.min(availableParallelism(), 8, Math.floor(span / MIN_RANGE)))
        : 1;
  const bounds: Array<[number, number | null]> = [];
  for (let i = 0; i < parts; i++) {
    const lo = from.seq + Math.floor((span * i) / parts);
    bounds.push([lo, i === parts - 1 ? null : from.seq + Math.floor((span * (i + 1)) / parts)]);
  }
  const scans = await Promise.all(
    bounds.map(([lo, hi], i) => scanRange(db, orgId, lo, hi, i === 0 ? from.hash : null)),
  );
  let firstBad: number | null = null;
  let lastSeq = from.seq;
  scans.forEach((scan, i) => {
    const [lo, hi] = bounds[i]!;
    const candidates = [scan.firstBad];
    // A range that stops short of its upper bound lost its last rows: the next range cannot see that.
    if (hi !== null && (scan.lastSeq ?? lo) < hi) candidates.push((scan.lastSeq ?? lo) + 1);
    for (const c of candidates) if (c !== null && (firstBad === null || c < firstBad)) firstBad = c;
    if (scan.lastSeq !== null) lastSeq = Math.max(lastSeq, scan.lastSeq);
  });
  return { firstBad, goodThrough: firstBad === null ? lastSeq : firstBad - 1 };
}

async function hashesAt(db: Database, orgId: string, seqs: number[]): Promise<Map<number, string>> {
  if (seqs.length === 0) return new Map();
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(
      sql`SELECT seq, hash FROM audit_events WHERE org_id = ${orgId} AND seq = ANY(${`{${seqs.join(",")}}`}::bigint[])`,
    ),
  );
  return new Map(rowsOf<{ seq: string | number; hash: string }>(res).map((r) => [Number(r.seq), r.hash]));
}

/**
 * Checks the org's chain in seq order — every hash and link, the signed checkpoints and the head — and reports
 * the first break. By default the database checks each row's hash against its generated `computed_hash`
 * column, in ranges side by side; from the first suspect row on, the process streams rows (keyset batches, the
 * next one fetched while the current one is hashed), recomputes every canonical form and classifies what it finds.
 */
export async function verifyChain(db: Database, orgId: string, opts: VerifyOptions): Promise<VerifyResult> {
  const batchSize = opts.batchSize ?? 5000;
  const checkpoints = await loadCheckpoints(db, orgId, opts.trustedKeys);
  const start = opts.startAfter ?? { seq: 0, hash: GENESIS_HASH };
  const bySeq = new Map<number, LoadedCheckpoint[]>();
  for (const c of checkpoints) if (c.seq > start.seq) bySeq.set(c.seq, [...(bySeq.get(c.seq) ?? []), c]);
  const latestValid = [...checkpoints].reverse().find((c) => c.valid);
  const checkpoint: CheckpointInfo | null = latestValid
    ? { seq: latestValid.seq, hash: latestValid.hash, keyId: latestValid.keyId, createdAt: latestValid.createdAt }
    : null;

  let expectedSeq = start.seq + 1;
  let prevHash = start.hash;
  let lastGoodCheckpoint = start.seq;
  let verified = 0;
  const fail = async (brokenAtSeq: number, reason: BreakReason, detail: string): Promise<VerifyResult> => {
    // A bad row beyond what the head has ever recorded was never appended through record().
    const head = await headOf(db, orgId);
    if (head && brokenAtSeq > head.lastSeq && reason !== "checkpoint_forged" && reason !== "truncated") {
      return {
        ok: false,
        brokenAtSeq: head.lastSeq + 1,
        reason: "inserted",
        detail: `Rows exist after seq ${head.lastSeq}, the last one appended.`,
        eventsVerified: verified,
        checkpoint,
      };
    }
    return { ok: false, brokenAtSeq, reason, detail, eventsVerified: verified, checkpoint };
  };

  /** The checkpoints at seq `s`, whose stored hash is `hash`, checked in order: a failure, or null. */
  const checkpointFailure = (s: number, hash: string | undefined): [number, BreakReason, string] | null => {
    for (const c of bySeq.get(s) ?? []) {
      if (!c.valid) return [s, "checkpoint_forged", `The checkpoint at seq ${s} is not signed by a trusted key.`];
      if (c.hash !== hash) {
        return [
          lastGoodCheckpoint + 1,
          "edited",
          `The signed checkpoint at seq ${s} disagrees with the stored chain: events after seq ${lastGoodCheckpoint} were rewritten.`,
        ];
      }
      lastGoodCheckpoint = s;
    }
    return null;
  };

  let inProcessFrom: number | null = start.seq;
  if ((opts.mode ?? "auto") === "auto" && (await hashColumnIntact(db))) {
    // The database vouches for every row up to goodThrough; the process takes over at the first suspect one
    // (if the database's verdict there was wrong, the process simply carries on verifying).
    const scan = await scanInDatabase(db, orgId, start, opts.ranges);
    const cpSeqs = [...bySeq.keys()].filter((q) => q <= scan.goodThrough).sort((x, y) => x - y);
    const hashes = await hashesAt(db, orgId, [...cpSeqs, scan.goodThrough]);
    for (const q of cpSeqs) {
      const f = checkpointFailure(q, hashes.get(q));
      if (f) {
        verified = q - 1 - start.seq;
        return fail(...f);
      }
    }
    verified = scan.goodThrough - start.seq;
    expectedSeq = scan.goodThrough + 1;
    prevHash = scan.goodThrough === start.seq ? start.hash : hashes.get(scan.goodThrough)!;
    inProcessFrom = scan.firstBad === null ? null : scan.goodThrough;
  }

  let pending: Promise<Row[]> | null = inProcessFrom === null ? null : fetchBatch(db, orgId, inProcessFrom, batchSize);
  while (pending) {
    const rows: Row[] = await pending;
    const last = rows[rows.length - 1];
    pending = rows.length === batchSize && last ? fetchBatch(db, orgId, last.event.seq, batchSize) : null;
    for (const r of rows) {
      const s = r.event.seq;
      if (s > expectedSeq) {
        await pending?.catch(() => undefined);
        return fail(expectedSeq, "missing", `Seq ${expectedSeq} is absent; the next stored event is seq ${s}.`);
      }
      if (!hashOk(r, s)) {
        await pending?.catch(() => undefined);
        const original = await originalSeq(db, orgId, r);
        if (original !== null && original < s) {
          return fail(
            original,
            "inserted",
            `The event written as seq ${original} now sits at seq ${s}: rows were inserted before it.`,
          );
        }
        if (original !== null) {
          return (await successorLater(db, orgId, prevHash, s))
            ? fail(s, "reordered", `Seq ${s} holds the event written as seq ${original}.`)
            : fail(
                s,
                "missing",
                `Seq ${s} holds the event written as seq ${original}: events were removed and the rest renumbered.`,
              );
        }
        return fail(s, "edited", `The content of seq ${s} does not produce its hash.`);
      }
      if (r.prevHash !== prevHash) {
        await pending?.catch(() => undefined);
        if (s === 1) return fail(1, "inserted", "Seq 1 does not start from the genesis hash.");
        return fail(
          s - 1,
          "edited",
          `Seq ${s} was chained to a different seq ${s - 1} than the one stored: seq ${s - 1} was rewritten.`,
        );
      }
      const cpFailure = checkpointFailure(s, r.hash);
      if (cpFailure) {
        await pending?.catch(() => undefined);
        return fail(...cpFailure);
      }
      prevHash = r.hash;
      expectedSeq = s + 1;
      verified++;
    }
  }
  const lastSeq = expectedSeq - 1;
  const beyond = checkpoints.filter((c) => c.seq > lastSeq);
  const forged = beyond.find((c) => !c.valid);
  if (forged)
    return fail(forged.seq, "checkpoint_forged", `The checkpoint at seq ${forged.seq} is not signed by a trusted key.`);
  if (beyond.length > 0) {
    return fail(
      lastSeq + 1,
      "truncated",
      `A signed checkpoint covers seq ${beyond[beyond.length - 1]!.seq} but the chain ends at seq ${lastSeq}.`,
    );
  }
  const head = await headOf(db, orgId);
  if (head && head.lastSeq > lastSeq)
    return fail(lastSeq + 1, "truncated", `The head records seq ${head.lastSeq} but the chain ends at seq ${lastSeq}.`);
  if (head && head.lastSeq < lastSeq)
    return fail(head.lastSeq + 1, "inserted", `Rows exist after seq ${head.lastSeq}, the last one appended.`);
  return { ok: true, lastSeq, lastHash: prevHash, eventsVerified: verified, checkpoint };
}
