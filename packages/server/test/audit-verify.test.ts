import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/database.ts";
import { record } from "../src/audit/record.ts";
import { canonicalJson, chainHash, type ChainedEvent } from "../src/audit/chain.ts";
import { createCheckpoint, trustedKeys, verifyOrg } from "../src/audit/checkpoints.ts";
import { hashColumnIntact, verifyChain } from "../src/audit/verify.ts";
import { loadSigningKey, signCheckpoint } from "../src/audit/signing.ts";
import { createOrg, engine, signUp, testApp, type Session, type TestApp } from "./helpers.ts";

let t: TestApp;
let owner: Session;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app);
});
afterAll(async () => t.close());

/**
 * Verifies in both modes — the database checking the generated computed_hash column (in one range and in several),
 * and the process recomputing every event — and insists that they agree on every field of the result.
 */
async function verifyBoth(orgId: string) {
  expect(await hashColumnIntact(t.db)).toBe(true);
  const auto = await verifyOrg(t.deps, orgId);
  const inProcess = await verifyChain(t.db, orgId, { trustedKeys: trustedKeys(t.deps), mode: "process" });
  expect(auto).toEqual(inProcess);
  // Ranges checked side by side must find the same first break wherever the range boundaries fall.
  for (const ranges of [2, 3, 7]) {
    expect(await verifyChain(t.db, orgId, { trustedKeys: trustedKeys(t.deps), ranges })).toEqual(inProcess);
  }
  return auto;
}

/** A new org whose chain holds `n` events (organization.created + renames). */
async function orgWithEvents(n: number): Promise<string> {
  const { id } = await createOrg(t.app, owner, "saas", "Tamper target");
  for (let i = 2; i <= n; i++) {
    t.clock.advance(1000);
    await t.db.tx({ orgId: id }, (tx) =>
      record(tx, id, t.clock.now(), {
        action: "organization.updated",
        actorId: owner.user.id,
        targetId: id,
        entityType: "organization",
        before: { name: `n${i - 1}` },
        after: { name: `n${i}` },
        ip: "203.0.113.9",
        userAgent: "test",
      }),
    );
  }
  return id;
}

const owned = (q: ReturnType<typeof sql>) => t.db.owner((db) => db.execute(q));
/** before/after as the table stores them: canonical JSON text. */
const canonicalText = (v: Record<string, unknown> | null) => (v === null ? null : canonicalJson(v));
const parsed = (v: unknown) => (v === null ? null : (JSON.parse(v as string) as Record<string, unknown>));

async function storedEvent(orgId: string, seq: number): Promise<ChainedEvent & { prevHash: string; hash: string }> {
  const r = rowsOf<Record<string, unknown>>(
    await owned(
      sql`SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts FROM audit_events WHERE org_id = ${orgId} AND seq = ${seq}`,
    ),
  )[0]!;
  return {
    orgId,
    seq,
    id: r.id as string,
    action: r.action as string,
    actorId: r.actor_id as string | null,
    targetId: r.target_id as string | null,
    entityType: r.entity_type as string,
    before: parsed(r.before),
    after: parsed(r.after),
    ip: r.ip as string | null,
    userAgent: r.user_agent as string | null,
    createdAt: r.ts as string,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}

/** Moves rows with seq >= from by `delta`, in two steps so the primary key never collides mid-statement. */
async function shift(orgId: string, from: number, delta: number) {
  await owned(sql`UPDATE audit_events SET seq = -seq WHERE org_id = ${orgId} AND seq >= ${from}`);
  await owned(sql`UPDATE audit_events SET seq = -seq + ${delta} WHERE org_id = ${orgId} AND seq < 0`);
}

describe(`audit chain verification (${engine})`, () => {
  it("an untouched chain verifies up to the head", async () => {
    const org = await orgWithEvents(12);
    const head = rowsOf<{ last_hash: string }>(
      await owned(sql`SELECT last_hash FROM audit_heads WHERE org_id = ${org}`),
    )[0]!;
    expect(await verifyBoth(org)).toMatchObject({
      ok: true,
      lastSeq: 12,
      lastHash: head.last_hash,
      eventsVerified: 12,
    });
  });

  it("verifies across several batches", async () => {
    const org = await orgWithEvents(23);
    const { verifyChain } = await import("../src/audit/verify.ts");
    expect(await verifyChain(t.db, org, { trustedKeys: [loadSigningKey(t.deps.config)], batchSize: 5 })).toMatchObject({
      ok: true,
      lastSeq: 23,
    });
  });

  it("an edited field is reported at its seq", async () => {
    const org = await orgWithEvents(12);
    await owned(sql`UPDATE audit_events SET after = '{"name":"innocent"}' WHERE org_id = ${org} AND seq = 7`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 7, reason: "edited" });
  });

  it("a changed timestamp is an edit, even below a millisecond", async () => {
    const org = await orgWithEvents(6);
    await owned(
      sql`UPDATE audit_events SET created_at = created_at + interval '1 microsecond' WHERE org_id = ${org} AND seq = 4`,
    );
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 4, reason: "edited" });
  });

  it("an edited row whose hash was recomputed is reported at its seq", async () => {
    const org = await orgWithEvents(12);
    const e = await storedEvent(org, 7);
    const forged = { ...e, actorId: "usr_someone_else" };
    await owned(
      sql`UPDATE audit_events SET actor_id = ${forged.actorId}, hash = ${chainHash(e.prevHash, forged)} WHERE org_id = ${org} AND seq = 7`,
    );
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 7, reason: "edited" });
  });

  it("a deleted row is reported missing at its seq", async () => {
    const org = await orgWithEvents(12);
    await owned(sql`DELETE FROM audit_events WHERE org_id = ${org} AND seq = 7`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 7, reason: "missing" });
  });

  it("a deleted row with the rest renumbered to close the gap is still missing at its seq", async () => {
    const org = await orgWithEvents(12);
    await owned(sql`DELETE FROM audit_events WHERE org_id = ${org} AND seq = 7`);
    await shift(org, 8, -1);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 7, reason: "missing" });
  });

  it("two swapped rows are reported reordered at the first of them", async () => {
    const org = await orgWithEvents(12);
    await owned(sql`UPDATE audit_events SET seq = -1 WHERE org_id = ${org} AND seq = 7`);
    await owned(sql`UPDATE audit_events SET seq = 7 WHERE org_id = ${org} AND seq = 8`);
    await owned(sql`UPDATE audit_events SET seq = 8 WHERE org_id = ${org} AND seq = -1`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 7, reason: "reordered" });
  });

  it("rows swapped far apart are reported reordered", async () => {
    const org = await orgWithEvents(30);
    await owned(sql`UPDATE audit_events SET seq = -1 WHERE org_id = ${org} AND seq = 3`);
    await owned(sql`UPDATE audit_events SET seq = 3 WHERE org_id = ${org} AND seq = 27`);
    await owned(sql`UPDATE audit_events SET seq = 27 WHERE org_id = ${org} AND seq = -1`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 3, reason: "reordered" });
  });

  it("a forged row slipped into the middle, correctly hashed, is reported inserted at its seq", async () => {
    const org = await orgWithEvents(12);
    const prev = await storedEvent(org, 6);
    await shift(org, 7, +1);
    const forged: ChainedEvent = {
      ...prev,
      seq: 7,
      id: "evt_forged",
      action: "team.role_changed",
      after: { role: "owner" },
    };
    const hash = chainHash(prev.hash, forged);
    await owned(sql`INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash)
      VALUES (${org}, 7, ${forged.id}, ${forged.action}, ${forged.actorId}, ${forged.targetId}, ${forged.entityType}, ${canonicalText(forged.before)},
              ${canonicalText(forged.after)}, ${forged.ip}, ${forged.userAgent}, ${forged.createdAt}::timestamptz, ${prev.hash}, ${hash})`);
    await owned(sql`UPDATE audit_heads SET last_seq = last_seq + 1 WHERE org_id = ${org}`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 7, reason: "inserted" });
  });

  it("a well-chained forged row appended after the head is reported inserted", async () => {
    const org = await orgWithEvents(5);
    const prev = await storedEvent(org, 5);
    const forged: ChainedEvent = { ...prev, seq: 6, id: "evt_tail" };
    await owned(sql`INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash)
      VALUES (${org}, 6, ${forged.id}, ${forged.action}, ${forged.actorId}, ${forged.targetId}, ${forged.entityType}, ${canonicalText(forged.before)},
              ${canonicalText(forged.after)}, ${forged.ip}, ${forged.userAgent}, ${forged.createdAt}::timestamptz, ${prev.hash}, ${chainHash(prev.hash, forged)})`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 6, reason: "inserted" });
  });

  it("a truncated tail is detected against a signed checkpoint even when the head is rolled back too", async () => {
    const org = await orgWithEvents(20);
    expect(await createCheckpoint(t.deps, org)).toMatchObject({ status: "created", seq: 20 });
    const keep = await storedEvent(org, 15);
    await owned(sql`DELETE FROM audit_events WHERE org_id = ${org} AND seq > 15`);
    await owned(sql`UPDATE audit_heads SET last_seq = 15, last_hash = ${keep.hash} WHERE org_id = ${org}`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 16, reason: "truncated" });
  });

  it("without a checkpoint, a truncated tail is still caught by the head", async () => {
    const org = await orgWithEvents(10);
    await owned(sql`DELETE FROM audit_events WHERE org_id = ${org} AND seq > 8`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 9, reason: "truncated" });
  });

  it("a rewritten and fully re-hashed stretch is caught by the next signed checkpoint", async () => {
    const org = await orgWithEvents(10);
    await createCheckpoint(t.deps, org);
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      await t.db.tx({ orgId: org }, (tx) =>
        record(tx, org, t.clock.now(), {
          action: "security.updated",
          actorId: owner.user.id,
          entityType: "security",
          after: { i },
        }),
      );
    }
    await createCheckpoint(t.deps, org);
    // Rewrite seq 12 and re-chain everything after it, head included: only the checkpoint at 15 can tell.
    let prevHash = (await storedEvent(org, 11)).hash;
    for (let s = 12; s <= 15; s++) {
      const e = await storedEvent(org, s);
      const changed = s === 12 ? { ...e, after: { i: 999 } } : e;
      const hash = chainHash(prevHash, changed);
      await owned(
        sql`UPDATE audit_events SET after = ${canonicalText(changed.after)}, prev_hash = ${prevHash}, hash = ${hash} WHERE org_id = ${org} AND seq = ${s}`,
      );
      prevHash = hash;
    }
    await owned(sql`UPDATE audit_heads SET last_hash = ${prevHash} WHERE org_id = ${org}`);
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 11, reason: "edited" });
  });

  it("a checkpoint not signed by the installation's key is reported as forged", async () => {
    const org = await orgWithEvents(8);
    const head = await storedEvent(org, 8);
    const other = loadSigningKey({
      auditSigningKey: {
        pem: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        file: undefined,
      },
    });
    const real = loadSigningKey(t.deps.config);
    const forgedSig = signCheckpoint(other, { orgId: org, seq: 8, hash: head.hash });
    // Claiming the real key's id does not help without its private half.
    await owned(
      sql`INSERT INTO audit_checkpoints (org_id, id, seq, hash, key_id, signature, created_at) VALUES (${org}, 'chk_forged', 8, ${head.hash}, ${real.keyId}, ${forgedSig}, now())`,
    );
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 8, reason: "checkpoint_forged" });
  });

  it("a checkpoint claiming events beyond the chain is forged when unsigned", async () => {
    const org = await orgWithEvents(4);
    await owned(
      sql`INSERT INTO audit_checkpoints (org_id, id, seq, hash, key_id, signature, created_at) VALUES (${org}, 'chk_x', 9, ${"ab".repeat(32)}, 'nobody', 'AAAA', now())`,
    );
    expect(await verifyBoth(org)).toMatchObject({ ok: false, brokenAtSeq: 9, reason: "checkpoint_forged" });
  });

  it("checkpoints are made only for new events and refuse to sign a broken chain", async () => {
    const org = await orgWithEvents(5);
    expect(await createCheckpoint(t.deps, org)).toMatchObject({ status: "created", seq: 5 });
    expect(await createCheckpoint(t.deps, org)).toMatchObject({ status: "unchanged", seq: 5 });
    t.clock.advance(1000);
    await t.db.tx({ orgId: org }, (tx) =>
      record(tx, org, t.clock.now(), { action: "security.updated", actorId: owner.user.id, entityType: "security" }),
    );
    await owned(sql`UPDATE audit_events SET ip = '198.51.100.1' WHERE org_id = ${org} AND seq = 6`);
    const refused = await createCheckpoint(t.deps, org);
    expect(refused).toMatchObject({ status: "refused", verification: { ok: false, brokenAtSeq: 6, reason: "edited" } });
    const ok = await verifyBoth(org);
    expect(ok).toMatchObject({ ok: false, checkpoint: { seq: 5 } });
  });

  it("the application role cannot write checkpoints for another org or change them", async () => {
    const a = await orgWithEvents(2);
    const b = await orgWithEvents(2);
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: Error & { cause?: Error }) => String(e.cause?.message ?? e.message),
      );
    expect(
      await fail(
        t.db.tx({ orgId: a }, (tx) =>
          tx.execute(
            sql`INSERT INTO audit_checkpoints (org_id, id, seq, hash, key_id, signature, created_at) VALUES (${b}, 'c', 1, 'h', 'k', 's', now())`,
          ),
        ),
      ),
    ).toMatch(/row-level security/);
    await createCheckpoint(t.deps, a);
    expect(
      await fail(
        t.db.tx({ orgId: a }, (tx) => tx.execute(sql`UPDATE audit_checkpoints SET seq = 1 WHERE org_id = ${a}`)),
      ),
    ).toMatch(/permission denied/);
    expect(
      await fail(t.db.tx({ orgId: a }, (tx) => tx.execute(sql`DELETE FROM audit_checkpoints WHERE org_id = ${a}`))),
    ).toMatch(/permission denied/);
  });
});
