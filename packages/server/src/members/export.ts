import { Readable } from "node:stream";
import { and, gt, sql, type SQL } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf } from "../db/database.ts";
import { members, users } from "../db/schema.ts";
import { isoText } from "../lib/columns.ts";
import { neutralize, tableWorkbook } from "../lib/sheets.ts";
import type { OrgContext } from "../http/principal.ts";
import { memberScope } from "../http/scope.ts";
import { memberFilters, type MemberQuery } from "./queries.ts";

export type MemberExportFilters = Omit<MemberQuery, "limit" | "cursor" | "sort">;

export const EXPORT_COLUMNS = [
  "name",
  "email",
  "role",
  "status",
  "lastLoginAt",
  "createdAt",
  "department",
  "stores",
] as const;
const BATCH = 5000;

/** A member as the export reads it: the timestamps and the store list already as the text the file holds. */
interface ExportSource {
  id: string;
  name: string;
  email: string;
  role: string;
  status: string;
  lastLoginAt: string | null;
  createdAt: string;
  department: string | null;
  stores: string;
}

/** One member's cells in EXPORT_COLUMNS order, neutralised. */
function cells(m: ExportSource): string[] {
  return [
    neutralize(m.name),
    neutralize(m.email),
    neutralize(m.role),
    m.status,
    m.lastLoginAt ?? "",
    m.createdAt,
    neutralize(m.department ?? ""),
    neutralize(m.stores),
  ];
}

/**
 * Reads the org's members in id order, one short transaction per batch of 5,000 (keyset on id), so a 100,000-
 * member export holds neither a long transaction nor more than one batch in memory.
 */
async function* memberBatches(
  deps: AppDeps,
  ctx: OrgContext,
  filters: MemberExportFilters,
  scope: SQL,
): AsyncGenerator<ExportSource[]> {
  let after: string | null = null;
  const where = memberFilters(ctx.org.id, filters, scope, deps.clock.now());
  for (;;) {
    const cond: SQL | undefined = after ? and(where, gt(members.id, after)) : where;
    // A plain statement, not the query builder: the rows arrive as the driver makes them, with no per-cell mapping
    // (at 100,000 members that mapping cost more than the formatting).
    const batch: ExportSource[] = await deps.db.tx(
      { orgId: ctx.org.id, userId: ctx.member.userId },
      async (tx): Promise<ExportSource[]> =>
        rowsOf<ExportSource>(
          await tx.execute(sql`
          SELECT ${members.id} AS id, ${users.name} AS name, ${users.email} AS email, ${members.role} AS role,
                 ${members.status} AS status, ${isoText(users.lastLoginAt)} AS "lastLoginAt",
                 ${isoText(members.createdAt)} AS "createdAt", ${members.department} AS department,
                 array_to_string(${members.storeIds}, ';') AS stores
            FROM ${members} INNER JOIN ${users} ON ${users.id} = ${members.userId}
           WHERE ${cond}
           ORDER BY ${members.id} LIMIT ${BATCH}`),
        ),
    );
    if (batch.length > 0) yield batch;
    if (batch.length < BATCH) return;
    after = batch[batch.length - 1]!.id;
  }
}

/** RFC 4180 quoting, as csv-stringify does it: only a cell holding a comma, quote or line break is quoted. */
const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

/**
 * The member export the caller may take (`member:export`, within their row scope), as a stream. The scope is
 * decided before the first byte, so a refusal is a plain 403 and never a cut-off file.
 */
export function memberExport(
  deps: AppDeps,
  ctx: OrgContext,
  format: "csv" | "xlsx",
  filters: MemberExportFilters,
): Readable {
  const scope = memberScope(ctx, "export");
  return format === "xlsx" ? xlsxExport(deps, ctx, filters, scope) : csvExport(deps, ctx, filters, scope);
}

function csvExport(deps: AppDeps, ctx: OrgContext, filters: MemberExportFilters, scope: SQL): Readable {
  // One string per batch, written as it is read: back-pressure through Readable.from, no object per cell.
  async function* chunks() {
    yield `${EXPORT_COLUMNS.join(",")}\n`;
    for await (const batch of memberBatches(deps, ctx, filters, scope)) {
      let out = "";
      for (const m of batch) {
        const c = cells(m);
        out += `${csvCell(c[0]!)},${csvCell(c[1]!)},${csvCell(c[2]!)},${c[3]},${c[4]},${c[5]},${csvCell(c[6]!)},${csvCell(c[7]!)}\n`;
      }
      yield out;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

function xlsxExport(deps: AppDeps, ctx: OrgContext, filters: MemberExportFilters, scope: SQL): Readable {
  // Each batch becomes rows as the sheet is written: the archive reads the next one when it wants more.
  async function* rows() {
    for await (const batch of memberBatches(deps, ctx, filters, scope)) yield batch.map(cells);
  }
  return tableWorkbook([{ name: "Members", header: EXPORT_COLUMNS, rows: rows() }]);
}
