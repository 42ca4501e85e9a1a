import { and, asc, desc, eq, ilike, inArray, or, sql, type SQL } from "drizzle-orm";
import type { Tx } from "../db/database.ts";
import { members, users, type MemberRow, type UserRow } from "../db/schema.ts";
import { AppError } from "../http/errors.ts";
import { decodeCursor, encodeCursor } from "../http/cursor.ts";

export const MEMBER_SORTS = ["name", "email", "role", "status", "lastLoginAt", "createdAt"] as const;
export type MemberSort = (typeof MEMBER_SORTS)[number];

export interface MemberQuery {
  role?: string | undefined;
  status?: "active" | "inactive" | "removed" | "all" | undefined;
  department?: string | undefined;
  store?: string | undefined;
  q?: string | undefined;
  sort?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

const sortColumn = {
  name: users.name,
  email: users.email,
  role: members.role,
  status: members.status,
  lastLoginAt: users.lastLoginAt,
  createdAt: members.createdAt,
} as const;

/** The org's members under the list filters and the caller's row scope (http/scope.ts). */
export function memberFilters(orgId: string, q: Omit<MemberQuery, "limit">, scope: SQL): SQL {
  const conds: Array<SQL | undefined> = [eq(members.orgId, orgId), scope];
  const status = q.status ?? "default";
  if (status === "default") conds.push(inArray(members.status, ["active", "inactive"]));
  else if (status !== "all") conds.push(eq(members.status, status));
  if (q.role) conds.push(eq(members.role, q.role));
  if (q.department) conds.push(eq(members.department, q.department));
  if (q.store) conds.push(sql`${q.store} = ANY(${members.storeIds})`);
  if (q.q) {
    const like = `%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(or(ilike(users.name, like), ilike(users.email, like)));
  }
  return and(...conds)!;
}

export async function selectMemberPage(
  tx: Tx,
  orgId: string,
  q: MemberQuery,
  scope: SQL,
): Promise<{ rows: Array<{ member: MemberRow; user: UserRow }>; nextCursor: string | null; total: number }> {
  const sortSpec = q.sort ?? "name";
  const descending = sortSpec.startsWith("-");
  const key = (descending ? sortSpec.slice(1) : sortSpec) as MemberSort;
  if (!MEMBER_SORTS.includes(key)) {
    throw new AppError(
      "validation_failed",
      `\`sort\` must be one of ${MEMBER_SORTS.join(", ")} (prefix - for descending).`,
      { param: "sort" },
    );
  }
  const col = sortColumn[key];
  // Sorting on text form keeps one cursor format for every column; timestamps sort correctly as ISO text.
  const keyExpr =
    key === "lastLoginAt" || key === "createdAt"
      ? sql<string | null>`to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`
      : sql<string | null>`lower(${col})`;
  const where = memberFilters(orgId, q, scope);
  let pageWhere: SQL = where;
  if (q.cursor) {
    // Keyset: the sort key's text (null sorts last) and the member id of the last row seen.
    const [v, id] = decodeCursor(q.cursor, ["string?", "string"]);
    const c = { v, id };
    // NULLs sort last in both directions.
    const after = descending
      ? c.v === null
        ? sql`(${keyExpr} IS NULL AND ${members.id} < ${c.id})`
        : sql`(${keyExpr} < ${c.v} OR ${keyExpr} IS NULL OR (${keyExpr} = ${c.v} AND ${members.id} < ${c.id}))`
      : c.v === null
        ? sql`(${keyExpr} IS NULL AND ${members.id} > ${c.id})`
        : sql`(${keyExpr} > ${c.v} OR ${keyExpr} IS NULL OR (${keyExpr} = ${c.v} AND ${members.id} > ${c.id}))`;
    pageWhere = and(where, after)!;
  }
  const order = descending
    ? [sql`${keyExpr} DESC NULLS LAST`, desc(members.id)]
    : [sql`${keyExpr} ASC NULLS LAST`, asc(members.id)];
  const rows = await tx
    .select({ member: members, user: users, sortKey: keyExpr })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(pageWhere)
    .orderBy(...order)
    .limit(q.limit + 1);
  const [{ total } = { total: 0 }] = await tx
    .select({ total: sql<number>`count(*)::int` })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(where);
  const more = rows.length > q.limit;
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    rows: page.map(({ member, user }) => ({ member, user })),
    nextCursor: more && last ? encodeCursor([last.sortKey, last.member.id]) : null,
    total,
  };
}
