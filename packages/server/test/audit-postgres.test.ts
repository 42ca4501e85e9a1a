import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../src/db/database.ts";
import { record } from "../src/audit/record.ts";
import { verifyOrg } from "../src/audit/checkpoints.ts";
import { createOrg as createOrgService } from "../src/orgs/service.ts";
import { users } from "../src/db/schema.ts";
import { newId } from "../src/lib/ids.ts";
import { FakeClock } from "../src/lib/clock.ts";
import type { AppDeps } from "../src/deps.ts";
import { engine, freshDatabase, MemoryMailer, testConfig } from "./helpers.ts";

const SRC = join(import.meta.dirname, "..", "src");
const HELPERS = join(import.meta.dirname, "helpers.ts");

/**
 * Real concurrency and a real crash need a server with many connections and a process of its own; the embedded
 * PGlite is one in-process connection, where these cannot happen at all.
 */
const onPostgres = engine === "postgres";

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let db: Database;
let deps: AppDeps;

async function newOrg(name: string): Promise<{ orgId: string; userId: string }> {
  const userId = newId("usr");
  const now = new Date();
  await db.tx({ userId }, (tx) =>
    tx.insert(users).values({
      id: userId,
      email: `${userId}@example.com`,
      name: "Writer",
      passwordHash: null,
      platformRole: null,
      lastLoginAt: null,
      createdAt: now,
      updatedAt: now,
    }),
  );
  const { org } = await createOrgService(
    deps,
    { name, policy: "saas", ownerUserId: userId },
    { ip: null, userAgent: "test" },
  );
  return { orgId: org.id, userId };
}

beforeAll(async () => {
  if (!onPostgres) return;
  fresh = await freshDatabase();
  db = fresh.db;
  deps = { db, config: testConfig(), clock: new FakeClock(), mailer: new MemoryMailer(), logger: false };
});
afterAll(async () => {
  if (onPostgres) await fresh.close();
});

describe.skipIf(!onPostgres)("audit chain under load (PostgreSQL; PGlite is a single in-process connection)", () => {
  it(
    "20 concurrent writers × 500 events to one org give seq 1..10,000 without a gap, and the chain verifies",
    { timeout: 300_000 },
    async () => {
      const { orgId, userId } = await newOrg("Busy org");
      const WRITERS = 20;
      const EACH = 500;
      const writer = async (w: number) => {
        for (let i = 0; i < EACH; i++) {
          await db.tx({ orgId }, (tx) =>
            record(tx, orgId, new Date(), {
              action: "security.updated",
              actorId: userId,
              targetId: orgId,
              entityType: "security",
              after: { writer: w, i },
              ip: "127.0.0.1",
              userAgent: `writer-${w}`,
            }),
          );
        }
      };
      await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
      const total = 1 + WRITERS * EACH; // organization.created is seq 1
      const stats = rowsOf<{ n: number; min: string; max: string; distinct: number }>(
        await db.owner((d) =>
          d.execute(
            sql`SELECT count(*)::int AS n, min(seq) AS min, max(seq) AS max, count(DISTINCT seq)::int AS distinct FROM audit_events WHERE org_id = ${orgId}`,
          ),
        ),
      )[0]!;
      expect({ n: stats.n, min: Number(stats.min), max: Number(stats.max), distinct: stats.distinct }).toEqual({
        n: total,
        min: 1,
        max: total,
        distinct: total,
      });
      const perWriter = rowsOf<{ w: string; n: number }>(
        await db.owner((d) =>
          d.execute(
            sql`SELECT after::jsonb->>'writer' AS w, count(*)::int AS n FROM audit_events WHERE org_id = ${orgId} AND action = 'security.updated' GROUP BY 1`,
          ),
        ),
      );
      expect(perWriter.length).toBe(WRITERS);
      expect(perWriter.every((r) => r.n === EACH)).toBe(true);
      expect(await verifyOrg(deps, orgId)).toMatchObject({ ok: true, lastSeq: total, eventsVerified: total });
    },
  );

  it("an append waiting on one org's head does not hold up another org", { timeout: 60_000 }, async () => {
    const a = await newOrg("Locked org");
    const b = await newOrg("Free org");
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const slow = db.tx({ orgId: a.orgId }, async (tx) => {
      await record(tx, a.orgId, new Date(), { action: "security.updated", actorId: a.userId, entityType: "security" });
      locked();
      await held; // the head row of org a stays locked until this transaction ends
    });
    await isLocked;
    // Another org appends and commits while org a's head is locked.
    await db.tx({ orgId: b.orgId }, (tx) =>
      record(tx, b.orgId, new Date(), { action: "security.updated", actorId: b.userId, entityType: "security" }),
    );
    // A second append to org a waits for the first one.
    let second = false;
    const waiting = db
      .tx({ orgId: a.orgId }, (tx) =>
        record(tx, a.orgId, new Date(), { action: "security.updated", actorId: a.userId, entityType: "security" }),
      )
      .then((e) => {
        second = true;
        return e;
      });
    await new Promise((r) => setTimeout(r, 300));
    expect(second).toBe(false);
    release();
    await slow;
    expect((await waiting).seq).toBe(3);
    expect(await verifyOrg(deps, a.orgId)).toMatchObject({ ok: true, lastSeq: 3 });
    expect(await verifyOrg(deps, b.orgId)).toMatchObject({ ok: true, lastSeq: 2 });
  });

  it(
    "a process killed with SIGKILL in the middle of audited changes leaves a verifying chain and no change without its event",
    { timeout: 180_000 },
    async () => {
      const { orgId, userId } = await newOrg("Crash org");
      // The child mints API keys through the real service (a row and its api_key.created event per transaction), four at a time.
      const child = `
      import { openDatabase } from ${JSON.stringify(join(SRC, "db", "database.ts"))};
      import { loadOrgContext } from ${JSON.stringify(join(SRC, "http", "context.ts"))};
      import { mintKey } from ${JSON.stringify(join(SRC, "api-keys", "service.ts"))};
      import { systemClock } from ${JSON.stringify(join(SRC, "lib", "clock.ts"))};
      import { MemoryMailer, testConfig } from ${JSON.stringify(HELPERS)};
      const db = await openDatabase({ databaseUrl: process.env.CHILD_DATABASE_URL, poolSize: 6 });
      const deps = { db, config: testConfig(), clock: systemClock, mailer: new MemoryMailer(), logger: false };
      const now = new Date();
      const principal = { kind: "session", user: { id: ${JSON.stringify(userId)}, email: "w@example.com", name: "Writer", platformRole: null }, sessionId: "ses_x", via: "bearer", sessionCreatedAt: now, idleSince: now };
      const ctx = await loadOrgContext(deps, principal, ${JSON.stringify(orgId)});
      let n = 0;
      const loop = async (w) => {
        for (let i = 0; i < 20000; i++) {
          await mintKey(deps, ctx, { name: "k" + w + "-" + i }, { ip: "127.0.0.1", userAgent: "crash-test" });
          process.stdout.write("committed " + (++n) + "\\n");
        }
      };
      await Promise.all([0, 1, 2, 3].map(loop));
    `;
      const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
        env: { ...process.env, CHILD_DATABASE_URL: fresh.url },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let committed = 0;
      let stderr = "";
      proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        proc.on("exit", (_code, signal) => resolve(signal)),
      );
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the child committed only ${committed} changes in 90 s: ${stderr}`)),
          90_000,
        );
        proc.stdout.on("data", (d: Buffer) => {
          const m = /committed (\d+)\n?$/.exec(d.toString().trimEnd() + "\n");
          if (m) committed = Number(m[1]);
          if (committed >= 200) {
            clearTimeout(timer);
            resolve();
          }
        });
        proc.on("exit", () => {
          clearTimeout(timer);
          reject(new Error(`the child exited early: ${stderr}`));
        });
      });
      proc.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      // The server notices the dead connections and rolls their open transactions back.
      await new Promise((r) => setTimeout(r, 500));
      const keys = rowsOf<{ id: string }>(
        await db.owner((d) => d.execute(sql`SELECT id FROM api_keys WHERE org_id = ${orgId}`)),
      )
        .map((r) => r.id)
        .sort();
      const events = rowsOf<{ target_id: string }>(
        await db.owner((d) =>
          d.execute(sql`SELECT target_id FROM audit_events WHERE org_id = ${orgId} AND action = 'api_key.created'`),
        ),
      )
        .map((r) => r.target_id)
        .sort();
      expect(keys.length).toBeGreaterThanOrEqual(committed);
      expect(events).toEqual(keys);
      expect(await verifyOrg(deps, orgId)).toMatchObject({ ok: true, lastSeq: keys.length + 1 });
    },
  );
});
