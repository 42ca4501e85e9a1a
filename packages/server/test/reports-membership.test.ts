import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../src/db/database.ts";
import {
  listedEventsStatement,
  MEMBER_ACTIONS,
  monthEndMembers,
  monthEndMembersStatement,
  signInFailuresStatement,
  type MonthEndMember,
} from "../src/reports/queries.ts";
import { engine, freshDatabase } from "./helpers.ts";

/**
 * The compliance report's month-end membership is computed by one SQL statement over the chain. This test holds it
 * to the plain reading of the rules, replayed event by event in seq order here: random chains of membership events
 * (fields present, absent, null or of the wrong type; events before and after the month's last seq; members with
 * and without rows, created before and after the month's end) must give the same role, status, department, user
 * and presence for every member.
 */

const ORG = "org_membership_replay";
const END = new Date("2026-03-01T00:00:00.000Z");
const MEMBERS = ["mem_a", "mem_b", "mem_c", "mem_d", "mem_e"];
const USERS = ["usr_a", "usr_b", "usr_c", "usr_d", "usr_e"];

type Obj = Record<string, unknown> | null;
interface Ev {
  action: (typeof MEMBER_ACTIONS)[number];
  actorId: string | null;
  targetId: string | null;
  before: Obj;
  after: Obj;
}
interface Row {
  id: string;
  userId: string;
  role: string;
  status: string;
  department: string | null;
  beforeEnd: boolean;
}

// Field values of every kind the reader must tell apart: strings, null, and values of another type (ignored).
const value = fc.constantFrom<unknown>("admin", "member", "active", "inactive", "removed", "sales", "a=b", null, 5);
const obj: fc.Arbitrary<Obj> = fc.option(
  fc.record(
    {
      role: value,
      status: value,
      department: value,
      userId: fc.constantFrom<unknown>(...USERS, "", null, 7),
      ownerMemberId: fc.constantFrom<unknown>(...MEMBERS, "", 3),
      ownerRole: value,
    },
    { requiredKeys: [] },
  ),
  { nil: null, freq: 5 },
);
const event: fc.Arbitrary<Ev> = fc.record({
  action: fc.constantFrom(...MEMBER_ACTIONS),
  actorId: fc.option(fc.constantFrom(...USERS, ""), { nil: null, freq: 5 }),
  targetId: fc.option(fc.constantFrom(...MEMBERS, ""), { nil: null, freq: 8 }),
  before: obj,
  after: obj,
});
const row: fc.Arbitrary<Row | null> = fc.option(
  fc.record({
    id: fc.constant(""),
    userId: fc.constant(""),
    role: fc.constantFrom("owner", "member"),
    status: fc.constantFrom("active", "inactive"),
    department: fc.constantFrom("tech", null),
    beforeEnd: fc.boolean(),
  }),
  { nil: null },
);

/** The rules, event by event: what a field became up to lastSeq, else what the next change said it was, else the row. */
function replay(events: Ev[], lastSeq: number, rows: Row[]): Map<string, Omit<MonthEndMember, "name" | "email">> {
  type F = "role" | "status" | "department";
  const str = (o: Obj, k: string): string | null | undefined => {
    if (!o || !(k in o)) return undefined;
    const v = o[k];
    return typeof v === "string" ? v : v === null ? null : undefined;
  };
  const pick = (o: Obj, fields: F[]) => {
    const out: Partial<Record<F, string | null>> = {};
    for (const f of fields) {
      const v = str(o, f);
      if (v !== undefined) out[f] = v;
    }
    return out;
  };
  interface S {
    userId: string | null;
    joined: boolean;
    purged: boolean;
    known: Partial<Record<F, string | null>>;
    later: Partial<Record<F, string | null>>;
  }
  const states = new Map<string, S>();
  const state = (id: string) => {
    let s = states.get(id);
    if (!s) states.set(id, (s = { userId: null, joined: false, purged: false, known: {}, later: {} }));
    return s;
  };
  events.forEach((e, i) => {
    const seq = i + 1;
    let memberId: string | null | undefined;
    let userId: string | null = null;
    let before: Partial<Record<F, string | null>> = {};
    let after: Partial<Record<F, string | null>> = {};
    let joins = false;
    let purges = false;
    if (e.action === "organization.created") {
      memberId = str(e.after, "ownerMemberId");
      userId = e.actorId;
      after = { role: str(e.after, "ownerRole") ?? null, status: "active" };
      joins = true;
    } else if (e.action === "team.invite_accepted") {
      memberId = e.targetId;
      userId = e.actorId;
      after = { ...pick(e.after, ["role", "department"]), status: "active" };
      joins = true;
    } else if (e.action === "team.purged") {
      memberId = e.targetId;
      userId = str(e.before, "userId") ?? null;
      before = pick(e.before, ["role", "status"]);
      purges = true;
    } else {
      memberId = e.targetId;
      before = pick(e.before, ["role", "status", "department"]);
      after = pick(e.after, ["role", "status", "department"]);
    }
    if (!memberId) return;
    const s = state(memberId);
    if (userId) s.userId = userId;
    if (seq <= lastSeq) {
      if (joins) [s.joined, s.purged] = [true, false];
      if (purges) s.purged = true;
      Object.assign(s.known, after);
    } else {
      for (const f of ["role", "status", "department"] as const)
        if (f in before && !(f in s.later)) s.later[f] = before[f] ?? null;
    }
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows) state(r.id);
  const out = new Map<string, Omit<MonthEndMember, "name" | "email">>();
  for (const [id, s] of states) {
    const r = byId.get(id);
    const field = (f: F) => (f in s.known ? s.known[f]! : f in s.later ? s.later[f]! : (r?.[f] ?? null));
    out.set(id, {
      memberId: id,
      userId: s.userId ?? r?.userId ?? null,
      role: field("role"),
      status: field("status"),
      department: field("department"),
      present: (s.joined || (r?.beforeEnd ?? false)) && !s.purged,
    });
  }
  return out;
}

let db: Database;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ db, close } = await freshDatabase());
  await db.owner(async (d) => {
    await d.execute(
      sql`INSERT INTO organizations (id, name, policy, created_at, updated_at) VALUES (${ORG}, 'Replay', 'saas', now(), now())`,
    );
    for (const [i, u] of USERS.entries()) {
      await d.execute(sql`INSERT INTO users (id, email, name, created_at, updated_at)
                          VALUES (${u}, ${`${u}@example.com`}, ${`Person ${"EDCBA"[i]}`}, now(), now())`);
    }
  });
});
afterAll(async () => close());

describe(`compliance report: month-end membership from the chain (${engine})`, () => {
  it("agrees with an event-by-event replay on random chains", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 40 }),
        fc.nat({ max: 45 }),
        fc.tuple(...MEMBERS.map(() => row)),
        async (events, lastSeq, maybeRows) => {
          // A person has one membership per org: member i's row is user i's.
          const rows = maybeRows.flatMap((r, i) => (r ? [{ ...r, id: MEMBERS[i]!, userId: USERS[i]! }] : []));
          await db.owner(async (d) => {
            await d.execute(sql`DELETE FROM audit_events WHERE org_id = ${ORG}`);
            await d.execute(sql`DELETE FROM members WHERE org_id = ${ORG}`);
            for (const [i, e] of events.entries()) {
              const text = (o: Obj) => (o === null ? null : JSON.stringify(o));
              await d.execute(sql`
                INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after,
                                          created_at, prev_hash, hash)
                VALUES (${ORG}, ${i + 1}, ${`evt_${i + 1}`}, ${e.action}, ${e.actorId}, ${e.targetId}, 'team',
                        ${text(e.before)}, ${text(e.after)}, ${new Date(END.getTime() - 1000).toISOString()}::timestamptz,
                        'x', 'x')`);
            }
            for (const r of rows) {
              const created = new Date(END.getTime() + (r.beforeEnd ? -86_400_000 : 86_400_000)).toISOString();
              await d.execute(sql`
                INSERT INTO members (org_id, id, user_id, role, status, department, store_ids, created_at, updated_at)
                VALUES (${ORG}, ${r.id}, ${r.userId}, ${r.role}, ${r.status}, ${r.department}, '{}',
                        ${created}::timestamptz, now())`);
            }
          });
          const got = await db.tx({ orgId: ORG }, (tx) => monthEndMembers(tx, ORG, lastSeq, END));
          const want = replay(events, lastSeq, rows);
          expect(Object.fromEntries(got.map(({ name: _n, email: _e, ...m }) => [m.memberId, m]))).toEqual(
            Object.fromEntries(want),
          );
          // The Team page's order: lower-case name, then member id (a member with no known user has no name).
          const order = [...got].sort(
            (a, b) =>
              (a.name === null ? -1 : 0) - (b.name === null ? -1 : 0) ||
              (a.name ?? "").toLowerCase().localeCompare((b.name ?? "").toLowerCase()) ||
              (a.memberId < b.memberId ? -1 : 1),
          );
          expect(got.map((m) => m.memberId)).toEqual(order.map((m) => m.memberId));
        },
      ),
      { numRuns: engine === "postgres" ? 150 : 80 },
    );
  });

  it("the month's events stop at the seq the report was built at: later appends stay out", async () => {
    const start = new Date("2026-02-01T00:00:00.000Z");
    await db.owner(async (d) => {
      await d.execute(sql`DELETE FROM audit_events WHERE org_id = ${ORG}`);
      await d.execute(sql`DELETE FROM audit_time_marks WHERE org_id = ${ORG}`);
      await d.execute(sql`
        INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, after, created_at,
                                  prev_hash, hash)
        SELECT ${ORG}, g, 'evt_' || g, CASE WHEN g % 2 = 0 THEN 'team.role_changed' ELSE 'auth.sign_in_failed' END,
               'usr_a', CASE WHEN g % 2 = 0 THEN 'mem_a' ELSE 'usr_b' END, 'team', '{"reason":"invalid_password"}',
               ${start.toISOString()}::timestamptz + g * interval '1 minute', 'x', 'x'
          FROM generate_series(1, 10) AS g`);
    });
    const read = (lastSeq: number) =>
      db.tx({ orgId: ORG }, async (tx) => ({
        listed: rowsOf<{ seq: string | number }>(await tx.execute(listedEventsStatement(ORG, start, END, lastSeq))),
        failed: rowsOf<{ n: number }>(await tx.execute(signInFailuresStatement(ORG, start, END, lastSeq))),
      }));
    const all = await read(10);
    expect(all.listed.map((e) => Number(e.seq))).toEqual([2, 4, 6, 8, 10]);
    expect(all.failed.reduce((n, f) => n + f.n, 0)).toBe(5);
    const upTo6 = await read(6);
    expect(upTo6.listed.map((e) => Number(e.seq))).toEqual([2, 4, 6]);
    expect(upTo6.failed.reduce((n, f) => n + f.n, 0)).toBe(3);
  });

  it.runIf(engine === "postgres")(
    "each statement can read the events from the report's partial index (its action lists are subsets of the index's)",
    async () => {
      const start = new Date("2026-02-01T00:00:00.000Z");
      // A log where the report's events are few among many others, as in any real org, with fresh statistics.
      await db.owner(async (d) => {
        await d.execute(sql`DELETE FROM audit_events WHERE org_id = ${ORG}`);
        await d.execute(sql`
          INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, created_at, prev_hash, hash)
          SELECT ${ORG}, g, 'evt_' || g,
                 CASE g % 100 WHEN 0 THEN 'team.role_changed' WHEN 50 THEN 'auth.sign_in_failed' ELSE 'security.updated' END,
                 'usr_a', 'mem_a', 'team', ${start.toISOString()}::timestamptz + g * interval '1 second', 'x', 'x'
            FROM generate_series(1, 20000) AS g`);
        await d.execute(sql`VACUUM (ANALYZE) audit_events`);
      });
      for (const statement of [
        monthEndMembersStatement(ORG, 10, END),
        listedEventsStatement(ORG, start, END, 20_000),
        signInFailuresStatement(ORG, start, END, 20_000),
      ]) {
        const plan = await db.tx({ orgId: ORG }, async (tx) => {
          const rows = rowsOf<{ "QUERY PLAN": string }>(await tx.execute(sql`EXPLAIN (COSTS OFF) ${statement}`));
          return rows.map((r) => r["QUERY PLAN"]).join("\n");
        });
        expect(plan).toContain("audit_events_report");
      }
    },
  );
});
