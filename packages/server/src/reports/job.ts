import { eq } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { organizations } from "../db/schema.ts";
import type { Job } from "../jobs/scheduler.ts";
import { allOrgIds, verifyOrg } from "../audit/checkpoints.ts";
import { buildComplianceReport, monthBounds, monthOf, storeReport } from "./compliance.ts";
import { complianceReports } from "./tables.ts";

/** How far back the job fills in months that were never kept (an installation that was down for a while). */
export const BACKFILL_MONTHS = 24;

/** The finished months an org existed in, oldest first, at most BACKFILL_MONTHS of them. */
export function finishedMonths(createdAt: Date, now: Date): string[] {
  const out: string[] = [];
  let m = monthOf(now);
  for (let i = 0; i < BACKFILL_MONTHS; i++) {
    const { start } = monthBounds(m);
    const prev = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() - 1, 1));
    m = monthOf(prev);
    if (monthBounds(m).end <= createdAt) break;
    out.unshift(m);
  }
  return out;
}

/** Generates and keeps the report of every finished month of every org that has none yet; answers how many. */
export async function keepMonthlyReports(deps: Pick<AppDeps, "db" | "config" | "clock">): Promise<number> {
  let kept = 0;
  const now = deps.clock.now();
  for (const orgId of await allOrgIds(deps)) {
    const { created, have } = await deps.db.tx({ orgId }, async (tx) => {
      const [org] = await tx
        .select({ createdAt: organizations.createdAt })
        .from(organizations)
        .where(eq(organizations.id, orgId));
      const rows = await tx
        .select({ month: complianceReports.month })
        .from(complianceReports)
        .where(eq(complianceReports.orgId, orgId));
      return { created: org?.createdAt ?? now, have: new Set(rows.map((r) => r.month)) };
    });
    const missing = finishedMonths(created, now).filter((m) => !have.has(m));
    if (missing.length === 0) continue;
    // One verification of the whole chain serves every month filled in now.
    const verification = await verifyOrg(deps, orgId);
    for (const month of missing) {
      await storeReport(deps, await buildComplianceReport(deps, orgId, month, verification));
      kept++;
    }
  }
  return kept;
}

export const complianceReportJob: Job = {
  name: "reports.compliance_monthly",
  intervalSeconds: 3600,
  leaseSeconds: 15 * 60,
  async run(deps) {
    await keepMonthlyReports(deps);
  },
};
