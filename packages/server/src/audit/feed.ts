import { PassThrough, Readable } from "node:stream";
import { and, asc, desc, eq, gt, gte, lt, lte, or, sql, type SQL } from "drizzle-orm";
import { stringify } from "csv-stringify";
import { filterFor } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { auditEvents, members, type AuditEventRow } from "../db/schema.ts";
import { invitations } from "../invitations/tables.ts";
import { authorize, type OrgContext } from "../http/context.ts";
import { AppError } from "../http/errors.ts";

/** One event as the API, the exports and the verification script see it. */
export interface AuditEventOut {
  orgId: string;
  seq: number;
  id: string;
  action: string;
  actorId: string | null;
  targetId: string | null;
  entityType: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  prevHash: string;
  hash: string;
}

export interface AuditFilters {
  action?: string | undefined;
  actorId?: string | undefined;
  targetId?: string | undefined;
  entityType?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** What part of the log the caller may see: all of it, or what concerns their department's people. */
export type AuditScope = { kind: "all" } | { kind: "department"; department: string };

export function auditScope(ctx: OrgContext, action: "read" | "export"): AuditScope {
  const f = filterFor(ctx.policy, ctx.subject, action, "audit_log");
  if (f.kind === "all") return { kind: "all" };
  if (f.kind === "department") return { kind: "department", department: f.department };
  // Anything else (none, or a scope that makes no sense for the log) is refused with the permission needed.
  authorize(ctx, action, { type: "audit_log" });
  throw new AppError("permission_denied", `Reading the audit log needs \`audit_log:${action}\`.`, {
    requiredPermission: `audit_log:${action}`,
  });
}

export function eventOut(r: AuditEventRow): AuditEventOut {
  return {
    orgId: r.orgId,
    seq: r.seq,
    id: r.id,
    action: r.action,
    actorId: r.actorId,
    targetId: r.targetId,
    entityType: r.entityType,
    before: r.before ?? null,
    after: r.after ?? null,
    ip: r.ip,
    userAgent: r.userAgent,
    createdAt: r.createdAt.toISOString(),
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

function parseTime(param: "from" | "to", v: string): Date {
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) {
    throw new AppError(
      "validation_failed",
      `\`${param}\` must be an ISO 8601 timestamp such as 2026-11-22T10:15:00.000Z.`,
      { param },
    );
  }
  return d;
}

/** The WHERE clause for an org's events under the filters and the caller's scope. */
export function auditWhere(orgId: string, f: AuditFilters, scope: AuditScope): SQL {
  const conds: Array<SQL | undefined> = [eq(auditEvents.orgId, orgId)];
  if (f.action) conds.push(eq(auditEvents.action, f.action));
  if (f.actorId) conds.push(eq(auditEvents.actorId, f.actorId));
  if (f.targetId) conds.push(eq(auditEvents.targetId, f.targetId));
  if (f.entityType) conds.push(eq(auditEvents.entityType, f.entityType));
  const from = f.from ? parseTime("from", f.from) : null;
  const to = f.to ? parseTime("to", f.to) : null;
  if (from && to && from > to)
    throw new AppError("validation_failed", "`from` must not be after `to`.", { param: "from" });
  if (from) conds.push(gte(auditEvents.createdAt, from));
  if (to) conds.push(lte(auditEvents.createdAt, to));
  if (scope.kind === "department") {
    // The department's people as members (team events), as users (sign-ins, their own actions) and its invitations.
    const d = scope.department;
    const deptUsers = sql`(SELECT ${members.userId} FROM ${members} WHERE ${members.orgId} = ${orgId} AND ${members.department} = ${d})`;
    const deptMembers = sql`(SELECT ${members.id} FROM ${members} WHERE ${members.orgId} = ${orgId} AND ${members.department} = ${d})`;
    const deptInvites = sql`(SELECT ${invitations.id} FROM ${invitations} WHERE ${invitations.orgId} = ${orgId} AND ${invitations.department} = ${d})`;
    conds.push(
      or(
        sql`${auditEvents.actorId} IN ${deptUsers}`,
        sql`${auditEvents.targetId} IN ${deptMembers}`,
        sql`${auditEvents.targetId} IN ${deptUsers}`,
        sql`${auditEvents.targetId} IN ${deptInvites}`,
      ),
    );
  }
  return and(...conds)!;
}

const encodeCursor = (seq: number) => Buffer.from(JSON.stringify({ s: seq })).toString("base64url");
function decodeCursor(cursor: string): number {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (v && typeof v === "object" && "s" in v && Number.isSafeInteger(v.s) && (v.s as number) > 0)
      return v.s as number;
  } catch {
    /* fall through */
  }
  throw new AppError("validation_failed", "`cursor` is not a cursor this endpoint issued.", { param: "cursor" });
}

/** Newest first, keyset on seq: a page is stable while new events are appended. */
export async function listAuditEvents(
  tx: Tx,
  orgId: string,
  f: AuditFilters & { cursor?: string | undefined; limit: number },
  scope: AuditScope,
) {
  const where = auditWhere(orgId, f, scope);
  const page = f.cursor ? and(where, lt(auditEvents.seq, decodeCursor(f.cursor)))! : where;
  const rows = await tx
    .select()
    .from(auditEvents)
    .where(page)
    .orderBy(desc(auditEvents.seq))
    .limit(f.limit + 1);
  const more = rows.length > f.limit;
  const data = rows.slice(0, f.limit).map(eventOut);
  const last = data[data.length - 1];
  return { data, nextCursor: more && last ? encodeCursor(last.seq) : null };
}

const BATCH = 2000;

/** The org's events in seq order, one short transaction per batch, so an export holds no long transaction. */
export async function* auditRows(
  deps: Pick<AppDeps, "db">,
  orgId: string,
  f: AuditFilters,
  scope: AuditScope,
): AsyncGenerator<AuditEventOut> {
  let after = 0;
  const where = auditWhere(orgId, f, scope);
  for (;;) {
    const batch = await deps.db.tx({ orgId }, (tx) =>
      tx
        .select()
        .from(auditEvents)
        .where(and(where, gt(auditEvents.seq, after)))
        .orderBy(asc(auditEvents.seq))
        .limit(BATCH),
    );
    for (const r of batch) yield eventOut(r);
    if (batch.length < BATCH) return;
    after = batch[batch.length - 1]!.seq;
  }
}

/** Same rule as the member export: a cell a spreadsheet would run as a formula gets a leading apostrophe. */
export function neutralize(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export const CSV_COLUMNS = [
  "seq",
  "id",
  "createdAt",
  "action",
  "actorId",
  "targetId",
  "entityType",
  "before",
  "after",
  "ip",
  "userAgent",
  "prevHash",
  "hash",
] as const;

function csvRow(e: AuditEventOut): Record<(typeof CSV_COLUMNS)[number], string> {
  return {
    seq: String(e.seq),
    id: e.id,
    createdAt: e.createdAt,
    action: e.action,
    actorId: e.actorId ?? "",
    targetId: e.targetId ?? "",
    entityType: e.entityType,
    before: e.before === null ? "" : JSON.stringify(e.before),
    after: e.after === null ? "" : JSON.stringify(e.after),
    ip: e.ip ?? "",
    userAgent: e.userAgent ?? "",
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

export function csvAuditExport(deps: Pick<AppDeps, "db">, orgId: string, f: AuditFilters, scope: AuditScope): Readable {
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], cast: { string: neutralize } });
  async function* rows() {
    for await (const e of auditRows(deps, orgId, f, scope)) yield csvRow(e);
  }
  const source = Readable.from(rows());
  source.on("error", (err) => csv.destroy(err));
  return source.pipe(csv);
}

/** One JSON object per line, in seq order, with exactly the hashed fields plus prevHash and hash (docs/audit.md). */
export function jsonlAuditExport(
  deps: Pick<AppDeps, "db">,
  orgId: string,
  f: AuditFilters,
  scope: AuditScope,
): Readable {
  const out = new PassThrough();
  async function* lines() {
    for await (const e of auditRows(deps, orgId, f, scope)) yield `${JSON.stringify(e)}\n`;
  }
  const source = Readable.from(lines());
  source.on("error", (err) => out.destroy(err));
  return source.pipe(out);
}
