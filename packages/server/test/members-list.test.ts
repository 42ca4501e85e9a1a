/**
 * The member list at any size (@see issue 13): every sort × filter × cursor walk returns each matching member
 * exactly once and in order, also while members are added and removed between pages; `dormantDays`; the total
 * and its `totalExact` flag; the sort keys and kept counts that migration 0008 maintains with triggers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq, sql } from "drizzle-orm";
import { members, users } from "../src/db/schema.ts";
import { rowsOf } from "../src/db/database.ts";
import { newId } from "../src/lib/ids.ts";
import { createOrg, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";
import { api, signInAgain, type ErrorJson } from "./members.helpers.ts";

let t: TestApp;
let owner: Session;
let orgId: string;
let ownerMemberId: string;
const DAY = 86_400_000;

interface Row {
  id: string;
  name: string;
  email: string;
  role: string;
  status: string;
  department: string | null;
  storeIds: string[];
  lastLoginAt: number | null;
  createdAt: number;
}
type Filters = {
  role?: string;
  status?: string;
  store?: string;
  department?: string;
  q?: string;
  dormantDays?: number;
};
type MemberJson = { id: string };
type Page = { data: MemberJson[]; nextCursor: string | null; total: number; totalExact: boolean };

// Names and email local parts are single words of letters (equal length for emails), so JavaScript's order and
// the database collation's agree; ids are `mem_` and 26 lower-case base-32 characters.
const NAMES = ["Ivy", "ivy", "Bob", "Zed", "amy", "Amy", "Kai"];
const ROLES = ["admin", "staff", "read_only", "staff"];
const local = (i: number) =>
  "k" + [4, 3, 2, 1, 0].map((p) => String.fromCharCode(97 + (Math.floor(i / 26 ** p) % 26))).join("");
let serial = 0;

async function insertMember(i: number, now: number): Promise<void> {
  const userId = newId("usr");
  const at = new Date(now);
  const lastLoginAt = i % 4 === 0 ? null : new Date(now - (i % 6) * 15 * DAY);
  const status = i % 11 === 0 ? "removed" : i % 9 === 0 ? "inactive" : "active";
  await t.db.owner(async (db) => {
    await db.insert(users).values({
      id: userId,
      email: `${local(i)}@example.test`,
      name: NAMES[i % NAMES.length]!,
      passwordHash: null,
      platformRole: null,
      lastLoginAt,
      createdAt: at,
      updatedAt: at,
    });
    await db.insert(members).values({
      orgId,
      id: newId("mem"),
      userId,
      role: ROLES[i % ROLES.length]!,
      status,
      department: i % 3 === 0 ? "sales" : null,
      secondaryEmail: null,
      storeIds: i % 2 ? ["retail"] : i % 5 === 0 ? ["retail", "wholesale"] : [],
      hiddenModules: [],
      invitedBy: null,
      createdAt: new Date(now - (i % 5) * 20 * DAY),
      updatedAt: at,
      removedAt: status === "removed" ? at : null,
    });
  });
}

async function allRows(): Promise<Row[]> {
  const rows = await t.db.owner((db) =>
    db
      .select({ member: members, user: users })
      .from(members)
      .innerJoin(users, eq(users.id, members.userId))
      .where(eq(members.orgId, orgId)),
  );
  return rows.map(({ member: m, user: u }) => ({
    id: m.id,
    name: u.name,
    email: u.email,
    role: m.role,
    status: m.status,
    department: m.department,
    storeIds: m.storeIds,
    lastLoginAt: u.lastLoginAt?.getTime() ?? null,
    createdAt: m.createdAt.getTime(),
  }));
}

function matches(r: Row, f: Filters, now: number): boolean {
  const status = f.status ?? "default";
  if (status === "default" ? r.status === "removed" : status !== "all" && r.status !== status) return false;
  if (f.role && r.role !== f.role) return false;
  if (f.department && r.department !== f.department) return false;
  if (f.store && !r.storeIds.includes(f.store)) return false;
  if (f.q && !r.name.toLowerCase().includes(f.q) && !r.email.toLowerCase().includes(f.q)) return false;
  if (f.dormantDays !== undefined) {
    const before = now - f.dormantDays * DAY;
    if (r.lastLoginAt === null ? r.createdAt >= before : r.lastLoginAt >= before) return false;
  }
  return true;
}

const SORTS = ["name", "email", "role", "status", "lastLoginAt", "createdAt"] as const;
const keyOf = (r: Row, sort: (typeof SORTS)[number]): string | number | null =>
  sort === "name"
    ? r.name.toLowerCase()
    : sort === "email"
      ? r.email.toLowerCase()
      : sort === "lastLoginAt"
        ? r.lastLoginAt
        : sort === "createdAt"
          ? r.createdAt
          : r[sort];

/** The documented order: key ascending or descending, a missing key last either way, ties by id in the same direction. */
function comparator(spec: string): (a: Row, b: Row) => number {
  const desc = spec.startsWith("-");
  const sort = (desc ? spec.slice(1) : spec) as (typeof SORTS)[number];
  const sign = desc ? -1 : 1;
  return (a, b) => {
    const ka = keyOf(a, sort);
    const kb = keyOf(b, sort);
    if (ka === null && kb !== null) return 1;
    if (kb === null && ka !== null) return -1;
    if (ka !== kb && ka !== null && kb !== null) return sign * (ka < kb ? -1 : 1);
    return sign * (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  };
}

const query = (f: Filters, sort: string, limit: number, cursor?: string | null) => {
  const p = new URLSearchParams({ sort, limit: String(limit) });
  for (const [k, v] of Object.entries(f)) p.set(k, String(v));
  if (cursor) p.set("cursor", cursor);
  return `/v1/orgs/${orgId}/members?${p.toString()}`;
};

async function getPage(url: string): Promise<Page> {
  const res = await api(t).get(owner, url);
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  return json<Page>(res);
}

/** Walks every page; `between` runs after each page with the ids seen so far. */
async function walk(f: Filters, sort: string, limit: number, between?: (seen: string[]) => Promise<void>) {
  const seen: string[] = [];
  const totals: Array<{ total: number; totalExact: boolean }> = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page = await getPage(query(f, sort, limit, cursor));
    seen.push(...page.data.map((d) => d.id));
    totals.push({ total: page.total, totalExact: page.totalExact });
    cursor = page.nextCursor;
    if (!cursor) return { seen, totals };
    await between?.(seen);
  }
  throw new Error("the walk did not end");
}

beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app, "user.owner@example.com", "Test Owner");
  const org = await createOrg(t.app, owner, "operations");
  orgId = org.id;
  ownerMemberId = org.memberId;
  const now = t.clock.now().getTime();
  for (let i = 1; i <= 45; i++) await insertMember(i, now);
  serial = 46;
});
afterAll(async () => t.close());

describe("member list: every sort × filter × cursor", () => {
  const FILTERS: Filters[] = [
    {},
    { role: "staff" },
    { status: "all" },
    { status: "removed" },
    { store: "retail" },
    { department: "sales" },
    { q: "iv" },
    { dormantDays: 30 },
    { role: "staff", store: "retail", dormantDays: 30 },
  ];
  for (const sort of SORTS) {
    for (const spec of [sort, `-${sort}`]) {
      it(`sort=${spec}: each filter's walk is the whole matching list in order, with the exact total`, async () => {
        const now = t.clock.now().getTime();
        const rows = await allRows();
        for (const f of FILTERS) {
          const expected = rows.filter((r) => matches(r, f, now)).sort(comparator(spec));
          expect(expected.length, JSON.stringify(f)).toBeGreaterThan(0);
          const { seen, totals } = await walk(f, spec, 7);
          expect(seen, `${spec} ${JSON.stringify(f)}`).toEqual(expected.map((r) => r.id));
          for (const x of totals) expect(x, JSON.stringify(f)).toEqual({ total: expected.length, totalExact: true });
        }
      });
    }
  }
});

describe("member list: members added and removed between pages", () => {
  for (const sort of SORTS) {
    for (const spec of [sort, `-${sort}`]) {
      it(`sort=${spec}: survivors once and in order, removals gone, additions after the cursor included`, async () => {
        const before = new Set((await allRows()).map((r) => r.id));
        let firstPage: string[] = [];
        let changed = false;
        const { seen } = await walk({}, spec, 6, async (sofar) => {
          if (changed) return;
          changed = true;
          firstPage = [...sofar];
          const unseen = (await allRows()).filter(
            (r) => matches(r, {}, t.clock.now().getTime()) && !sofar.includes(r.id) && r.id !== ownerMemberId,
          );
          // Two members not yet seen leave (one soft-removed, one deleted outright), one already seen leaves, and
          // two new ones arrive (their keys fall wherever their values put them).
          const [a, b] = [unseen[1]!, unseen[unseen.length - 1]!];
          await t.db.owner((db) =>
            db
              .update(members)
              .set({ status: "removed", removedAt: t.clock.now() })
              .where(and(eq(members.orgId, orgId), eq(members.id, a.id))),
          );
          await t.db.owner((db) => db.delete(members).where(and(eq(members.orgId, orgId), eq(members.id, b.id))));
          await t.db.owner((db) =>
            db
              .update(members)
              .set({ status: "removed", removedAt: t.clock.now() })
              .where(
                and(
                  eq(members.orgId, orgId),
                  eq(
                    members.id,
                    sofar.find((id) => id !== ownerMemberId)!,
                  ),
                ),
              ),
          );
          await insertMember(serial++, t.clock.now().getTime());
          await insertMember(serial++, t.clock.now().getTime());
        });
        expect(changed).toBe(true);
        const after = (await allRows()).filter((r) => matches(r, {}, t.clock.now().getTime()));
        const cmp = comparator(spec);
        const byId = new Map((await allRows()).map((r) => [r.id, r]));
        const lastOfFirst = byId.get(firstPage[firstPage.length - 1]!)!;
        const expected = [
          ...firstPage,
          ...after
            .filter((r) => cmp(r, lastOfFirst) > 0)
            .sort(cmp)
            .map((r) => r.id),
        ];
        expect(seen).toEqual(expected);
        expect(new Set(seen).size).toBe(seen.length);
        // Every member there from start to end that matches is listed; the additions after the cursor are too.
        for (const r of after) {
          if (before.has(r.id) || cmp(r, lastOfFirst) > 0) expect(seen).toContain(r.id);
        }
      });
    }
  }
});

describe("dormantDays", () => {
  it("lists members whose last sign-in is older than N days, or who never signed in and joined before that", async () => {
    const now = t.clock.now().getTime();
    const rows = await allRows();
    const page = await getPage(query({ dormantDays: 30, status: "all" }, "name", 200));
    const expected = rows.filter(
      (r) =>
        (r.lastLoginAt !== null && r.lastLoginAt < now - 30 * DAY) ||
        (r.lastLoginAt === null && r.createdAt < now - 30 * DAY),
    );
    expect(page.data.map((d) => d.id).sort()).toEqual(expected.map((r) => r.id).sort());
    // Both kinds are present in the data, and a recent joiner who never signed in is not dormant.
    expect(expected.some((r) => r.lastLoginAt === null)).toBe(true);
    expect(expected.some((r) => r.lastLoginAt !== null)).toBe(true);
    expect(rows.some((r) => r.lastLoginAt === null && r.createdAt >= now - 30 * DAY)).toBe(true);
  });

  it("moves with the clock: the same member becomes dormant once the days have passed", async () => {
    const member = await signUp(t.app, "kzzzzz@example.test", "Newcomer");
    const id = newId("mem");
    await t.db.owner((db) =>
      db.insert(members).values({
        orgId,
        id,
        userId: member.user.id,
        role: "staff",
        status: "active",
        department: null,
        secondaryEmail: null,
        storeIds: [],
        hiddenModules: [],
        invitedBy: null,
        createdAt: t.clock.now(),
        updatedAt: t.clock.now(),
        removedAt: null,
      }),
    );
    const ids = async () => (await getPage(query({ dormantDays: 7 }, "name", 200))).data.map((d) => d.id);
    expect(await ids()).not.toContain(id);
    t.clock.advance(8 * DAY);
    owner = await signInAgain(t, "user.owner@example.com");
    expect(await ids()).toContain(id);
    await signInAgain(t, "kzzzzz@example.test");
    expect(await ids()).not.toContain(id);
  });

  it("refuses a value that is not a whole number of days from 1", async () => {
    for (const v of ["0", "-3", "1.5", "soon", "36501"]) {
      const res = await api(t).get(owner, `/v1/orgs/${orgId}/members?dormantDays=${v}`);
      expect(res.statusCode, v).toBe(400);
      expect(json<ErrorJson>(res).error.code).toBe("validation_failed");
    }
  });
});

describe("sort keys and kept counts (migration 0008)", () => {
  it("a rename and a sign-in reach the person's membership sort keys", async () => {
    const s = await signUp(t.app, "kyyyyy@example.test", "Quinn");
    const org2 = await createOrg(t.app, s, "saas");
    const keys = async () =>
      rowsOf<{ name_key: string; last_login_at: Date | string | null }>(
        await t.db.owner((db) =>
          db.execute(
            sql`SELECT name_key, last_login_at FROM members WHERE org_id = ${org2.id} AND user_id = ${s.user.id}`,
          ),
        ),
      )[0]!;
    expect((await keys()).name_key).toBe("quinn");
    t.clock.advance(60_000);
    await signInAgain(t, "kyyyyy@example.test");
    expect(new Date((await keys()).last_login_at!).toISOString()).toBe(t.clock.now().toISOString());
    await t.db.owner((db) => db.update(users).set({ name: "Quentin" }).where(eq(users.id, s.user.id)));
    expect((await keys()).name_key).toBe("quentin");
  });

  it("member_counts equals a fresh count after inserts, status and role changes and deletes", async () => {
    const counts = async (q: ReturnType<typeof sql>) =>
      rowsOf<{ status: string; role: string; n: number }>(await t.db.owner((db) => db.execute(q)))
        .filter((r) => Number(r.n) !== 0)
        .map((r) => `${r.status}/${r.role}=${Number(r.n)}`)
        .sort();
    const kept = () => counts(sql`SELECT status, role, n FROM member_counts WHERE org_id = ${orgId}`);
    const fresh = () =>
      counts(sql`SELECT status, role, count(*)::int AS n FROM members WHERE org_id = ${orgId} GROUP BY 1, 2`);
    expect(await kept()).toEqual(await fresh());
    await t.db.owner((db) =>
      db
        .update(members)
        .set({ role: "admin" })
        .where(and(eq(members.orgId, orgId), eq(members.role, "read_only"))),
    );
    expect(await kept()).toEqual(await fresh());
    const total = (await getPage(query({}, "name", 5))).total;
    expect(total).toBe((await allRows()).filter((r) => r.status !== "removed").length);
    expect((await getPage(query({ role: "admin", status: "all" }, "name", 5))).total).toBe(
      (await allRows()).filter((r) => r.role === "admin").length,
    );
  });

  it("member_stores mirrors every member's stores and sort keys after store, key and membership changes", async () => {
    const mirror = async (q: ReturnType<typeof sql>) =>
      rowsOf<Record<string, unknown>>(await t.db.owner((db) => db.execute(q)))
        .map((r) => JSON.stringify(Object.values(r).map((v) => (v instanceof Date ? v.toISOString() : v))))
        .sort();
    const cols = sql.raw("store, member_id, name_key, email_key, role, status, last_login_at, created_at");
    const kept = () => mirror(sql`SELECT ${cols} FROM member_stores WHERE org_id = ${orgId}`);
    const fresh = () =>
      mirror(sql`SELECT DISTINCT ${cols} FROM (SELECT unnest(store_ids) AS store, id AS member_id, name_key, email_key,
        role, status, last_login_at, created_at FROM members WHERE org_id = ${orgId}) m`);
    expect((await kept()).length).toBeGreaterThan(0);
    expect(await kept()).toEqual(await fresh());
    const rows = await allRows();
    const [a, b, c] = [rows[3]!, rows[4]!, rows[5]!];
    await t.db.owner(async (db) => {
      await db
        .update(members)
        .set({ storeIds: ["wholesale", "outlet", "outlet"] })
        .where(and(eq(members.orgId, orgId), eq(members.id, a.id)));
      await db
        .update(members)
        .set({ storeIds: [] })
        .where(and(eq(members.orgId, orgId), eq(members.id, b.id)));
      await db
        .update(members)
        .set({ status: "inactive", role: "admin" })
        .where(and(eq(members.orgId, orgId), eq(members.id, c.id)));
      await db.update(users).set({ name: "Zed Renamed", lastLoginAt: t.clock.now() }).where(eq(users.email, a.email));
    });
    expect(await kept()).toEqual(await fresh());
    await t.db.owner((db) => db.delete(members).where(and(eq(members.orgId, orgId), eq(members.id, a.id))));
    expect(await kept()).toEqual(await fresh());
  });

  it("a store walk while grants change: survivors once and in order, additions after the cursor included", async () => {
    for (const spec of ["name", "-lastLoginAt", "createdAt"]) {
      const f: Filters = { store: "retail" };
      let firstPage: string[] = [];
      let changed = false;
      const { seen } = await walk(f, spec, 4, async (sofar) => {
        if (changed) return;
        changed = true;
        firstPage = [...sofar];
        const now = t.clock.now().getTime();
        const rows = await allRows();
        const unseenIn = rows.filter((r) => matches(r, f, now) && !sofar.includes(r.id));
        const outside = rows.filter((r) => !matches(r, f, now) && r.status !== "removed" && r.id !== ownerMemberId);
        // One member not yet seen loses the store, one outside gains it, one already seen loses it.
        await t.db.owner(async (db) => {
          await db
            .update(members)
            .set({ storeIds: ["wholesale"] })
            .where(and(eq(members.orgId, orgId), eq(members.id, unseenIn[0]!.id)));
          await db
            .update(members)
            .set({ storeIds: ["retail"] })
            .where(and(eq(members.orgId, orgId), eq(members.id, outside[0]!.id)));
          await db
            .update(members)
            .set({ storeIds: [] })
            .where(and(eq(members.orgId, orgId), eq(members.id, sofar[0]!)));
        });
      });
      expect(changed).toBe(true);
      const rows = await allRows();
      const byId = new Map(rows.map((r) => [r.id, r]));
      const cmp = comparator(spec);
      const lastOfFirst = byId.get(firstPage[firstPage.length - 1]!)!;
      const now = t.clock.now().getTime();
      const expected = [
        ...firstPage,
        ...rows
          .filter((r) => matches(r, f, now) && cmp(r, lastOfFirst) > 0)
          .sort(cmp)
          .map((r) => r.id),
      ];
      expect(seen, spec).toEqual(expected);
    }
  });

  it("a cursor that names no value where the sort always has one is refused", async () => {
    const bad = Buffer.from(JSON.stringify([null, "mem_x"])).toString("base64url");
    const badTime = Buffer.from(JSON.stringify(["not a time", "mem_x"])).toString("base64url");
    for (const url of [query({}, "name", 5, bad), query({}, "createdAt", 5, badTime)]) {
      const res = await api(t).get(owner, url);
      expect(res.statusCode).toBe(400);
      expect(json<ErrorJson>(res).error).toMatchObject({ code: "validation_failed", param: "cursor" });
    }
  });
});
