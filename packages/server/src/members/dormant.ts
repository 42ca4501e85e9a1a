import { sql, type SQL, type SQLWrapper } from "drizzle-orm";

const DAY_MS = 86_400_000;

/**
 * Dormant, in one definition (docs/team.md, "Dormant members"): the last sign-in is older than `days` days,
 * or there never was one and the membership itself is older than that (someone invited yesterday who has
 * not signed in yet is not dormant). Used by the members list filter (`dormantDays=N`) and by access
 * reviews, so both always flag the same people.
 */
export function dormantCutoff(days: number, now: Date): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

/** The rule for one member in the process. */
export function isDormant(lastLoginAt: Date | null, joinedAt: Date, days: number, now: Date): boolean {
  const cutoff = dormantCutoff(days, now).getTime();
  return (lastLoginAt ?? joinedAt).getTime() < cutoff;
}

/** The rule as SQL, over the query's last-sign-in and joined-at expressions. */
export function dormantWhere(lastLoginAt: SQLWrapper, joinedAt: SQLWrapper, days: number, now: Date): SQL {
  const before = dormantCutoff(days, now).toISOString();
  return sql`(${lastLoginAt} < ${before}::timestamptz OR (${lastLoginAt} IS NULL AND ${joinedAt} < ${before}::timestamptz))`;
}
