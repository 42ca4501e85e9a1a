import { PassThrough, Readable } from "node:stream";
import { once } from "node:events";
import { and, asc, eq, gt, type SQL } from "drizzle-orm";
import { stringify } from "csv-stringify";
import ExcelJS from "exceljs";
import type { AppDeps } from "../deps.ts";
import { members, users } from "../db/schema.ts";
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
type ExportRow = Record<(typeof EXPORT_COLUMNS)[number], string>;
const BATCH = 1000;

/**
 * A cell that a spreadsheet would read as a formula (= + - @, or tab / CR that some tools strip first) gets a
 * leading apostrophe, the OWASP CSV-injection defence: the value is then shown as text.
 */
export function neutralize(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/**
 * Reads the org's members in id order, one short transaction per batch (keyset on id), so a 100,000-member
 * export holds neither a long transaction nor more than one batch in memory.
 */
async function* memberRows(
  deps: AppDeps,
  ctx: OrgContext,
  filters: MemberExportFilters,
  scope: SQL,
): AsyncGenerator<ExportRow> {
  let after: string | null = null;
  const where = memberFilters(ctx.org.id, filters, scope, deps.clock.now());
  for (;;) {
    const batch = await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, (tx) =>
      tx
        .select({
          id: members.id,
          name: users.name,
          email: users.email,
          role: members.role,
          status: members.status,
          lastLoginAt: users.lastLoginAt,
          createdAt: members.createdAt,
          department: members.department,
          storeIds: members.storeIds,
        })
        .from(members)
        .innerJoin(users, eq(users.id, members.userId))
        .where(after ? and(where, gt(members.id, after)) : where)
        .orderBy(asc(members.id))
        .limit(BATCH),
    );
    for (const m of batch) {
      yield {
        name: m.name,
        email: m.email,
        role: m.role,
        status: m.status,
        lastLoginAt: m.lastLoginAt?.toISOString() ?? "",
        createdAt: m.createdAt.toISOString(),
        department: m.department ?? "",
        stores: m.storeIds.join(";"),
      };
    }
    if (batch.length < BATCH) return;
    after = batch[batch.length - 1]!.id;
  }
}

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
  const csv = stringify({ header: true, columns: [...EXPORT_COLUMNS], cast: { string: neutralize } });
  // pipe() gives back-pressure: the database is read only as fast as the client downloads.
  const source = Readable.from(memberRows(deps, ctx, filters, scope));
  source.on("error", (err) => csv.destroy(err));
  return source.pipe(csv);
}

function xlsxExport(deps: AppDeps, ctx: OrgContext, filters: MemberExportFilters, scope: SQL): Readable {
  const out = new PassThrough();
  void (async () => {
    const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: false, useSharedStrings: false });
    const sheet = workbook.addWorksheet("Members");
    sheet.columns = EXPORT_COLUMNS.map((key) => ({ header: key, key }));
    let n = 0;
    for await (const row of memberRows(deps, ctx, filters, scope)) {
      sheet.addRow(EXPORT_COLUMNS.map((c) => neutralize(row[c]))).commit();
      if (++n % BATCH === 0 && out.writableNeedDrain) await once(out, "drain");
    }
    sheet.commit();
    await workbook.commit();
  })().catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
  return out;
}
