import type { KeyObject } from "node:crypto";
import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../db/database.ts";
import { chainHash, GENESIS_HASH, type ChainedEvent } from "./chain.ts";
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
  | { ok: false; brokenAtSeq: number; reason: BreakReason; detail: string; eventsVerified: number; checkpoint: CheckpointInfo | null };

export interface VerifyOptions {
  /** Public keys whose checkpoint signatures are trusted; the installation's signing key at least. */
  trustedKeys: ReadonlyArray<Pick<SigningKey, "keyId" | "publicKey">>;
  batchSize?: number;
  /** Start after a point already known good (a valid checkpoint): the checkpoint job verifies only what is new. */
  startAfter?: { seq: number; hash: string };
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
}

function toRow(orgId: string, r: StoredRow): Row {
  const us = r.created_us;
  return {
    event: {
      orgId,
      seq: Number(r.seq),
      id: r.id,
      action: r.action,
      actorId: r.actor_id,
      targetId: r.target_id,
      entityType: r.entity_type,
      before: r.before === null ? null : (JSON.parse(r.before) as Record<string, unknown>),
      after: r.after === null ? null : (JSON.parse(r.after) as Record<string, unknown>),
      ip: r.ip,
      userAgent: r.user_agent,
      createdAt: `${us.slice(0, 23)}Z`,
    },
    prevHash: r.prev_hash,
    hash: r.hash,
    exactTime: us.endsWith("000"),
  };
}

const COLUMNS = sql.raw(
  `seq, id, action, actor_id, target_id, entity_type, before::text AS before, after::text AS after, ip, user_agent,
   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_us, prev_hash, hash`,
);

async function fetchBatch(db: Database, orgId: string, afterSeq: number, limit: number): Promise<Row[]> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(sql`SELECT ${COLUMNS} FROM audit_events WHERE org_id = ${orgId} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`),
  );
  return rowsOf<StoredRow>(res).map((r) => toRow(orgId, r));
}

const hashOk = (r: Row, seq: number) => r.exactTime && chainHash(r.prevHash, seq === r.event.seq ? r.event : { ...r.event, seq }) === r.hash;

interface LoadedCheckpoint extends CheckpointInfo {
  valid: boolean;
}

async function loadCheckpoints(db: Database, orgId: string, trusted: VerifyOptions["trustedKeys"]): Promise<LoadedCheckpoint[]> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(sql`SELECT seq, hash, key_id, signature, created_at FROM audit_checkpoints WHERE org_id = ${orgId} ORDER BY seq, created_at`),
  );
  const keys = new Map<string, KeyObject>(trusted.map((k) => [k.keyId, k.publicKey]));
  return rowsOf<{ seq: string | number; hash: string; key_id: string; signature: string; created_at: Date | string }>(res).map((c) => {
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
  const res = await db.tx({ orgId }, (tx) => tx.execute(sql`SELECT last_seq, last_hash FROM audit_heads WHERE org_id = ${orgId}`));
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
    const res = await db.tx({ orgId }, (tx) => tx.execute(sql`SELECT seq FROM audit_events WHERE org_id = ${orgId} AND hash = ${r.prevHash} LIMIT 1`));
    const p = rowsOf<{ seq: string | number }>(res)[0];
    if (p) candidates.add(Number(p.seq) + 1);
  }
  for (const c of candidates) if (c >= 1 && c !== at && hashOk(r, c)) return c;
  return null;
}

/** Is the row that should follow the last good one still present somewhere later? (Swapped, not deleted.) */
async function successorLater(db: Database, orgId: string, prevHash: string, afterSeq: number): Promise<boolean> {
  const res = await db.tx({ orgId }, (tx) =>
    tx.execute(sql`SELECT 1 AS x FROM audit_events WHERE org_id = ${orgId} AND prev_hash = ${prevHash} AND seq > ${afterSeq} LIMIT 1`),
  );
  return rowsOf(res).length > 0;
}

/**
 * Streams the org's chain in seq order (keyset batches, the next one fetched while the current one is hashed),
 * recomputes every hash and link, compares with signed checkpoints and the head, and reports the first break.
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
      return { ok: false, brokenAtSeq: head.lastSeq + 1, reason: "inserted", detail: `Rows exist after seq ${head.lastSeq}, the last one appended.`, eventsVerified: verified, checkpoint };
    }
    return { ok: false, brokenAtSeq, reason, detail, eventsVerified: verified, checkpoint };
  };

  let pending: Promise<Row[]> | null = fetchBatch(db, orgId, start.seq, batchSize);
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
          return fail(original, "inserted", `The event written as seq ${original} now sits at seq ${s}: rows were inserted before it.`);
        }
        if (original !== null) {
          return (await successorLater(db, orgId, prevHash, s))
            ? fail(s, "reordered", `Seq ${s} holds the event written as seq ${original}.`)
            : fail(s, "missing", `Seq ${s} holds the event written as seq ${original}: events were removed and the rest renumbered.`);
        }
        return fail(s, "edited", `The content of seq ${s} does not produce its hash.`);
      }
      if (r.prevHash !== prevHash) {
        await pending?.catch(() => undefined);
        if (s === 1) return fail(1, "inserted", "Seq 1 does not start from the genesis hash.");
        return fail(s - 1, "edited", `Seq ${s} was chained to a different seq ${s - 1} than the one stored: seq ${s - 1} was rewritten.`);
      }
      for (const c of bySeq.get(s) ?? []) {
        if (!c.valid) {
          await pending?.catch(() => undefined);
          return fail(s, "checkpoint_forged", `The checkpoint at seq ${s} is not signed by a trusted key.`);
        }
        if (c.hash !== r.hash) {
          await pending?.catch(() => undefined);
          return fail(lastGoodCheckpoint + 1, "edited", `The signed checkpoint at seq ${s} disagrees with the stored chain: events after seq ${lastGoodCheckpoint} were rewritten.`);
        }
        lastGoodCheckpoint = s;
      }
      prevHash = r.hash;
      expectedSeq = s + 1;
      verified++;
    }
  }
  const lastSeq = expectedSeq - 1;
  const beyond = checkpoints.filter((c) => c.seq > lastSeq);
  const forged = beyond.find((c) => !c.valid);
  if (forged) return fail(forged.seq, "checkpoint_forged", `The checkpoint at seq ${forged.seq} is not signed by a trusted key.`);
  if (beyond.length > 0) {
    return fail(lastSeq + 1, "truncated", `A signed checkpoint covers seq ${beyond[beyond.length - 1]!.seq} but the chain ends at seq ${lastSeq}.`);
  }
  const head = await headOf(db, orgId);
  if (head && head.lastSeq > lastSeq) return fail(lastSeq + 1, "truncated", `The head records seq ${head.lastSeq} but the chain ends at seq ${lastSeq}.`);
  if (head && head.lastSeq < lastSeq) return fail(head.lastSeq + 1, "inserted", `Rows exist after seq ${head.lastSeq}, the last one appended.`);
  return { ok: true, lastSeq, lastHash: prevHash, eventsVerified: verified, checkpoint };
}
