import { pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

/** One row per periodic job, shared by every instance (migration 0002_audit.sql). */
export const jobRuns = pgTable("job_runs", {
  name: text("name").primaryKey(),
  nextRunAt: ts("next_run_at").notNull(),
  lockedUntil: ts("locked_until"),
  lockedBy: text("locked_by"),
  lastRunAt: ts("last_run_at"),
  lastFinishedAt: ts("last_finished_at"),
  lastError: text("last_error"),
});
export type JobRunRow = typeof jobRuns.$inferSelect;
