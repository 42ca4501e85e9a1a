/**
 * A grant: `"invoice:void"`, `"plan:*"`, `"*"`, or a scoped grant such as `"lead:update@own"`,
 * `"order:read@store"`, `"customer:read@department"`.
 */
export type Permission = string;

/** How far a grant reaches. `all` is an unscoped grant. */
export type Scope = "all" | "own" | "store" | "department";

export type MemberAction =
  | "update"
  | "change_role"
  | "deactivate"
  | "reactivate"
  | "remove"
  | "restore"
  | "delete"
  | "reset_password"
  | "revoke_sessions"
  | "update_store_access"
  | "update_modules"
  | "change_department";

export interface RoleDefinition {
  rank: number;
  title: string;
  description: string;
  permissions: readonly Permission[];
  /** The role may act on members of the same rank (e.g. admins managing other admins). */
  actsOnPeers?: boolean;
  /** The role sees every store; same effect as listing it in `dimensions.store.unscopedRoles`. */
  unscopedStores?: boolean;
  /** Used in sentences ("Only owners can …"); defaults to a naive plural of the title. */
  pluralTitle?: string;
}

export interface PlatformRoleDefinition {
  rank: number;
  title: string;
  description?: string;
  permissions: readonly Permission[];
  pluralTitle?: string;
}

export interface EmailRules {
  secondaryEmailDomains: readonly string[];
  primaryMustMatchAllowedDomains: boolean;
  secondaryEmailImmutable: boolean;
}

export interface DepartmentDimensionDefinition {
  /** department → modules its members may use */
  values: Record<string, readonly string[]>;
  /** Admins act only on members of their own department. */
  jurisdiction: boolean;
  /** A member invited without a department gets the inviter's. */
  inheritFromCreator: boolean;
  /** Roles outside the jurisdiction rule; defaults to the top role. */
  unscopedRoles?: readonly string[];
}

export interface PolicyDefinition {
  name: string;
  title: string;
  description: string;
  /** Host-app resources only; the built-in resources are merged in. */
  resources: Record<string, readonly string[]>;
  roles: Record<string, RoleDefinition>;
  /** Needed only when several roles share the lowest rank. */
  defaultRole?: string;
  dimensions?: {
    store?: { unscopedRoles: readonly string[] };
    department?: DepartmentDimensionDefinition;
  };
  /** module → resource types the module covers */
  modules?: Record<string, readonly string[]>;
  platform?: {
    resources: Record<string, readonly string[]>;
    roles: Record<string, PlatformRoleDefinition>;
  };
  settings?: { invitationLifetimeHours?: number; emailRules?: EmailRules };
  /** Overrides which permission a member-changing action requires (see DEFAULT_MEMBER_ACTIONS). */
  memberActions?: Partial<Record<MemberAction, Permission>>;
  /** resource → plural noun used in reasons ("API keys"). */
  nouns?: Record<string, string>;
  /** "resource:action" → verb phrase used in reasons and docs ("configure pipeline stages"). */
  labels?: Record<string, string>;
}

export interface PolicyRole {
  name: string;
  rank: number;
  title: string;
  pluralTitle: string;
  description: string;
  permissions: readonly Permission[];
  actsOnPeers: boolean;
  unscopedStores: boolean;
  /** The organization defined this role itself (custom roles); absent on the preset's roles. */
  custom?: boolean;
}

export interface PlatformRole {
  name: string;
  rank: number;
  title: string;
  pluralTitle: string;
  description: string;
  permissions: readonly Permission[];
}

export interface DepartmentDimension {
  values: Readonly<Record<string, readonly string[]>>;
  jurisdiction: boolean;
  inheritFromCreator: boolean;
  unscopedRoles: readonly string[];
}

/**
 * A validated, normalised policy. Plain JSON: it is what `GET /v1/orgs/{id}/policy` serves, and a
 * copy parsed from that JSON works with every function of this package.
 */
export interface Policy {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** Host resources first, then the built-in ones. */
  readonly resources: Readonly<Record<string, readonly string[]>>;
  /** Highest rank first. */
  readonly roles: readonly PolicyRole[];
  readonly topRole: string;
  readonly defaultRole: string;
  readonly dimensions: {
    readonly store: { readonly unscopedRoles: readonly string[] } | null;
    readonly department: DepartmentDimension | null;
  };
  readonly modules: Readonly<Record<string, readonly string[]>>;
  readonly platform: {
    readonly resources: Readonly<Record<string, readonly string[]>>;
    readonly roles: readonly PlatformRole[];
  } | null;
  readonly settings: { readonly invitationLifetimeHours: number; readonly emailRules: EmailRules | null };
  readonly memberActions: Readonly<Record<MemberAction, Permission>>;
  readonly nouns: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Subject {
  role: string;
  userId: string;
  department?: string | null;
  /** Empty or absent: every store (see docs/decisions/policy-store-scope.md). */
  storeIds?: readonly string[];
  hiddenModules?: readonly string[];
  /** An API key narrowed to a subset: allowed only if both the role and `narrowTo` allow. */
  narrowTo?: readonly Permission[];
}

export interface ResourceRef {
  type: string;
  id?: string;
  /** The owning user's id. */
  ownerId?: string;
  storeId?: string;
  department?: string;
  module?: string;
}

export interface Decision {
  allowed: boolean;
  /** A sentence a person understands. */
  reason: string;
  /** e.g. "member:delete" */
  requiredPermission: string;
  /** Why it was denied (lower_snake); absent when allowed. */
  code?: DecisionCode;
}

export type DecisionCode =
  | "permission_denied"
  | "unknown_role"
  | "unknown_permission"
  | "not_own_record"
  | "store_not_granted"
  | "module_hidden"
  | "outside_department"
  | "unknown_department"
  | "target_outranks_actor"
  | "peer_not_allowed"
  | "self_action"
  | "role_not_assignable"
  | "last_top_role"
  | "api_key_restricted"
  | "platform_no_org_access"
  | "invalid_role_key"
  | "role_key_taken"
  | "role_built_in"
  | "role_outranks_actor"
  | "rank_not_below_actor"
  | "top_role_power"
  | "permission_not_held";

export type DataFilter =
  | { kind: "all" }
  | { kind: "none" }
  | { kind: "own"; ownerId: string }
  | { kind: "stores"; storeIds: string[] }
  | { kind: "department"; department: string };

export interface MemberRef {
  role: string;
  userId: string;
  department?: string | null;
  status?: "active" | "inactive" | "removed";
}

export interface MemberActionOptions {
  /** Required for change_role. */
  newRole?: string;
  /** Active members holding the top role. When absent the guard assumes the target is the last one. */
  topRoleCount?: number;
  /** For change_department. */
  newDepartment?: string | null;
  /** For update_store_access: the stores the target will be granted (empty = every store). */
  storeIds?: readonly string[];
}

export interface InviteRequest {
  role: string;
  department?: string | null;
  storeIds?: readonly string[];
}

export type MatrixCell = "all" | "own" | "store" | "department" | "none";

export interface PermissionMatrix {
  resources: Array<{
    resource: string;
    actions: Array<{ action: string; label: string; byRole: Record<string, MatrixCell> }>;
  }>;
  /** Platform roles over platform resources; null when the policy has none. */
  platform: {
    resources: Array<{
      resource: string;
      actions: Array<{ action: string; label: string; byRole: Record<string, MatrixCell> }>;
    }>;
  } | null;
}
