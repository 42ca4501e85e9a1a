import type { Job } from "./scheduler.ts";
import { purgeRemovedMembersJob } from "../members/purge.ts";
import { mailCleanupJob } from "../mail/cleanup.ts";
import { refreshStatisticsJob } from "../members/statistics.ts";
import { auditCheckpointJob } from "../audit/checkpoints.ts";
import { complianceReportJob } from "../reports/job.ts";
import { oidcLogoutJob, oidcSweepJob } from "../oidc/jobs.ts";
import { accessReviewJob } from "../access-reviews/job.ts";

/** Every periodic job `roster start` runs. A feature adds its job with one line. */
export const jobs: Job[] = [
  purgeRemovedMembersJob,
  mailCleanupJob,
  refreshStatisticsJob,
  auditCheckpointJob,
  complianceReportJob,
  oidcSweepJob,
  oidcLogoutJob,
  accessReviewJob,
];
