import { and, asc, eq, gte, inArray, lt, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf } from "../db/database.ts";
import { auditEvents, members, organizations, users, type AuditEventRow } from "../db/schema.ts";
import { invitations } from "../invitations/tables.ts";
import { GENESIS_HASH } from "../audit/chain.ts";
import { verifyOrg } from "../audit/checkpoints.ts";
import type { VerifyResult } from "../audit/verify.ts";
import { complianceReports } from "./tables.ts";

/** The actions that end or narrow someone's access and so appear in the report's revocations. */
export const REVOCATION_ACTIONS = ["team.deactivated", "team.removed", "team.invite_revoked"] as const;

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

export const ROLE_DEFINITION_ACTIONS = ["role.created", "role.updated", "role.deleted"] as const;

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

/** The events that shape a member's role, status or department, oldest first. */
const MEMBER_ACTIONS = [
  "organization.created",
  "team.invite_accepted",
  "team.role_changed",
  "team.deactivated",
  "team.reactivated",
  "team.removed",
  "team.restored",
  "team.purged",
  "team.department_changed",
] as const;

type Field = "role" | "status" | "department";
type Obj = Record<string, unknown> | null;
const str = (o: Obj, k: string): string | null | undefined => {
  if (!o || !(k in o)) return undefined;
  const v = o[k];
  return typeof v === "string" ? v : v === null ? null : undefined;
};

/** Which member an event is about, and what it says a field was before and became after. */
/** The order `localeCompare` gives, from one collator: building one per comparison dominated a 100,000-name sort. */
const byName = new Intl.Collator();

/** What {@link memberEffect} reads of an event. */
type MembershipEvent = Pick<AuditEventRow, "seq" | "action" | "actorId" | "targetId" | "before" | "after">;

function memberEffect(e: MembershipEvent): {
  memberId: string;
  userId: string | null;
  before: Partial<Record<Field, string | null>>;
  after: Partial<Record<Field, string | null>>;
  creates: boolean;
  purges: boolean;
} | null {
  const b = e.before ?? null;
  const a = e.after ?? null;
  const pick = (o: Obj, fields: Field[]) => {
    const out: Partial<Record<Field, string | null>> = {};
    for (const f of fields) {
      const v = str(o, f);
      if (v !== undefined) out[f] = v;
    }
    return out;
  };
  switch (e.action) {
    case "organization.created": {
      const memberId = str(a, "ownerMemberId");
      if (!memberId) return null;
      return {
        memberId,
        userId: e.actorId,
        before: {},
        after: { role: str(a, "ownerRole") ?? null, status: "active" },
        creates: true,
        purges: false,
      };
    }
    case "team.invite_accepted":
      if (!e.targetId) return null;
      return {
        memberId: e.targetId,
        userId: e.actorId,
        before: {},
        after: { ...pick(a, ["role", "department"]), status: "active" },
        creates: true,
        purges: false,
      };
    case "team.purged":
      if (!e.targetId) return null;
      return {
        memberId: e.targetId,
        userId: str(b, "userId") ?? null,
        before: pick(b, ["role", "status"]),
        after: {},
        creates: false,
        purges: true,
      };
    default:
      if (!e.targetId) return null;
      return {
        memberId: e.targetId,
        userId: null,
        before: pick(b, ["role", "status", "department"]),
        after: pick(a, ["role", "status", "department"]),
        creates: false,
        purges: false,
      };
  }
}

interface MemberState {
  memberId: string;
  userId: string | null;
  exists: boolean;
  purged: boolean;
  known: Partial<Record<Field, string | null>>;
  /** What the first change after the month said the field was: the value at month end when nothing inside says otherwise. */
  laterBefore: Partial<Record<Field, string | null>>;
}

/**
 * Builds the report from the chain: membership as of the month's last event (replayed from the chain, with the
 * member rows only filling in what the chain never recorded, such as members created before it existed), the
 * month's role changes, revocations and failed sign-ins, and the chain's verification and month-end head.
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
  const verification = verified ?? (await verifyOrg(deps, orgId));
  return deps.db.tx({ orgId }, async (tx) => {
    const [org] = await tx.select().from(organizations).where(eq(organizations.id, orgId));
    if (!org) throw new Error(`org ${orgId} not found`);
    const headRow = rowsOf<{ seq: string | number; hash: string }>(
      await tx.execute(
        sql`SELECT seq, hash FROM audit_events WHERE org_id = ${orgId} AND created_at < ${end.toISOString()}::timestamptz ORDER BY seq DESC LIMIT 1`,
      ),
    )[0];
    const lastSeq = headRow ? Number(headRow.seq) : 0;
    const lastHash = headRow?.hash ?? GENESIS_HASH;

    // Membership events of the whole chain: those up to lastSeq say the state, the first one after says what it was.
    const history = await tx
      .select({
        seq: auditEvents.seq,
        action: auditEvents.action,
        actorId: auditEvents.actorId,
        targetId: auditEvents.targetId,
        before: auditEvents.before,
        after: auditEvents.after,
      })
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, orgId), inArray(auditEvents.action, [...MEMBER_ACTIONS])))
      .orderBy(asc(auditEvents.seq));
    const states = new Map<string, MemberState>();
    const stateOf = (memberId: string) => {
      let s = states.get(memberId);
      if (!s) {
        s = { memberId, userId: null, exists: false, purged: false, known: {}, laterBefore: {} };
        states.set(memberId, s);
      }
      return s;
    };
    for (const e of history) {
      const eff = memberEffect(e);
      if (!eff) continue;
      const s = stateOf(eff.memberId);
      if (eff.userId) s.userId = eff.userId;
      if (e.seq <= lastSeq) {
        if (eff.creates) {
          s.exists = true;
          s.purged = false;
        }
        if (eff.purges) s.purged = true;
        Object.assign(s.known, eff.after);
      } else {
        for (const f of ["role", "status", "department"] as const) {
          if (f in eff.before && !(f in s.laterBefore)) s.laterBefore[f] = eff.before[f] ?? null;
        }
      }
    }

    // Member rows: the userId of every member, and the values of those the chain says nothing about.
    const rows = await tx.select().from(members).where(eq(members.orgId, orgId));
    const rowById = new Map(rows.map((r) => [r.id, r]));
    for (const r of rows) {
      const s = stateOf(r.id);
      s.userId ??= r.userId;
      if (r.createdAt < end) s.exists = true;
    }
    // Only the members the chain does not otherwise explain get their current row as their month-end state.
    const value = (s: MemberState, f: Field): string | null => {
      if (f in s.known) return s.known[f] ?? null;
      if (f in s.laterBefore) return s.laterBefore[f] ?? null;
      const r = rowById.get(s.memberId);
      return r ? r[f] : null;
    };

    const monthEvents = await tx
      .select()
      .from(auditEvents)
      .where(
        and(
          eq(auditEvents.orgId, orgId),
          gte(auditEvents.createdAt, start),
          lt(auditEvents.createdAt, end),
          inArray(auditEvents.action, [
            "team.role_changed",
            ...REVOCATION_ACTIONS,
            "auth.sign_in_failed",
            ...ROLE_DEFINITION_ACTIONS,
            "access_review.started",
            "access_review.completed",
          ]),
        ),
      )
      .orderBy(asc(auditEvents.seq));
    const [{ n: eventsInMonth } = { n: 0 }] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, orgId), gte(auditEvents.createdAt, start), lt(auditEvents.createdAt, end)));

    // Names and emails of everyone mentioned.
    const userIds = new Set<string>();
    for (const s of states.values()) if (s.userId) userIds.add(s.userId);
    for (const e of monthEvents) {
      if (e.actorId) userIds.add(e.actorId);
      if (e.action === "auth.sign_in_failed" && e.targetId) userIds.add(e.targetId);
    }
    const people =
      userIds.size === 0
        ? []
        : await tx
            .select({ id: users.id, name: users.name, email: users.email })
            .from(users)
            .where(anyOf(users.id, [...userIds]));
    const person = new Map(people.map((p) => [p.id, p]));
    const inviteIds = monthEvents
      .filter((e) => e.action === "team.invite_revoked" && e.targetId)
      .map((e) => e.targetId!);
    const invites =
      inviteIds.length === 0
        ? []
        : await tx
            .select({ id: invitations.id, email: invitations.email, department: invitations.department })
            .from(invitations)
            .where(and(eq(invitations.orgId, orgId), anyOf(invitations.id, inviteIds)));
    const invite = new Map(invites.map((i) => [i.id, i]));

    const reportMembers: ReportMember[] = [];
    for (const s of states.values()) {
      if (!s.exists || s.purged) continue;
      const status = value(s, "status");
      if (status !== "active" && status !== "inactive" && status !== "removed") continue;
      const p = s.userId ? person.get(s.userId) : undefined;
      reportMembers.push({
        memberId: s.memberId,
        userId: s.userId,
        name: p?.name ?? null,
        email: p?.email ?? null,
        role: value(s, "role"),
        status,
        department: value(s, "department"),
      });
    }
    reportMembers.sort((a, b) => byName.compare(a.name ?? "", b.name ?? "") || byName.compare(a.memberId, b.memberId));
    const memberInfo = (memberId: string | null) => {
      const s = memberId ? states.get(memberId) : undefined;
      const p = s?.userId ? person.get(s.userId) : undefined;
      return { name: p?.name ?? null, email: p?.email ?? null, department: s ? value(s, "department") : null };
    };
    const actorName = (id: string | null) => (id ? (person.get(id)?.name ?? null) : null);

    const roleChanges: ReportRoleChange[] = [];
    const accessRevocations: ReportRevocation[] = [];
    const roleDefinitionChanges: ReportRoleDefinitionChange[] = [];
    const failures: ReportSignInFailures = { total: 0, byReason: {}, byUser: [] };
    const accessReviews: ReportAccessReview[] = [];
    const byUser = new Map<string, ReportSignInFailures["byUser"][number]>();
    const userDepartment = new Map<string, string | null>();
    for (const s of states.values()) if (s.userId) userDepartment.set(s.userId, value(s, "department"));

    for (const e of monthEvents) {
      const at = e.createdAt.toISOString();
      if ((ROLE_DEFINITION_ACTIONS as readonly string[]).includes(e.action)) {
        roleDefinitionChanges.push(roleDefinitionChange(e, at, actorName(e.actorId)));
        continue;
      }
      if (e.action === "team.role_changed") {
        const m = memberInfo(e.targetId);
        roleChanges.push({
          seq: e.seq,
          at,
          actorId: e.actorId,
          actorName: actorName(e.actorId),
          memberId: e.targetId,
          memberName: m.name,
          memberEmail: m.email,
          fromRole: str(e.before ?? null, "role") ?? null,
          toRole: str(e.after ?? null, "role") ?? null,
          department: m.department,
        });
      } else if (e.action === "access_review.started" || e.action === "access_review.completed") {
        accessReviews.push(accessReviewRow(e, at, actorName(e.actorId)));
      } else if (e.action === "auth.sign_in_failed") {
        const reason = str(e.after ?? null, "reason") ?? "unknown";
        failures.total++;
        failures.byReason[reason] = (failures.byReason[reason] ?? 0) + 1;
        const uid = e.targetId ?? e.actorId ?? "unknown";
        let u = byUser.get(uid);
        if (!u) {
          const p = person.get(uid);
          u = {
            userId: uid,
            name: p?.name ?? null,
            email: p?.email ?? null,
            count: 0,
            lastAt: at,
            reasons: {},
            department: userDepartment.get(uid) ?? null,
          };
          byUser.set(uid, u);
        }
        u.count++;
        u.lastAt = at;
        u.reasons[reason] = (u.reasons[reason] ?? 0) + 1;
      } else {
        const action = e.action as ReportRevocation["action"];
        const b = e.before ?? null;
        if (action === "team.invite_revoked") {
          const inv = e.targetId ? invite.get(e.targetId) : undefined;
          accessRevocations.push({
            seq: e.seq,
            at,
            action,
            actorId: e.actorId,
            actorName: actorName(e.actorId),
            targetId: e.targetId,
            subjectName: null,
            subjectEmail: str(b, "email") ?? inv?.email ?? null,
            detail: `invitation (${str(b, "role") ?? "?"}) revoked while ${str(b, "status") ?? "pending"}`,
            department: inv?.department ?? null,
          });
        } else {
          const m = memberInfo(e.targetId);
          const from = str(b, "status") ?? "active";
          const detail =
            action === "team.removed"
              ? `removed (role ${str(b, "role") ?? "?"}, was ${from})`
              : `deactivated (was ${from})`;
          accessRevocations.push({
            seq: e.seq,
            at,
            action,
            actorId: e.actorId,
            actorName: actorName(e.actorId),
            targetId: e.targetId,
            subjectName: m.name,
            subjectEmail: m.email,
            detail,
            department: m.department,
          });
        }
      }
    }
    failures.byUser = [...byUser.values()].sort((a, b) => b.count - a.count || a.userId.localeCompare(b.userId));

    return {
      cover: {
        orgId,
        orgName: org.name,
        policy: org.policy,
        month,
        periodStart: start.toISOString(),
        periodEnd: end.toISOString(),
        final: end <= now,
        generatedAt: now.toISOString(),
        lastSeq,
        lastHash,
        eventsInMonth,
        verification,
        scope: "organization",
      },
      members: reportMembers,
      roleChanges,
      accessRevocations,
      signInFailures: failures,
      roleDefinitionChanges,
      accessReviews,
    };
  });
}

function roleDefinitionChange(e: AuditEventRow, at: string, actorName: string | null): ReportRoleDefinitionChange {
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
function accessReviewRow(
  e: {
    seq: number;
    action: string;
    targetId: string | null;
    actorId: string | null;
    after: Record<string, unknown> | null;
  },
  at: string,
  actorName: string | null,
): ReportAccessReview {
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

/** A finished month's kept report, if the job (or an earlier request) stored one. */
export async function storedReport(
  deps: Pick<AppDeps, "db">,
  orgId: string,
  month: string,
): Promise<ComplianceReport | null> {
  const rows = await deps.db.tx({ orgId }, (tx) =>
    tx
      .select({ report: complianceReports.report })
      .from(complianceReports)
      .where(and(eq(complianceReports.orgId, orgId), eq(complianceReports.month, month))),
  );
  return (rows[0]?.report as ComplianceReport | undefined) ?? null;
}

/** Keeps a finished month's report; the first one written wins (rows are never changed). */
export async function storeReport(deps: Pick<AppDeps, "db">, report: ComplianceReport): Promise<void> {
  if (!report.cover.final || report.cover.scope !== "organization")
    throw new Error("only finished, organization-wide reports are kept");
  await deps.db.tx({ orgId: report.cover.orgId }, (tx) =>
    tx
      .insert(complianceReports)
      .values({
        orgId: report.cover.orgId,
        month: report.cover.month,
        lastSeq: report.cover.lastSeq,
        lastHash: report.cover.lastHash,
        report: report as unknown as Record<string, unknown>,
        generatedAt: new Date(report.cover.generatedAt),
      })
      .onConflictDoNothing(),
  );
}

/**
 * The organization-wide report for a month: a finished month's kept report when there is one, otherwise built now
 * (and kept, when the month is over).
 */
export async function complianceReport(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
  orgId: string,
  month: string,
): Promise<ComplianceReport> {
  const kept = await storedReport(deps, orgId, month);
  if (kept) return kept;
  const report = await buildComplianceReport(deps, orgId, month);
  if (report.cover.final) {
    await storeReport(deps, report);
    return (await storedReport(deps, orgId, month)) ?? report;
  }
  return report;
}
