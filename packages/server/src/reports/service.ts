import type { AppDeps } from "../deps.ts";
import type { OrgContext } from "../http/principal.ts";
import { invalid } from "../http/errors.ts";
import { reportScope } from "../http/scope.ts";
import { complianceReport, forDepartment, monthBounds, MONTH_RE, type ComplianceReport } from "./compliance.ts";

/** The month's compliance report as the caller may read it: the org's, or their department's part. */
export async function readComplianceReport(deps: AppDeps, ctx: OrgContext, month: string): Promise<ComplianceReport> {
  const reach = reportScope(ctx);
  if (!MONTH_RE.test(month)) throw invalid("month", "`month` must be YYYY-MM.");
  if (monthBounds(month).start > deps.clock.now()) throw invalid("month", "That month has not started yet.");
  const full = await complianceReport(deps, ctx.org.id, month);
  return reach.kind === "department" ? forDepartment(full, reach.department) : full;
}
