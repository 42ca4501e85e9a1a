import { and, eq, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import { auditEvents } from "../db/schema.ts";
import { seqBounds } from "../audit/feed.ts";
import { rowsOf } from "../db/database.ts";
import type { Tx } from "../db/types.ts";
import { isoText } from "../lib/columns.ts";

/** The actions that end or narrow someone's access and so appear in the report's revocations. */
export const REVOCATION_ACTIONS = ["team.deactivated", "team.removed", "team.invite_revoked"] as const;

export const ROLE_DEFINITION_ACTIONS = ["role.created", "role.updated", "role.deleted"] as const;

/** The events that shape a member's role, status or department. */
export const MEMBER_ACTIONS = [
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

/** A member as the chain says they stood at the month's end. */
export interface MonthEndMember {
  memberId: string;
  userId: string | null;
  name: string | null;
  email: string | null;
  role: string | null;
  status: string | null;
  department: string | null;
  /** Joined (chain) or had a row created before the month ended, and not purged by then. */
  present: boolean;
}

/** `obj->key` as text when it is a JSON string, else null: what the report reads of a before/after field. */
const text = (obj: "a" | "b", key: string) =>
  sql.raw(`CASE WHEN jsonb_typeof(${obj}->'${key}') = 'string' THEN ${obj}->>'${key}' END`);
/** A list of actions as SQL values, for `IN (…)`. */
const list = (xs: readonly string[]) =>
  sql.join(
    xs.map((x) => sql`${x}`),
    sql`, `,
  );
/** Whether the object records the field at all (a string or null): a field it leaves out says nothing. */
const records = (obj: "a" | "b", key: string) => sql.raw(`jsonb_typeof(${obj}->'${key}') IN ('string', 'null')`);

/**
 * The latest (max) or earliest (min) value of `value` among the events matching `where`, as `seq ‖ '=' ‖ value`:
 * seq is zero-padded to 19 digits, so under the C collation the greatest text is the highest seq, whatever the
 * value. A bare seq (no '=') is an event that set the field to null; no text at all is no such event.
 */
const pick = (fn: "max" | "min", value: SQL, where: SQL) =>
  sql`${sql.raw(fn)}((k || coalesce('=' || ${value}, '')) COLLATE "C") FILTER (WHERE ${where})`;
/** The value out of a {@link pick}: null when the event set it to null or there was none. */
const valueOf = (col: string) => sql.raw(`CASE WHEN length(${col}) > 19 THEN substr(${col}, 21) END`);

/**
 * Every member the chain or the members table knows, with role, status and department as of `lastSeq` (the
 * month's last event), one statement that reads each membership event once:
 *
 * - a field's value is what the last event up to `lastSeq` that recorded it said it became;
 * - else what the first event after `lastSeq` that recorded it said it was before (the chain then still tells);
 * - else the member's current row (members older than the chain, fields it never recorded).
 *
 * A member is present when they joined by the month's end (an `organization.created` or `team.invite_accepted`
 * event, or a row created before `end`) and the last of their joins and purges by then is not a purge. The
 * answer is in the Team page's name order (lower-case name, byte order), then member id.
 */
export function monthEndMembersStatement(orgId: string, lastSeq: number, end: Date): SQL {
  const creates = sql`action IN ('organization.created', 'team.invite_accepted')`;
  const purge = sql`action = 'team.purged'`;
  const plain = sql`action NOT IN ('organization.created', 'team.invite_accepted', 'team.purged')`;
  return sql`
    WITH ev AS (
      -- OFFSET 0 keeps this a subquery of its own, so each event's before and after are parsed once.
      SELECT lpad(seq::text, 19, '0') AS k, seq <= ${lastSeq} AS known, action, actor_id,
             nullif(CASE WHEN action = 'organization.created' THEN ${text("a", "ownerMemberId")} ELSE target_id END, '')
               AS member_id,
             b, a
        FROM (SELECT seq, action, actor_id, target_id, before::jsonb AS b, after::jsonb AS a
                FROM audit_events
               WHERE org_id = ${orgId} AND action IN (${list(MEMBER_ACTIONS)})
              OFFSET 0) e
    ),
    chain AS (
      SELECT member_id,
        ${pick("max", sql`CASE WHEN action = 'organization.created' THEN ${text("a", "ownerRole")} ELSE ${text("a", "role")} END`, sql`known AND (action = 'organization.created' OR (NOT ${purge} AND ${records("a", "role")}))`)} AS role_now,
        ${pick("min", text("b", "role"), sql`NOT known AND NOT ${creates} AND ${records("b", "role")}`)} AS role_later,
        ${pick("max", sql`CASE WHEN ${creates} THEN 'active' ELSE ${text("a", "status")} END`, sql`known AND (${creates} OR (${plain} AND ${records("a", "status")}))`)} AS status_now,
        ${pick("min", text("b", "status"), sql`NOT known AND NOT ${creates} AND ${records("b", "status")}`)} AS status_later,
        ${pick("max", text("a", "department"), sql`known AND action <> 'organization.created' AND NOT ${purge} AND ${records("a", "department")}`)} AS department_now,
        ${pick("min", text("b", "department"), sql`NOT known AND ${plain} AND ${records("b", "department")}`)} AS department_later,
        ${pick("max", sql`CASE WHEN ${purge} THEN 'purged' ELSE 'joined' END`, sql`known AND (${creates} OR ${purge})`)} AS presence,
        ${pick("max", sql`CASE WHEN ${purge} THEN ${text("b", "userId")} ELSE actor_id END`, sql`(${creates} OR ${purge}) AND coalesce(CASE WHEN ${purge} THEN ${text("b", "userId")} ELSE actor_id END, '') <> ''`)} AS user_id
        FROM ev WHERE member_id IS NOT NULL
       GROUP BY member_id
    ),
    m AS (SELECT id, user_id, role, status, department, created_at FROM members WHERE org_id = ${orgId}),
    merged AS (
      SELECT coalesce(c.member_id, m.id) AS member_id,
             coalesce(${valueOf("c.user_id")}, m.user_id) AS user_id,
             CASE WHEN c.role_now IS NOT NULL THEN ${valueOf("c.role_now")}
                  WHEN c.role_later IS NOT NULL THEN ${valueOf("c.role_later")} ELSE m.role END AS role,
             CASE WHEN c.status_now IS NOT NULL THEN ${valueOf("c.status_now")}
                  WHEN c.status_later IS NOT NULL THEN ${valueOf("c.status_later")} ELSE m.status END AS status,
             CASE WHEN c.department_now IS NOT NULL THEN ${valueOf("c.department_now")}
                  WHEN c.department_later IS NOT NULL THEN ${valueOf("c.department_later")} ELSE m.department END
               AS department,
             coalesce(c.presence IS NOT NULL OR m.created_at < ${end.toISOString()}::timestamptz, false)
               AND coalesce(${valueOf("c.presence")}, '') <> 'purged' AS present
        FROM chain c FULL JOIN m ON m.id = c.member_id
    )
    SELECT x.member_id AS "memberId", x.user_id AS "userId", u.name, u.email, x.role, x.status, x.department,
           x.present
      FROM merged x LEFT JOIN users u ON u.id = x.user_id
     ORDER BY lower(u.name) COLLATE "C" NULLS FIRST, x.member_id COLLATE "C"`;
}

/** {@link monthEndMembersStatement}, run. */
export async function monthEndMembers(tx: Tx, orgId: string, lastSeq: number, end: Date): Promise<MonthEndMember[]> {
  // The columns are named as the report names them: each row is used as it arrives.
  return rowsOf<MonthEndMember>(await tx.execute(monthEndMembersStatement(orgId, lastSeq, end)));
}

/** An event of the month the report lists one by one, with the few fields of before/after it shows. */
export interface ListedEvent {
  seq: string | number;
  action: string;
  actor_id: string | null;
  target_id: string | null;
  at: string;
  before_role: string | null;
  after_role: string | null;
  before_status: string | null;
  before_email: string | null;
  /** before/after in full, only for the rare events shown whole (role definitions, access reviews). */
  before: string | null;
  after: string | null;
}

/**
 * The month's events, [start, end), up to `lastSeq` (the chain head the report was built at): the created_at
 * range, narrowed to a seq range by the hourly marks.
 */
export const inMonth = (orgId: string, start: Date, end: Date, lastSeq: number) =>
  and(
    eq(auditEvents.orgId, orgId),
    gte(auditEvents.createdAt, start),
    lt(auditEvents.createdAt, end),
    lte(auditEvents.seq, lastSeq),
    seqBounds(orgId, start, end),
  );

/** The listed actions the report shows by a few fields; the others (role definitions, access reviews) in full. */
const SHOWN_BY_FIELDS = ["team.role_changed", ...REVOCATION_ACTIONS];

/** The month's role changes, revocations, role definition changes and access reviews, in seq order. */
export const listedEventsStatement = (orgId: string, start: Date, end: Date, lastSeq: number): SQL => sql`
  SELECT seq, action, actor_id, target_id, at,
         ${text("b", "role")} AS before_role, ${text("a", "role")} AS after_role,
         ${text("b", "status")} AS before_status, ${text("b", "email")} AS before_email,
         CASE WHEN action NOT IN (${list(SHOWN_BY_FIELDS)}) THEN before END AS before,
         CASE WHEN action NOT IN (${list(SHOWN_BY_FIELDS)}) THEN after END AS after
    -- OFFSET 0 keeps this a subquery of its own, so each event's before and after are parsed once.
    FROM (SELECT seq, action, actor_id, target_id, ${isoText(auditEvents.createdAt)} AS at, before, after,
                 before::jsonb AS b, after::jsonb AS a
            FROM audit_events
           WHERE ${inMonth(orgId, start, end, lastSeq)} AND action IN (${list([...SHOWN_BY_FIELDS, ...ROLE_DEFINITION_ACTIONS, "access_review.started", "access_review.completed"])})
          OFFSET 0) e
   ORDER BY seq`;

/** The month's failed sign-ins summed per person and reason, with the time of the latest. */
export interface SignInFailureSum {
  user_id: string;
  reason: string;
  n: number;
  last_at: string;
  name: string | null;
  email: string | null;
}

export const signInFailuresStatement = (orgId: string, start: Date, end: Date, lastSeq: number): SQL => sql`
  SELECT f.user_id, f.reason, f.n, ${isoText(sql.raw("f.last_at"))} AS last_at, u.name, u.email
    FROM (SELECT coalesce(target_id, actor_id, 'unknown') AS user_id, coalesce(${text("a", "reason")}, 'unknown') AS reason,
                 count(*)::int AS n, max(created_at) AS last_at
            FROM (SELECT target_id, actor_id, created_at, after::jsonb AS a
                    FROM audit_events WHERE ${inMonth(orgId, start, end, lastSeq)} AND action = 'auth.sign_in_failed'
                  OFFSET 0) e
           GROUP BY 1, 2) f
    LEFT JOIN users u ON u.id = f.user_id`;
