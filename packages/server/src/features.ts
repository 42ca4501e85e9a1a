import type { FastifyInstance } from "fastify";
import type { AppDeps } from "./deps.ts";
import { healthRoutes } from "./health/routes.ts";
import { metricsRoutes } from "./metrics/routes.ts";
import { authRoutes } from "./auth/routes.ts";
import { meRoutes } from "./auth/me-routes.ts";
import { orgRoutes } from "./orgs/routes.ts";
import { memberRoutes } from "./members/routes.ts";
import { invitationRoutes } from "./invitations/routes.ts";
import { passwordRoutes } from "./auth/password-routes.ts";
import { devMailboxRoutes } from "./mail/routes.ts";
import { authorizeRoutes } from "./authorize/routes.ts";
import { platformRoutes } from "./platform/routes.ts";
import { mfaRoutes } from "./mfa/routes.ts";
import { securityRoutes } from "./security/routes.ts";
import { memberSessionRoutes } from "./security/member-sessions-routes.ts";
import { apiKeyRoutes } from "./api-keys/routes.ts";
import { auditRoutes } from "./audit/routes.ts";
import { reportRoutes } from "./reports/routes.ts";
import { consoleRoutes } from "./console/routes.ts";
import { accessReviewRoutes } from "./access-reviews/routes.ts";

/** Every feature's routes, in one list: a new feature adds one line here. */
export async function registerFeatures(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await metricsRoutes(app, deps);
  await healthRoutes(app, deps);
  await authRoutes(app, deps);
  await meRoutes(app, deps);
  await orgRoutes(app, deps);
  await memberRoutes(app, deps);
  await invitationRoutes(app, deps);
  await passwordRoutes(app, deps);
  await devMailboxRoutes(app, deps);
  await authorizeRoutes(app, deps);
  await platformRoutes(app, deps);
  await mfaRoutes(app, deps);
  await securityRoutes(app, deps);
  await memberSessionRoutes(app, deps);
  await apiKeyRoutes(app, deps);
  await auditRoutes(app, deps);
  await reportRoutes(app, deps);
  await consoleRoutes(app, deps);
  await accessReviewRoutes(app, deps);
}
