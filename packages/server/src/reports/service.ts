import type { AppDeps } from "../deps.ts";
import type { OrgContext } from "../http/principal.ts";
import { invalid } from "../http/errors.ts";
import { reportScope } from "../http/scope.ts";
import {
  complianceReport,
  complianceReportJson,
  forDepartment,
  monthBounds,
  MONTH_RE,
  type ComplianceReport,
} from "./compliance.ts";

/** The month's compliance report as the caller may read it: the org's, or their department's part. */
export async function readComplianceReport(deps: AppDeps, ctx: OrgContext, month: string): Promise<ComplianceReport> {
  const reach = reportReach(deps, ctx, month);
  const full = await complianceReport(deps, ctx.org.id, month);
  return reach.kind === "department" ? forDepartment(full, reach.department) : full;
}

/**
 * The same report as JSON text. The organization's whole report is the kept text itself for a finished month, and
 * is written out once when it is built; a department's part is taken from it.
 */
export async function readComplianceReportJson(deps: AppDeps, ctx: OrgContext, month: string): Promise<string> {
  const reach = reportReach(deps, ctx, month);
  if (reach.kind === "department") {
    return JSON.stringify(forDepartment(await complianceReport(deps, ctx.org.id, month), reach.department));
  }
  return complianceReportJson(deps, ctx.org.id, month);
}

/** What of the month's report the caller may read, once the month is known to be one that has started. */
function reportReach(deps: AppDeps, ctx: OrgContext, month: string): ReturnType<typeof reportScope> {
  const reach = reportScope(ctx);
  if (!MONTH_RE.test(month)) throw invalid("month", "`month` must be YYYY-MM.");
  if (monthBounds(month).start > deps.clock.now()) throw invalid("month", "That month has not started yet.");
  return reach;
}
