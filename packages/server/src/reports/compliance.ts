import { and, eq, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf } from "../db/database.ts";
import { auditEvents, organizations, users } from "../db/schema.ts";
import { invitations } from "../invitations/tables.ts";
import { GENESIS_HASH } from "../audit/chain.ts";
import { verifyOrg } from "../audit/checkpoints.ts";
import type { VerifyResult } from "../audit/verify.ts";
import { complianceReports } from "./tables.ts";
import {
  inMonth,
  listedEventsStatement,
  monthEndMembers,
  ROLE_DEFINITION_ACTIONS,
  signInFailuresStatement,
  type REVOCATION_ACTIONS,
  type ListedEvent,
  type MonthEndMember,
  type SignInFailureSum,
} from "./queries.ts";

export interface ReportMember {
  memberId: string;
  userId: string | null;
  name: string | null;
  email: string | null;
  role: string | null;
  status: "active" | "inactive" | "removed";
  department: string | null;
}

export interface ReportRoleChange {
  seq: number;
  at: string;
  actorId: string | null;
  actorName: string | null;
  memberId: string | null;
  memberName: string | null;
  memberEmail: string | null;
  fromRole: string | null;
  toRole: string | null;
  department: string | null;
}

/** A custom role created, changed or deleted (docs/decisions/0011-custom-roles.md). */
export interface ReportRoleDefinitionChange {
  seq: number;
  at: string;
  action: (typeof ROLE_DEFINITION_ACTIONS)[number];
  actorId: string | null;
  actorName: string | null;
  key: string | null;
  title: string | null;
  rankBefore: number | null;
  rankAfter: number | null;
  permissionsBefore: string[] | null;
  permissionsAfter: string[] | null;
}

export interface ReportRevocation {
  seq: number;
  at: string;
  action: (typeof REVOCATION_ACTIONS)[number];
  actorId: string | null;
  actorName: string | null;
  targetId: string | null;
  subjectName: string | null;
  subjectEmail: string | null;
  detail: string;
  department: string | null;
}

export interface ReportSignInFailures {
  total: number;
  byReason: Record<string, number>;
  byUser: Array<{
    userId: string;
    name: string | null;
    email: string | null;
    count: number;
    lastAt: string;
    reasons: Record<string, number>;
    department: string | null;
  }>;
}

/** An access review campaign started or completed in the month (from its audit events). */
export interface ReportAccessReview {
  seq: number;
  at: string;
  action: "access_review.started" | "access_review.completed";
  campaignId: string | null;
  name: string | null;
  actorId: string | null;
  actorName: string | null;
  detail: string;
}

export interface ComplianceReport {
  cover: {
    orgId: string;
    orgName: string;
    policy: string;
    month: string;
    periodStart: string;
    periodEnd: string;
    /** false while the month is still running: the report can still change. */
    final: boolean;
    generatedAt: string;
    /** The chain's state at the end of the month: the last event written before periodEnd. */
    lastSeq: number;
    lastHash: string;
    eventsInMonth: number;
    /** The whole chain verified when the report was generated. */
    verification: VerifyResult;
    /** "organization", or the department a department-scoped reader sees. */
    scope: string;
  };
  members: ReportMember[];
  roleChanges: ReportRoleChange[];
  accessRevocations: ReportRevocation[];
  signInFailures: ReportSignInFailures;
  /** Custom role definitions changed in the month; absent from reports kept before custom roles existed. */
  roleDefinitionChanges?: ReportRoleDefinitionChange[];
  /** Access review campaigns started and completed in the month; absent from reports kept before they existed. */
  accessReviews?: ReportAccessReview[];
}

export const MONTH_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** [start, end) of a YYYY-MM month in UTC. */
export function monthBounds(month: string): { start: Date; end: Date } {
  const m = MONTH_RE.exec(month);
  if (!m) throw new Error(`not a month: ${month}`);
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { start: new Date(Date.UTC(y, mo, 1)), end: new Date(Date.UTC(y, mo + 1, 1)) };
}

export const monthOf = (d: Date) => d.toISOString().slice(0, 7);

/**
 * `column = ANY(ids)` with the ids as one array parameter. A report names everyone in the org (100,000 people
 * and more): one parameter per id went past the 65,535 parameters a statement may carry and failed the report.
 */
const anyOf = (column: SQLWrapper, ids: string[]): SQL => sql`${column} = ANY(${sql.param(ids)}::text[])`;

/**
 * The report's statements group, sort and hash 100,000s of rows. With the default 4 MB they spill to temporary
 * files (decision 0017).
 */
const REPORT_WORK_MEM = sql`SET LOCAL work_mem = '64MB'`;

/** A membership as the report reads it: {@link monthEndMembers}' answer, by member id. */
type Known = Map<string, MonthEndMember>;

const STATUSES = new Set(["active", "inactive", "removed"]);

const parse = (v: string | null): Record<string, unknown> | null =>
  v === null ? null : (JSON.parse(v) as Record<string, unknown>);

/**
 * Builds the report from the chain: membership as of the month's last event (replayed from the chain in the
 * database, with the member rows only filling in what the chain never recorded, such as members created before it
 * existed), the month's role changes, revocations and failed sign-ins, and the chain's verification and month-end
 * head. Each part is one statement whose answer is already the report's rows: no event is read into the process
 * only to be counted or dropped.
 */
export async function buildComplianceReport(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
  orgId: string,
  month: string,
  /** A verification of the whole chain made just now (the job verifies once for all the months it fills in). */
  verified?: VerifyResult,
): Promise<ComplianceReport> {
  const { start, end } = monthBounds(month);
  const now = deps.clock.now();
  // The chain is verified on connections of its own while the report's rows are read (decision 0017).
  const verifying = verified ? Promise.resolve(verified) : verifyOrg(deps, orgId);
  const reading = (async () => {
    const { org, lastSeq, lastHash } = await deps.db.tx({ orgId }, async (tx) => {
      const [org] = await tx.select().from(organizations).where(eq(organizations.id, orgId));
      if (!org) throw new Error(`org ${orgId} not found`);
      // The hourly marks bound the walk back from the newest event to the hours before the month's end.
      const headRow = rowsOf<{ seq: string | number; hash: string }>(
        await tx.execute(
          sql`SELECT seq, hash FROM audit_events
               WHERE org_id = ${orgId} AND created_at < ${end.toISOString()}::timestamptz
                 AND seq <= (SELECT max(max_seq) FROM audit_time_marks
                              WHERE org_id = ${orgId} AND hour < ${Math.floor(end.getTime() / 3_600_000)})
               ORDER BY seq DESC LIMIT 1`,
        ),
      )[0];
      return { org, lastSeq: headRow ? Number(headRow.seq) : 0, lastHash: headRow?.hash ?? GENESIS_HASH };
    });

    // Every part below reads the chain only up to lastSeq, so the parts agree with one another whichever
    // connection reads them: the month-end members on one, the month's events on another, side by side.
    const [everyone, month] = await Promise.all([
      deps.db.tx({ orgId }, async (tx) => {
        await tx.execute(REPORT_WORK_MEM);
        return monthEndMembers(tx, orgId, lastSeq, end);
      }),
      deps.db.tx({ orgId }, async (tx) => {
        await tx.execute(REPORT_WORK_MEM);
        const listed = rowsOf<ListedEvent>(await tx.execute(listedEventsStatement(orgId, start, end, lastSeq)));
        // Failed sign-ins are summed in the database: per person and reason, with the person's name.
        const failed = rowsOf<SignInFailureSum>(await tx.execute(signInFailuresStatement(orgId, start, end, lastSeq)));
        const [{ n: eventsInMonth } = { n: 0 }] = await tx
          .select({ n: sql<number>`count(*)::int` })
          .from(auditEvents)
          .where(inMonth(orgId, start, end, lastSeq));
        // Names of the month's actors (members or not), and the invitations revoked.
        const actorIds = [...new Set(listed.map((e) => e.actor_id).filter((id): id is string => id !== null))];
        const actors =
          actorIds.length === 0
            ? []
            : await tx.select({ id: users.id, name: users.name }).from(users).where(anyOf(users.id, actorIds));
        const inviteIds = listed
          .filter((e) => e.action === "team.invite_revoked" && e.target_id)
          .map((e) => e.target_id!);
        const invites =
          inviteIds.length === 0
            ? []
            : await tx
                .select({ id: invitations.id, email: invitations.email, department: invitations.department })
                .from(invitations)
                .where(and(eq(invitations.orgId, orgId), anyOf(invitations.id, inviteIds)));
        return { listed, failed, eventsInMonth, actors, invites };
      }),
    ]);
    const { listed, failed, eventsInMonth } = month;
    const known: Known = new Map(everyone.map((m) => [m.memberId, m]));
    const actorNames = new Map(month.actors.map((p) => [p.id, p.name]));
    const actorName = (id: string | null) => (id ? (actorNames.get(id) ?? null) : null);
    const invite = new Map(month.invites.map((i) => [i.id, i]));

    const reportMembers: ReportMember[] = [];
    // A person's department for the failed sign-ins: their membership present at month end, else any other.
    const userDepartment = new Map<string, string | null>();
    for (const m of everyone) {
      if (m.userId && (m.present || !userDepartment.has(m.userId))) userDepartment.set(m.userId, m.department);
      if (!m.present || m.status === null || !STATUSES.has(m.status)) continue;
      reportMembers.push({
        memberId: m.memberId,
        userId: m.userId,
        name: m.name,
        email: m.email,
        role: m.role,
        status: m.status as ReportMember["status"],
        department: m.department,
      });
    }
    const memberInfo = (memberId: string | null) => {
      const m = memberId ? known.get(memberId) : undefined;
      return { name: m?.name ?? null, email: m?.email ?? null, department: m?.department ?? null };
    };

    const roleChanges: ReportRoleChange[] = [];
    const accessRevocations: ReportRevocation[] = [];
    const roleDefinitionChanges: ReportRoleDefinitionChange[] = [];
    const accessReviews: ReportAccessReview[] = [];
    for (const e of listed) {
      const seq = Number(e.seq);
      const at = e.at;
      if ((ROLE_DEFINITION_ACTIONS as readonly string[]).includes(e.action)) {
        roleDefinitionChanges.push(
          roleDefinitionChange(
            {
              seq,
              action: e.action,
              actorId: e.actor_id,
              targetId: e.target_id,
              before: parse(e.before),
              after: parse(e.after),
            },
            at,
            actorName(e.actor_id),
          ),
        );
      } else if (e.action === "team.role_changed") {
        const m = memberInfo(e.target_id);
        roleChanges.push({
          seq,
          at,
          actorId: e.actor_id,
          actorName: actorName(e.actor_id),
          memberId: e.target_id,
          memberName: m.name,
          memberEmail: m.email,
          fromRole: e.before_role,
          toRole: e.after_role,
          department: m.department,
        });
      } else if (e.action === "access_review.started" || e.action === "access_review.completed") {
        accessReviews.push(
          accessReviewRow(
            { seq, action: e.action, targetId: e.target_id, actorId: e.actor_id, after: parse(e.after) },
            at,
            actorName(e.actor_id),
          ),
        );
      } else if (e.action === "team.invite_revoked") {
        const inv = e.target_id ? invite.get(e.target_id) : undefined;
        accessRevocations.push({
          seq,
          at,
          action: e.action,
          actorId: e.actor_id,
          actorName: actorName(e.actor_id),
          targetId: e.target_id,
          subjectName: null,
          subjectEmail: e.before_email ?? inv?.email ?? null,
          detail: `invitation (${e.before_role ?? "?"}) revoked while ${e.before_status ?? "pending"}`,
          department: inv?.department ?? null,
        });
      } else {
        const action = e.action as ReportRevocation["action"];
        const m = memberInfo(e.target_id);
        const from = e.before_status ?? "active";
        accessRevocations.push({
          seq,
          at,
          action,
          actorId: e.actor_id,
          actorName: actorName(e.actor_id),
          targetId: e.target_id,
          subjectName: m.name,
          subjectEmail: m.email,
          detail:
            action === "team.removed"
              ? `removed (role ${e.before_role ?? "?"}, was ${from})`
              : `deactivated (was ${from})`,
          department: m.department,
        });
      }
    }

    const failures: ReportSignInFailures = { total: 0, byReason: {}, byUser: [] };
    const byUser = new Map<string, ReportSignInFailures["byUser"][number]>();
    for (const f of failed) {
      failures.total += f.n;
      failures.byReason[f.reason] = (failures.byReason[f.reason] ?? 0) + f.n;
      let u = byUser.get(f.user_id);
      if (!u) {
        u = {
          userId: f.user_id,
          name: f.name,
          email: f.email,
          count: 0,
          lastAt: f.last_at,
          reasons: {},
          department: userDepartment.get(f.user_id) ?? null,
        };
        byUser.set(f.user_id, u);
      }
      u.count += f.n;
      if (f.last_at > u.lastAt) u.lastAt = f.last_at;
      u.reasons[f.reason] = f.n;
    }
    failures.byUser = [...byUser.values()].sort(
      (a, b) => b.count - a.count || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
    );

    return {
      head: { org, lastSeq, lastHash, eventsInMonth },
      members: reportMembers,
      roleChanges,
      accessRevocations,
      signInFailures: failures,
      roleDefinitionChanges,
      accessReviews,
    };
  })();
  const [verification, { head, ...sections }] = await Promise.all([verifying, reading]);
  return {
    cover: {
      orgId,
      orgName: head.org.name,
      policy: head.org.policy,
      month,
      periodStart: start.toISOString(),
      periodEnd: end.toISOString(),
      final: end <= now,
      generatedAt: now.toISOString(),
      lastSeq: head.lastSeq,
      lastHash: head.lastHash,
      eventsInMonth: head.eventsInMonth,
      verification,
      scope: "organization",
    },
    ...sections,
  };
}

/** The fields of an event the rows below read. */
interface EventFields {
  seq: number;
  action: string;
  actorId: string | null;
  targetId: string | null;
  before?: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

function roleDefinitionChange(e: EventFields, at: string, actorName: string | null): ReportRoleDefinitionChange {
  const before = e.before ?? {};
  const after = e.after ?? {};
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : null);
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    seq: e.seq,
    at,
    action: e.action as ReportRoleDefinitionChange["action"],
    actorId: e.actorId,
    actorName,
    key: e.targetId,
    title: text(after.title) ?? text(before.title),
    rankBefore: num(before.rank),
    rankAfter: num(after.rank),
    permissionsBefore: list(before.permissions),
    permissionsAfter: list(after.permissions),
  };
}

/** One access review event as a report row: what was started over whom, or what completion applied. */
function accessReviewRow(e: EventFields, at: string, actorName: string | null): ReportAccessReview {
  const a = e.after ?? {};
  const n = (k: string) => (typeof a[k] === "number" ? a[k] : 0);
  const detail =
    e.action === "access_review.started"
      ? `started over ${n("items")} members (${n("dormant")} dormant)${a.scheduled === true ? " by the schedule" : ""}`
      : `completed: ${n("applied")} changes applied, ${n("unchanged")} unchanged, ${n("failed")} failed, ${n("notDecided")} not decided`;
  return {
    seq: e.seq,
    at,
    action: e.action as ReportAccessReview["action"],
    campaignId: e.targetId,
    name: typeof a.name === "string" ? a.name : null,
    actorId: e.actorId,
    actorName,
    detail,
  };
}

/** The part of a report a department-scoped reader may see: their department's people and invitations. */
export function forDepartment(report: ComplianceReport, department: string): ComplianceReport {
  const byUser = report.signInFailures.byUser.filter((u) => u.department === department);
  const byReason: Record<string, number> = {};
  for (const u of byUser) for (const [r, n] of Object.entries(u.reasons)) byReason[r] = (byReason[r] ?? 0) + n;
  return {
    cover: { ...report.cover, scope: `department ${department}` },
    members: report.members.filter((m) => m.department === department),
    roleChanges: report.roleChanges.filter((c) => c.department === department),
    accessRevocations: report.accessRevocations.filter((r) => r.department === department),
    signInFailures: { total: byUser.reduce((a, u) => a + u.count, 0), byReason, byUser },
    // Campaigns are the organization's; a department's part of the report does not list them.
    accessReviews: [],
  };
}

/** A finished month's kept report as its JSON text, if the job (or an earlier request) stored one. */
export async function storedReportText(
  deps: Pick<AppDeps, "db">,
  orgId: string,
  month: string,
): Promise<string | null> {
  const rows = await deps.db.tx({ orgId }, async (tx) =>
    rowsOf<{ report: string }>(
      await tx.execute(
        sql`SELECT ${complianceReports.report}::text AS report FROM ${complianceReports}
             WHERE ${complianceReports.orgId} = ${orgId} AND ${complianceReports.month} = ${month}`,
      ),
    ),
  );
  return rows[0]?.report ?? null;
}

/**
 * Keeps a finished month's report, as the JSON text given (or its own); the first one written wins (rows are never
 * changed). Answers whether this one was the first.
 */
export async function storeReport(
  deps: Pick<AppDeps, "db">,
  report: ComplianceReport,
  text: string = JSON.stringify(report),
): Promise<boolean> {
  if (!report.cover.final || report.cover.scope !== "organization")
    throw new Error("only finished, organization-wide reports are kept");
  const written = await deps.db.tx({ orgId: report.cover.orgId }, (tx) =>
    tx
      .insert(complianceReports)
      .values({
        orgId: report.cover.orgId,
        month: report.cover.month,
        lastSeq: report.cover.lastSeq,
        lastHash: report.cover.lastHash,
        report: sql`${text}::json`,
        generatedAt: new Date(report.cover.generatedAt),
      })
      .onConflictDoNothing()
      .returning({ month: complianceReports.month }),
  );
  return written.length > 0;
}

/**
 * The organization-wide report for a month as JSON text: a finished month's kept text when there is one,
 * otherwise built now (and kept, when the month is over). When another instance kept the month first, every
 * caller gets that one.
 */
export async function complianceReportJson(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
  orgId: string,
  month: string,
): Promise<string> {
  const kept = await storedReportText(deps, orgId, month);
  if (kept !== null) return kept;
  const report = await buildComplianceReport(deps, orgId, month);
  const text = JSON.stringify(report);
  if (report.cover.final && !(await storeReport(deps, report, text))) {
    return (await storedReportText(deps, orgId, month)) ?? text;
  }
  return text;
}

/** The organization-wide report for a month as an object (the workbook, a department's part). */
export async function complianceReport(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
  orgId: string,
  month: string,
): Promise<ComplianceReport> {
  const kept = await storedReportText(deps, orgId, month);
  if (kept !== null) return JSON.parse(kept) as ComplianceReport;
  const report = await buildComplianceReport(deps, orgId, month);
  if (report.cover.final && !(await storeReport(deps, report))) {
    const first = await storedReportText(deps, orgId, month);
    if (first !== null) return JSON.parse(first) as ComplianceReport;
  }
  return report;
}
