import { sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import type { Job } from "../jobs/scheduler.ts";

/** The tables the member list and export scan; their planner statistics decide whether a page is an index walk. */
const TABLES = ["members", "users", "invitations"] as const;

/**
 * Refreshes planner statistics on the embedded database. PostgreSQL's autovacuum does this by itself; the
 * embedded PGlite runs no background workers, so without it the planner keeps default selectivities and a
 * 100,000-member export turns each 1,000-row page into a full join and sort (seconds per page instead of
 * milliseconds); and without vacuum, no page of the audit log is ever marked all-visible. Answers whether anything ran.
 */
export async function refreshStatistics(deps: Pick<AppDeps, "db">): Promise<boolean> {
  if (deps.db.kind !== "pglite") return false;
  for (const table of TABLES) await deps.db.owner((d) => d.execute(sql.raw(`ANALYZE ${table}`)));
  // The audit log is append-only: vacuum marks its pages all-visible (later runs skip those pages), which lets the
  // compliance report read its events from migration 0015's index alone, as autovacuum allows on PostgreSQL.
  await deps.db.owner((d) => d.execute(sql`VACUUM (ANALYZE) audit_events`));
  return true;
}

export const refreshStatisticsJob: Job = {
  name: "db.refresh_member_statistics",
  intervalSeconds: 3600,
  run: async (deps) => {
    await refreshStatistics(deps);
  },
};
