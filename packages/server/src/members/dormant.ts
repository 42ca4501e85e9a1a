import { isNull, lt, or, type SQL } from "drizzle-orm";
import { users } from "../db/schema.ts";

const DAY_MS = 86_400_000;

/**
 * Dormant, in one definition: the last sign-in is older than `days` days, or there never was one. Used by the
 * members list filter (`dormantDays=N`) and by access reviews, so both always flag the same people.
 */
export function dormantCutoff(days: number, now: Date): Date {
  return new Date(now.getTime() - days * DAY_MS);
}

/** The same rule for one person in the process. */
export function isDormant(lastLoginAt: Date | null, days: number, now: Date): boolean {
  return lastLoginAt === null || lastLoginAt.getTime() < dormantCutoff(days, now).getTime();
}

/** The same rule as a condition on `users` (join it to the members being filtered). */
export function dormantCondition(days: number, now: Date): SQL {
  return or(isNull(users.lastLoginAt), lt(users.lastLoginAt, dormantCutoff(days, now)))!;
}
