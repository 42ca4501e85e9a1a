/**
 * The events Roster records, in the server's order (packages/server/src/audit/record.ts; a server test fails
 * when the two lists differ): the audit log's action filter and the webhook event picker offer these.
 */
export const AUDIT_ACTIONS = [
  "team.invited",
  "team.invite_resent",
  "team.invite_accepted",
  "team.invite_revoked",
  "team.role_changed",
  "team.deactivated",
  "team.reactivated",
  "team.removed",
  "team.restored",
  "team.store_access_changed",
  "team.module_visibility_changed",
  "team.department_changed",
  "team.password_reset_requested",
  "team.name_changed",
  "team.sessions_revoked",
  "team.purged",
  "auth.sign_in_succeeded",
  "auth.sign_in_failed",
  "auth.signed_out",
  "auth.mfa_enrolled",
  "auth.mfa_removed",
  "api_key.created",
  "api_key.rotated",
  "api_key.revoked",
  "security.updated",
  "organization.created",
  "organization.updated",
  "role.created",
  "role.updated",
  "role.deleted",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "access_review.started",
  "access_review.decided",
  "access_review.completed",
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/**
 * The families of events (`team`, `auth`, …): what a `team.*` subscription or the audit log's entity filter
 * names. The entity types the server records events with are these families (a server test fails when the two
 * differ).
 */
export const EVENT_PREFIXES: readonly string[] = [...new Set(AUDIT_ACTIONS.map((a) => a.split(".")[0]!))];
