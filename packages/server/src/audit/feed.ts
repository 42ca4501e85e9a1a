import { PassThrough, Readable } from "node:stream";
import { and, asc, desc, eq, gt, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import { stringify } from "csv-stringify";
import { neutralize } from "../lib/sheets.ts";
import type { AppDeps } from "../deps.ts";
import { auditEvents, type AuditEventRow } from "../db/schema.ts";
import type { OrgContext } from "../http/principal.ts";
import { AppError } from "../http/errors.ts";
import { decodeCursor, encodeCursor } from "../http/cursor.ts";
import { auditScope, reachOf } from "../http/scope.ts";
import { verifyOrg } from "./checkpoints.ts";

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

/** The WHERE clause for an org's events under the filters and the caller's row scope (http/scope.ts). */
function auditWhere(orgId: string, f: AuditFilters, scope: SQL): SQL {
  const conds: Array<SQL | undefined> = [eq(auditEvents.orgId, orgId), scope];
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
  if (from || to) conds.push(seqBounds(orgId, from, to));
  return and(...conds)!;
}

const HOUR = 3_600_000;

/**
 * A time range as the seq range that holds all its events (migration 0013's hourly marks: the lowest and highest
 * seq written in each hour), so a filtered page walks seq inside the range instead of from the newest event
 * down. The created_at conditions stay: the bounds only narrow, they never decide what matches. No mark in the
 * range means no event in it (both bounds are then null and nothing matches).
 */
export function seqBounds(orgId: string, from: Date | null, to: Date | null): SQL {
  const hours = and(
    sql`m.org_id = ${orgId}`,
    from ? sql`m.hour >= ${Math.floor(from.getTime() / HOUR)}` : undefined,
    to ? sql`m.hour <= ${Math.floor(to.getTime() / HOUR)}` : undefined,
  );
  return sql`${auditEvents.seq} BETWEEN (SELECT min(m.min_seq) FROM audit_time_marks m WHERE ${hours})
    AND (SELECT max(m.max_seq) FROM audit_time_marks m WHERE ${hours})`;
}

/** Newest first, keyset on seq: a page is stable while new events are appended. */
export async function listAuditEvents(
  deps: Pick<AppDeps, "db">,
  ctx: OrgContext,
  f: AuditFilters & { cursor?: string | undefined; limit: number },
) {
  const where = auditWhere(ctx.org.id, f, auditScope(ctx, "read"));
  // Keyset: the seq of the last event seen.
  const page = f.cursor ? and(where, lt(auditEvents.seq, decodeCursor(f.cursor, ["int"])[0]))! : where;
  const rows = await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, (tx) =>
    tx
      .select()
      .from(auditEvents)
      .where(page)
      .orderBy(desc(auditEvents.seq))
      .limit(f.limit + 1),
  );
  const more = rows.length > f.limit;
  const data = rows.slice(0, f.limit).map(eventOut);
  const last = data[data.length - 1];
  return { data, nextCursor: more && last ? encodeCursor([last.seq]) : null };
}

/** The chain check: any reader of the log may run it (it answers hashes and positions, no events). */
export async function verifyAuditLog(deps: AppDeps, ctx: OrgContext) {
  reachOf(ctx, "audit_log", "read");
  return verifyOrg(deps, ctx.org.id);
}

/**
 * The export the caller may take (`audit_log:export`, within their row scope), as a stream. The scope and the
 * filters are checked before the first byte, so bad input or a refusal is a plain 4xx, never a cut-off file.
 */
export function auditExport(
  deps: Pick<AppDeps, "db">,
  ctx: OrgContext,
  format: "csv" | "jsonl",
  f: AuditFilters,
): Readable {
  const where = auditWhere(ctx.org.id, f, auditScope(ctx, "export"));
  return format === "csv" ? csvAuditExport(deps, ctx.org.id, where) : jsonlAuditExport(deps, ctx.org.id, where);
}

const BATCH = 2000;

/** The org's events in seq order, one short transaction per batch, so an export holds no long transaction. */
async function* auditRows(deps: Pick<AppDeps, "db">, orgId: string, where: SQL): AsyncGenerator<AuditEventOut> {
  let after = 0;
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

function csvAuditExport(deps: Pick<AppDeps, "db">, orgId: string, where: SQL): Readable {
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], cast: { string: neutralize } });
  async function* rows() {
    for await (const e of auditRows(deps, orgId, where)) yield csvRow(e);
  }
  const source = Readable.from(rows());
  source.on("error", (err) => csv.destroy(err));
  return source.pipe(csv);
}

/** One JSON object per line, in seq order, with exactly the hashed fields plus prevHash and hash (docs/audit.md). */
function jsonlAuditExport(deps: Pick<AppDeps, "db">, orgId: string, where: SQL): Readable {
  const out = new PassThrough();
  async function* lines() {
    for await (const e of auditRows(deps, orgId, where)) yield `${JSON.stringify(e)}\n`;
  }
  const source = Readable.from(lines());
  source.on("error", (err) => out.destroy(err));
  return source.pipe(out);
}
