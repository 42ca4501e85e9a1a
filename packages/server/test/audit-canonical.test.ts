import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { rowsOf, type Database } from "../src/db/database.ts";
import { migrate } from "../src/db/migrate.ts";
import { scratchDatabase, type ScratchDatabase } from "../src/db/scratch.ts";
import { record, startChain } from "../src/audit/record.ts";
import { chainHash, GENESIS_HASH, type ChainedEvent } from "../src/audit/chain.ts";
import { hashColumnIntact, verifyChain } from "../src/audit/verify.ts";
import { loadSigningKey } from "../src/audit/signing.ts";

// The database keeps each event's hash, computed from the row's fields, in a generated column (migration 0017)
// and verification compares the chain's hashes with it. These tests hold that column to chainHash(), make sure
// an altered table or function sends verification back to the process, and upgrade chains written before.

const key = loadSigningKey({ auditSigningKey: { pem: undefined, file: undefined } });
const baseUrl = process.env.DATABASE_URL;
const engine = baseUrl ? "postgres" : "pglite";

async function newOrg(db: Database, name: string): Promise<string> {
  const orgId = `org_${name}_${Math.random().toString(36).slice(2, 10)}`;
  await db.tx({ orgId }, async (tx) => {
    await tx.execute(
      sql`INSERT INTO organizations (id, name, policy, settings, created_at, updated_at) VALUES (${orgId}, ${name}, 'saas', '{}'::jsonb, now(), now())`,
    );
    await startChain(tx, orgId);
  });
  return orgId;
}

const verify = (db: Database, orgId: string, mode: "auto" | "process" = "auto") =>
  verifyChain(db, orgId, { trustedKeys: [key], mode });

describe(`the database's computed hash (${engine})`, () => {
  let scratch: ScratchDatabase;
  let db: Database;
  beforeAll(async () => {
    scratch = await scratchDatabase(baseUrl, { prefix: "roster_canonical" });
    db = scratch.db;
  });
  afterAll(async () => scratch.drop());

  it("equals chainHash() for arbitrary strings and JSON values, and such chains verify in both modes", async () => {
    const orgId = await newOrg(db, "arbitrary");
    const text = fc.string({ unit: "binary", maxLength: 24 });
    const json = fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
    let at = Date.UTC(2026, 0, 1);
    await fc.assert(
      fc.asyncProperty(
        fc.option(text),
        fc.option(text),
        fc.option(json),
        fc.option(json),
        fc.option(text),
        async (targetId, userAgent, before, after, ip) => {
          at += 1;
          const e = await db.tx({ orgId }, (tx) =>
            record(tx, orgId, new Date(at), {
              action: "team.name_changed",
              actorId: "usr_x",
              targetId,
              entityType: "team",
              before,
              after,
              ip,
              userAgent,
            }),
          );
          const stored = rowsOf<{ computed_hash: string; prev_hash: string }>(
            await db.owner((d) =>
              d.execute(
                sql`SELECT computed_hash, prev_hash FROM audit_events WHERE org_id = ${orgId} AND seq = ${e.seq}`,
              ),
            ),
          )[0]!;
          expect(stored.computed_hash).toBe(chainHash(stored.prev_hash, e));
          expect(stored.computed_hash).toBe(e.hash);
        },
      ),
      { numRuns: 150 },
    );
    const auto = await verify(db, orgId);
    expect(auto).toMatchObject({ ok: true, eventsVerified: 150 });
    expect(await verify(db, orgId, "process")).toEqual(auto);
  });

  it("falls back to the process when the column is no longer generated, and still finds the edit", async () => {
    const orgId = await newOrg(db, "altered");
    for (let i = 0; i < 6; i++)
      await db.tx({ orgId }, (tx) =>
        record(tx, orgId, new Date(Date.UTC(2026, 1, 1, 0, 0, i)), {
          action: "security.updated",
          actorId: "usr_x",
          entityType: "security",
          after: { i },
        }),
      );
    expect(await hashColumnIntact(db)).toBe(true);
    // Not even the owner can write the generated column while it is one.
    await expect(
      db.script((run) => run.query("UPDATE audit_events SET computed_hash = hash WHERE org_id = $1", [orgId])),
    ).rejects.toThrow();
    await db.script(async (run) => {
      await run.exec("ALTER TABLE audit_events ALTER COLUMN computed_hash DROP EXPRESSION");
      // The computed hash stays as it was while a field changes under it: only the process can see that.
      await run.query("UPDATE audit_events SET action = 'team.removed' WHERE org_id = $1 AND seq = 4", [orgId]);
    });
    expect(await hashColumnIntact(db)).toBe(false);
    expect(await verify(db, orgId)).toMatchObject({ ok: false, brokenAtSeq: 4, reason: "edited" });
  });
});

describe(`a replaced hash function (${engine})`, () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await scratchDatabase(baseUrl, { prefix: "roster_canonical_fn" });
  });
  afterAll(async () => scratch.drop());

  it("is not trusted: verification recomputes in the process", async () => {
    const db = scratch.db;
    const orgId = await newOrg(db, "fn");
    await db.tx({ orgId }, (tx) =>
      record(tx, orgId, new Date(Date.UTC(2026, 2, 1)), {
        action: "security.updated",
        actorId: "usr_x",
        entityType: "security",
      }),
    );
    await db.script((run) =>
      run.exec(`CREATE OR REPLACE FUNCTION roster_audit_hash(
      prev_hash text, org_id text, seq bigint, id text, action text, actor_id text, target_id text, entity_type text,
      before text, after text, ip text, user_agent text, created_at timestamptz) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$ SELECT 'anything' $$`),
    );
    expect(await hashColumnIntact(db)).toBe(false);
    expect(await verify(db, orgId)).toMatchObject({ ok: true, eventsVerified: 1 });
  });
});

describe(`upgrading a chain written before migration 0005 (${engine})`, () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await scratchDatabase(baseUrl, { prefix: "roster_canonical_up", migrateUpTo: "0004_security.sql" });
  });
  afterAll(async () => scratch.drop());

  it("rewrites before/after to canonical text and the chain verifies in both modes", async () => {
    const db = scratch.db;
    const orgId = `org_upgrade`;
    await db.owner((d) =>
      d.execute(
        sql`INSERT INTO organizations (id, name, policy, settings, created_at, updated_at) VALUES (${orgId}, 'Up', 'saas', '{}'::jsonb, now(), now())`,
      ),
    );
    // Written as the old record() did: jsonb payloads (PostgreSQL re-spells them), hashes over canonical JSON.
    const payloads: Array<Record<string, unknown> | null> = [
      { role: "member" },
      null,
      { zeta: 1, alpha: [3, { b: 2, a: 1 }], é: 'x\n"y"', big: 1e21, small: 1.5e-7 },
      { "😀": true, "": null, "\uE000": 0 },
    ];
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= payloads.length; seq++) {
      const e: ChainedEvent = {
        orgId,
        seq,
        id: `evt_up${seq}`,
        action: "security.updated",
        actorId: "usr_x",
        targetId: null,
        entityType: "security",
        before: payloads[seq - 1]!,
        after: payloads[payloads.length - seq]!,
        ip: null,
        userAgent: 'agent "quoted"',
        createdAt: new Date(Date.UTC(2025, 11, 31, 0, 0, seq)).toISOString(),
      };
      const hash = chainHash(prev, e);
      await db.owner((d) =>
        d.execute(sql`INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash)
        VALUES (${orgId}, ${seq}, ${e.id}, ${e.action}, ${e.actorId}, ${e.targetId}, ${e.entityType}, ${e.before === null ? null : JSON.stringify(e.before)}::jsonb,
                ${e.after === null ? null : JSON.stringify(e.after)}::jsonb, ${e.ip}, ${e.userAgent}, ${e.createdAt}::timestamptz, ${prev}, ${hash})`),
      );
      prev = hash;
    }
    await db.owner((d) =>
      d.execute(
        sql`INSERT INTO audit_heads (org_id, last_seq, last_hash) VALUES (${orgId}, ${payloads.length}, ${prev})`,
      ),
    );

    const applied = await migrate(db);
    expect(applied).toContain("0005_audit_canonical.sql");
    expect(applied).toContain("0017_audit_computed_hash.sql");
    expect(await hashColumnIntact(db)).toBe(true);
    const auto = await verify(db, orgId);
    expect(auto).toMatchObject({ ok: true, lastSeq: payloads.length, lastHash: prev });
    expect(await verify(db, orgId, "process")).toEqual(auto);
    // And appending goes on from the upgraded head.
    await db.tx({ orgId }, (tx) =>
      record(tx, orgId, new Date(Date.UTC(2026, 0, 1)), {
        action: "security.updated",
        actorId: "usr_x",
        entityType: "security",
        after: { z: 1, a: 2 },
      }),
    );
    expect(await verify(db, orgId)).toMatchObject({ ok: true, lastSeq: payloads.length + 1 });
  });
});

describe(`upgrading a chain written with the canonical column of migration 0005 (${engine})`, () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await scratchDatabase(baseUrl, { prefix: "roster_hash_up", migrateUpTo: "0016_members_role_name.sql" });
  });
  afterAll(async () => scratch.drop());

  it("computes every row's hash from its fields: intact rows verify, an earlier edit is found", async () => {
    const db = scratch.db;
    const intact = await newOrg(db, "intact");
    const edited = await newOrg(db, "edited");
    for (const orgId of [intact, edited])
      for (let i = 0; i < 5; i++)
        await db.tx({ orgId }, (tx) =>
          record(tx, orgId, new Date(Date.UTC(2026, 3, 1, 0, 0, i)), {
            action: "team.role_changed",
            actorId: "usr_x",
            targetId: `mem_${i}`,
            entityType: "team",
            before: { role: "staff" },
            after: { role: i % 2 ? "admin" : "read_only", note: "ünïcode \u0001" },
            ip: "203.0.113.9",
            userAgent: null,
          }),
        );
    // Edited by the owner before the upgrade, while the table still had its canonical column.
    await db.script((run) =>
      run.query(`UPDATE audit_events SET after = '{"role":"owner"}' WHERE org_id = $1 AND seq = 3`, [edited]),
    );

    expect(await migrate(db)).toContain("0017_audit_computed_hash.sql");
    expect(await hashColumnIntact(db)).toBe(true);
    const good = await verify(db, intact);
    expect(good).toMatchObject({ ok: true, eventsVerified: 5 });
    expect(await verify(db, intact, "process")).toEqual(good);
    const bad = await verify(db, edited);
    expect(bad).toMatchObject({ ok: false, brokenAtSeq: 3, reason: "edited" });
    expect(await verify(db, edited, "process")).toEqual(bad);
  });
});
