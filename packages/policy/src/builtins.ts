import type { MemberAction, Permission } from "./types.ts";

/** Resources Roster enforces itself; present in every policy. */
export const BUILTIN_RESOURCES = {
  member: [
    "read",
    "invite",
    "update",
    "change_role",
    "deactivate",
    "remove",
    "delete",
    "restore",
    "export",
    "reset_password",
  ],
  invitation: ["read", "create", "resend", "revoke"],
  api_key: ["read", "create", "rotate", "revoke"],
  audit_log: ["read", "export"],
  security: ["read", "update"],
  organization: ["read", "update", "delete"],
  owner: ["promote", "demote"],
  report: ["read"],
  /** Ending other members' sessions; a member's own sessions are always theirs to end. */
  session: ["read", "revoke"],
  /** Defining the organization's own roles (docs/decisions/0011-custom-roles.md). */
  role: ["manage"],
  /** Webhook endpoints and their delivery log (a preset may add host-app actions of its own). */
  webhook: ["manage"],
  /** Access reviews: starting and completing campaigns (manage), deciding items (decide). */
  access_review: ["manage", "decide"],
  /** Integration: `POST /v1/authorize` about any member of the org (`subject: { userId }`), for host-app backends. */
  authorize: ["any_member"],
} as const satisfies Record<string, readonly string[]>;

export type BuiltinResource = keyof typeof BUILTIN_RESOURCES;

/**
 * The permission each member-changing action requires. Reactivation is the undo of deactivation,
 * so it needs the same permission; store, module and department edits are profile updates.
 */
export const DEFAULT_MEMBER_ACTIONS: Readonly<Record<MemberAction, Permission>> = {
  update: "member:update",
  change_role: "member:change_role",
  deactivate: "member:deactivate",
  reactivate: "member:deactivate",
  remove: "member:remove",
  restore: "member:restore",
  delete: "member:delete",
  reset_password: "member:reset_password",
  revoke_sessions: "session:revoke",
  update_store_access: "member:update",
  update_modules: "member:update",
  change_department: "member:update",
};

export const MEMBER_ACTIONS = Object.keys(DEFAULT_MEMBER_ACTIONS) as MemberAction[];

export const BUILTIN_NOUNS: Readonly<Record<string, string>> = {
  member: "members",
  invitation: "invitations",
  api_key: "API keys",
  audit_log: "the audit log",
  security: "security settings",
  organization: "the organization",
  report: "compliance reports",
  session: "members' sessions",
  role: "custom roles",
  webhook: "webhooks",
  access_review: "access reviews",
  authorize: "decisions about other members",
};

/** `{top}` / `{tops}` are replaced by the top role's title / plural title. */
export const BUILTIN_LABELS: Readonly<Record<string, string>> = {
  "member:read": "view members",
  "member:invite": "invite members",
  "member:update": "edit members",
  "member:change_role": "change members' roles",
  "member:deactivate": "deactivate and reactivate members",
  "member:remove": "remove members",
  "member:delete": "delete members",
  "member:restore": "restore removed members",
  "member:export": "export the member list",
  "member:reset_password": "send password resets to members",
  "invitation:read": "view invitations",
  "invitation:create": "invite members",
  "invitation:resend": "resend invitations",
  "invitation:revoke": "revoke invitations",
  "api_key:read": "view API keys",
  "api_key:create": "create API keys",
  "api_key:rotate": "rotate API keys",
  "api_key:revoke": "revoke API keys",
  "audit_log:read": "view the audit log",
  "audit_log:export": "export the audit log",
  "security:read": "view security settings",
  "security:update": "change security settings",
  "organization:read": "view the organization",
  "organization:update": "edit the organization",
  "organization:delete": "delete the organization",
  "owner:promote": "grant the {top} role",
  "owner:demote": "demote or remove {tops}",
  "report:read": "view compliance reports",
  "session:read": "view members' sessions",
  "session:revoke": "end members' sessions",
  "role:manage": "create, change and delete custom roles",
  "webhook:manage": "manage webhooks and read their delivery log",
  "access_review:manage": "start and complete access reviews",
  "access_review:decide": "decide access review items",
  "authorize:any_member": "ask whether any member may act (for host-app backends)",
};
