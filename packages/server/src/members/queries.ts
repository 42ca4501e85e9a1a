import { dormantWhere } from "./dormant.ts";
import { and, asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Tx } from "../db/database.ts";
import type { Static } from "@sinclair/typebox";
import { members, memberStores, users } from "../db/schema.ts";
import { isoText } from "../lib/columns.ts";
import { AppError } from "../http/errors.ts";
import { decodeCursor, encodeCursor } from "../http/cursor.ts";
import type { Member } from "./shape.ts";

export const MEMBER_SORTS = ["name", "email", "role", "status", "lastLoginAt", "createdAt"] as const;
export type MemberSort = (typeof MEMBER_SORTS)[number];

export interface MemberQuery {
  role?: string | undefined;
  status?: "active" | "inactive" | "removed" | "all" | undefined;
  department?: string | undefined;
  store?: string | undefined;
  q?: string | undefined;
  /** Members whose last sign-in is more than this many days old, or who never signed in and joined before that. */
  dormantDays?: number | undefined;
  sort?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

/**
 * The sort keys of migration 0008, on the membership row itself (name, email and last sign-in are copies of the
 * person's, kept by triggers), so each sort is a range scan of one `(org_id, key, id)` index. Referenced by name
 * because no code writes them: the database fills them.
 */
const nameKey = sql`"members"."name_key"`;
const emailKey = sql`"members"."email_key"`;
const lastLoginKey = sql`"members"."last_login_at"`;

interface SortKey {
  column: SQL;
  /** The same key on the store rows (migration 0013), read when the list is filtered by store. */
  storeColumn: SQL;
  /** Timestamps travel in the cursor as ISO text with microseconds (PostgreSQL's precision). */
  time: boolean;
  nullable: boolean;
}
const sortKeys: Record<MemberSort, SortKey> = {
  name: { column: nameKey, storeColumn: sql`${memberStores.nameKey}`, time: false, nullable: false },
  email: { column: emailKey, storeColumn: sql`${memberStores.emailKey}`, time: false, nullable: false },
  role: { column: sql`${members.role}`, storeColumn: sql`${memberStores.role}`, time: false, nullable: false },
  status: { column: sql`${members.status}`, storeColumn: sql`${memberStores.status}`, time: false, nullable: false },
  lastLoginAt: { column: lastLoginKey, storeColumn: sql`${memberStores.lastLoginAt}`, time: true, nullable: true },
  createdAt: {
    column: sql`${members.createdAt}`,
    storeColumn: sql`${memberStores.createdAt}`,
    time: true,
    nullable: false,
  },
};

/** What counts as dormant at `now`: the one definition in dormant.ts, over the membership's own columns. */
export function dormantCondition(days: number, now: Date): SQL {
  return dormantWhere(lastLoginKey, members.createdAt, days, now);
}

/** The statuses a list shows when it names none: the current members, in sort order. */
const CURRENT = ["active", "inactive"] as const;

/**
 * The org's members under the list filters and the caller's row scope (http/scope.ts). Every condition is on
 * the membership row, so counting and exporting never join the people table.
 */
export function memberFilters(
  orgId: string,
  q: Omit<MemberQuery, "limit">,
  scope: SQL,
  now: Date,
  opts: { storeJoined?: boolean } = {},
): SQL {
  const conds: Array<SQL | undefined> = [eq(members.orgId, orgId), scope];
  const status = q.status ?? "default";
  if (status === "default") conds.push(inArray(members.status, [...CURRENT]));
  else if (status !== "all") conds.push(eq(members.status, status));
  if (q.role) conds.push(eq(members.role, q.role));
  if (q.department) conds.push(eq(members.department, q.department));
  // The store's members from its store rows (migration 0013): `store_ids @> …` could not use an index under row
  // security. A page sorted within a store reads those rows directly (memberPagePlan) and skips this.
  if (q.store && !opts.storeJoined) {
    conds.push(
      sql`${members.id} IN (SELECT ${memberStores.memberId} FROM ${memberStores} WHERE ${memberStores.orgId} = ${orgId} AND ${memberStores.store} = ${q.store})`,
    );
  }
  if (q.q) {
    // The people whose name or email contains the text, from the trigram indexes on users (migration 0008: an
    // index on members could not serve ILIKE under row security); the org's own rows are then kept by org_id.
    const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(
      sql`${members.userId} IN (SELECT ${users.id} FROM ${users} WHERE ${users.name} ILIKE ${like} OR ${users.email} ILIKE ${like})`,
    );
  }
  if (q.dormantDays !== undefined) conds.push(dormantCondition(q.dormantDays, now));
  return and(...conds)!;
}

/**
 * Only status, role and store narrow the list: the kept counts (member_counts) or the store's rows
 * (member_stores) give the exact total.
 */
export function countable(q: MemberQuery): boolean {
  return !q.q && !q.department && q.dormantDays === undefined;
}

/** Up to this many matches are counted exactly on any page; past it the total is the planner's estimate. */
export const EXACT_COUNT_LIMIT = 10_000;

/** A list row: the API's member (members/shape.ts), its timestamps already ISO text from the database. */
export type ListedMember = Static<typeof Member>;

export interface MemberPage {
  rows: ListedMember[];
  nextCursor: string | null;
  total: number;
  totalExact: boolean;
}

function parseSort(spec: string): { key: MemberSort; descending: boolean } {
  const descending = spec.startsWith("-");
  const key = (descending ? spec.slice(1) : spec) as MemberSort;
  if (!MEMBER_SORTS.includes(key)) {
    throw new AppError(
      "validation_failed",
      `\`sort\` must be one of ${MEMBER_SORTS.join(", ")} (prefix - for descending).`,
      { param: "sort" },
    );
  }
  return { key, descending };
}

interface PagePlan {
  want: number;
  cursor: { v: string | null; id: string } | null;
  where: SQL;
  /** Part one: members with a value, after the cursor's (value, id); null when the cursor is past them. */
  first: PageStatement | null;
  /** Part two (last sign-in only): members who never signed in, by id, once part one has run out. */
  second: ((limit: number) => PageStatement) | null;
}

/**
 * What a list row shows, named and ordered as the API's member: the person's email, name and last sign-in, never
 * their credentials. A plain statement, not the query builder: the rows arrive as the answer's objects, with the
 * timestamps as ISO text made by the database (at 200 rows a page, mapping each field and making Date objects
 * cost more than the statement itself).
 */
const LISTED = sql`${members.id} AS id, ${members.userId} AS "userId", ${members.orgId} AS "orgId", ${users.email} AS email,
  ${members.secondaryEmail} AS "secondaryEmail", ${users.name} AS name, ${members.role} AS role,
  ${members.status} AS status, ${members.department} AS department, ${members.storeIds} AS "storeIds",
  ${members.hiddenModules} AS "hiddenModules", ${isoText(users.lastLoginAt)} AS "lastLoginAt",
  ${isoText(members.createdAt)} AS "createdAt", ${isoText(members.removedAt)} AS "removedAt",
  ${members.invitedBy} AS "invitedBy"`;

/** A page's statement and the row it answers: the member, the row's sort key (for the cursor) and the total. */
type PageRow = ListedMember & { sortKey: string | null; total: number | string | null };
type PageStatement = SQL<PageRow>;

/** The total the page carries when the kept counts give it (null: counted afterwards, if needed). */
type TotalColumn = SQL<number | null>;

function pageSelect(keyText: SQL<string | null>, where: SQL, order: SQL[], limit: number, total: TotalColumn) {
  return sql<PageRow>`SELECT ${LISTED}, ${keyText} AS "sortKey", ${total} AS total
    FROM ${members} INNER JOIN ${users} ON ${users.id} = ${members.userId}
   WHERE ${where} ORDER BY ${sql.join(order, sql`, `)} LIMIT ${limit}`;
}

/** A page within one store: the store rows' `(org_id, store, key, member_id)` index gives the order. */
function storePageSelect(keyText: SQL<string | null>, where: SQL, order: SQL[], limit: number, total: TotalColumn) {
  return sql<PageRow>`SELECT ${LISTED}, ${keyText} AS "sortKey", ${total} AS total
    FROM ${memberStores}
   INNER JOIN ${members} ON ${members.orgId} = ${memberStores.orgId} AND ${members.id} = ${memberStores.memberId}
   INNER JOIN ${users} ON ${users.id} = ${members.userId}
   WHERE ${where} ORDER BY ${sql.join(order, sql`, `)} LIMIT ${limit}`;
}

/** The statements one page runs, unrun (the benchmark and a test EXPLAIN them). */
export function memberPagePlan(
  orgId: string,
  q: MemberQuery,
  scope: SQL,
  now: Date,
  /** The caller sees the whole org: a countable page carries its exact total from the kept counts. */
  wholeOrg = false,
): PagePlan {
  const { key, descending } = parseSort(q.sort ?? "name");
  const byStore = q.store !== undefined && q.store !== "";
  const column = byStore ? sortKeys[key].storeColumn : sortKeys[key].column;
  const sk = { ...sortKeys[key], column };
  const idColumn = byStore ? memberStores.memberId : members.id;
  const where = memberFilters(orgId, q, scope, now);
  // Within a store the page reads the store rows in key order; the count (plan.where) keeps the plain filter.
  const pageWhere = byStore
    ? and(
        eq(memberStores.orgId, orgId),
        eq(memberStores.store, q.store!),
        memberFilters(orgId, q, scope, now, { storeJoined: true }),
      )!
    : where;
  const select = byStore ? storePageSelect : pageSelect;
  // Read in the page's own statement (one round trip, one snapshot) rather than by a second one.
  const total: TotalColumn = wholeOrg && countable(q) ? keptCount(orgId, q) : sql<null>`NULL::int`;
  const keyText = sk.time
    ? sql<string | null>`to_char(${sk.column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
    : sql<string | null>`${sk.column}`;
  const cmp = descending ? sql`<` : sql`>`;
  const dir = descending ? desc : asc;

  let cursor: { v: string | null; id: string } | null = null;
  if (q.cursor) {
    const [v, id] = decodeCursor(q.cursor, ["string?", "string"]);
    if ((v === null && !sk.nullable) || (v !== null && sk.time && Number.isNaN(Date.parse(v)))) {
      throw new AppError("validation_failed", "`cursor` is not a cursor this endpoint issued.", { param: "cursor" });
    }
    cursor = { v, id };
  }
  const want = q.limit + 1;
  let first: PagePlan["first"] = null;
  if (!cursor || cursor.v !== null) {
    const after = cursor
      ? sk.time
        ? sql`(${sk.column}, ${idColumn}) ${cmp} (${cursor.v}::timestamptz, ${cursor.id})`
        : sql`(${sk.column}, ${idColumn}) ${cmp} (${cursor.v}, ${cursor.id})`
      : undefined;
    const present = sk.nullable ? sql`${sk.column} IS NOT NULL` : undefined;
    // Sorted by status under the default filter: PostgreSQL 15 cannot keep the index order and use the IN list
    // as an index condition, so it walked every removed member first (the descending order starts there). The
    // statuses' range, implied by the list, bounds the index range.
    const statuses =
      key === "status" && (q.status ?? "default") === "default"
        ? sql`${sk.column} BETWEEN ${CURRENT[0]} AND ${CURRENT[1]}`
        : undefined;
    const order = [sql`${sk.column} ${descending ? sql`DESC` : sql`ASC`}`, dir(idColumn)];
    first = select(keyText, and(pageWhere, present, statuses, after)!, order, want, total);
  }
  let second: PagePlan["second"] = null;
  if (sk.nullable) {
    const after = cursor?.v === null ? sql`${idColumn} ${cmp} ${cursor.id}` : undefined;
    const cond = and(pageWhere, sql`${sk.column} IS NULL`, after)!;
    second = (limit) => select(keyText, cond, [dir(idColumn)], limit, total);
  }
  return { want, cursor, where, first, second };
}

/**
 * One page of members. Keyset pagination on (sort key, member id): the cursor holds the last row's key and id,
 * and the next page starts strictly after it, so members added or removed between pages never shift a page.
 * A missing last sign-in sorts last in both directions: the walk reads the signed-in members first and then
 * the never-signed-in ones in id order, each part a range of the same index.
 */
export async function selectMemberPage(
  tx: Tx,
  orgId: string,
  q: MemberQuery,
  scope: SQL,
  opts: { now: Date; wholeOrg: boolean },
): Promise<MemberPage> {
  const plan = memberPagePlan(orgId, q, scope, opts.now, opts.wholeOrg);
  const run = async (stmt: PageStatement) => rowsOf<PageRow>(await tx.execute(stmt));
  let rows = plan.first ? await run(plan.first) : [];
  if (plan.second && rows.length < plan.want) rows = rows.concat(await run(plan.second(plan.want - rows.length)));
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  const carried = rows[0]?.total;
  const { total, totalExact } =
    !plan.cursor && !more
      ? { total: page.length, totalExact: true }
      : carried !== undefined && carried !== null
        ? { total: Number(carried), totalExact: true }
        : await countMembers(tx, orgId, q, plan.where, opts.wholeOrg);
  return {
    rows: page.map(({ sortKey: _key, total: _total, ...member }) => member),
    nextCursor: more && last ? encodeCursor([last.sortKey, last.id]) : null,
    total,
    totalExact,
  };
}

/**
 * The list's total without counting every row of a large org. Only status and role filter and the caller sees
 * the whole org: the kept counts, exact. Otherwise the planner's estimate first (no rows read); when it is
 * small, the matches are counted (up to {@link EXACT_COUNT_LIMIT}) through the same selective path the
 * estimate came from, exact; when it is large, counting would read most of the org, so `total` is the
 * estimate and `totalExact` is false.
 */
async function countMembers(
  tx: Tx,
  orgId: string,
  q: MemberQuery,
  where: SQL,
  wholeOrg: boolean,
): Promise<{ total: number; totalExact: boolean }> {
  if (wholeOrg && countable(q)) {
    const res = await tx.execute(sql`SELECT ${keptCount(orgId, q)} AS total`);
    return { total: Number(rowsOf<{ total: number }>(res)[0]?.total ?? 0), totalExact: true };
  }
  const plan = await tx.execute(sql`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${members} WHERE ${where}`);
  const estimate = planRows(rowsOf<{ "QUERY PLAN": unknown }>(plan)[0]?.["QUERY PLAN"]);
  if (estimate > COUNT_WHEN_ESTIMATE_BELOW) return { total: estimate, totalExact: false };
  const counted = await tx.execute(
    sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM ${members} WHERE ${where} LIMIT ${EXACT_COUNT_LIMIT + 1}) m`,
  );
  const n = Number(rowsOf<{ n: number }>(counted)[0]?.n ?? 0);
  return n <= EXACT_COUNT_LIMIT ? { total: n, totalExact: true } : { total: Math.max(n, estimate), totalExact: false };
}

/**
 * The exact number of members under a {@link countable} query's status, role and store, from what is kept for
 * it: the org's counts per status and role (member_counts), or a store's rows, which carry both (one index range).
 */
function keptCount(orgId: string, q: MemberQuery): SQL<number> {
  const status = q.status ?? "default";
  const statuses = status === "default" ? [...CURRENT] : status === "all" ? null : [status];
  const narrow = sql`${
    statuses
      ? sql`AND status IN (${sql.join(
          statuses.map((s) => sql`${s}`),
          sql`, `,
        )})`
      : sql``
  } ${q.role ? sql`AND role = ${q.role}` : sql``}`;
  return q.store
    ? sql<number>`(SELECT count(*)::int FROM member_stores WHERE org_id = ${orgId} AND store = ${q.store} ${narrow})`
    : sql<number>`(SELECT coalesce(sum(n), 0)::int FROM member_counts WHERE org_id = ${orgId} ${narrow})`;
}

/** Below this estimate the matches are few enough to count on every page. */
const COUNT_WHEN_ESTIMATE_BELOW = 2_000;

/** The top node's row estimate of an `EXPLAIN (FORMAT JSON)` answer (a JSON array, or its text). */
function planRows(raw: unknown): number {
  const parsed: unknown = typeof raw === "string" ? JSON.parse(raw) : raw;
  const top = Array.isArray(parsed) ? (parsed[0] as { Plan?: { "Plan Rows"?: unknown } } | undefined) : undefined;
  const rows = top?.Plan?.["Plan Rows"];
  return typeof rows === "number" && Number.isFinite(rows) ? Math.round(rows) : 0;
}
