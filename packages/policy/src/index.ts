export type {
  DataFilter,
  Decision,
  DecisionCode,
  DepartmentDimension,
  DepartmentDimensionDefinition,
  EmailRules,
  InviteRequest,
  MatrixCell,
  MemberAction,
  MemberActionOptions,
  MemberRef,
  Permission,
  PermissionMatrix,
  PlatformRole,
  PlatformRoleDefinition,
  Policy,
  PolicyDefinition,
  PolicyRole,
  ResourceRef,
  RoleDefinition,
  Scope,
  Subject,
} from "./types.ts";
export { BUILTIN_RESOURCES, DEFAULT_MEMBER_ACTIONS } from "./builtins.ts";
export type { BuiltinResource } from "./builtins.ts";
export { definePolicy, PolicyDefinitionError } from "./define.ts";
export { can, filterFor } from "./can.ts";
export { assignableRoles, decideInvite, decideMemberAction, resolveInviteDepartment } from "./hierarchy.ts";
export { canPlatform } from "./platform.ts";
export { permissionMatrix } from "./matrix.ts";
export { DECISION_CODES } from "./codes.ts";
export { presets, getPreset } from "./presets/index.ts";
export type { PresetName } from "./presets/index.ts";
export {
  customRoles,
  decideCreateRole,
  decideDeleteRole,
  decideUpdateRole,
  describePermissions,
  grantRefusal,
  MAX_CUSTOM_ROLE_KEY_LENGTH,
  TOP_ROLE_POWERS,
  withCustomRoles,
} from "./custom-roles.ts";
export type { CustomRoleDefinition, RoleInput, RolePatch } from "./custom-roles.ts";
