// Member-changing decisions. The server asks only these functions; every rule about who may change
// whom lives here so that no second check can disagree with it.
import { can, effectiveScope } from "./can.ts";
import { assignableFor, compiledOf, decision } from "./compile.ts";
import type { Compiled, CompiledRole } from "./compile.ts";
import { capitalize, listOf } from "./phrases.ts";
import type {
  Decision,
  InviteRequest,
  MemberAction,
  MemberActionOptions,
  MemberRef,
  Policy,
  Subject,
} from "./types.ts";

/** Actions a member may take on their own record through this path (profile edits, own sessions). */
const SELF_ALLOWED: ReadonlySet<MemberAction> = new Set(["update", "reset_password", "revoke_sessions"]);

const SELF_REFUSALS: Readonly<Record<MemberAction, string>> = {
  update: "You cannot edit yourself here.",
  change_role: "You cannot change your own role.",
  deactivate: "You cannot deactivate yourself.",
  reactivate: "You cannot reactivate yourself.",
  remove: "You cannot remove yourself; another member must do it.",
  restore: "You cannot restore yourself.",
  delete: "You cannot delete yourself.",
  reset_password: "You cannot reset your own password here.",
  revoke_sessions: "You cannot end your own sessions here.",
  update_store_access: "You cannot change your own store access.",
  update_modules: "You cannot change your own modules.",
  change_department: "You cannot change your own department.",
};

/** "Admins cannot <verb> owners." */
const VERBS: Readonly<Record<MemberAction, string>> = {
  update: "edit",
  change_role: "change the role of",
  deactivate: "deactivate",
  reactivate: "reactivate",
  remove: "remove",
  restore: "restore",
  delete: "delete",
  reset_password: "reset the password of",
  revoke_sessions: "end the sessions of",
  update_store_access: "change the store access of",
  update_modules: "change the modules of",
  change_department: "change the department of",
};

/** Actions that take the top role away from its holder; each needs owner:demote and the last-holder guard. */
const TAKES_TOP_ROLE: ReadonlySet<MemberAction> = new Set(["change_role", "deactivate", "remove", "delete"]);

/**
 * May `actor` perform `action` on `target`? Combines the permission (see `policy.memberActions`),
 * the rank rule, department jurisdiction, the role-granting rule for `change_role`, store grants for
 * `update_store_access`, and the last-top-role guard.
 *
 * @example
 * decideMemberAction(presets.operations, admin, { role: "owner", userId: "u1" }, "deactivate");
 * // → { allowed: false, code: "target_outranks_actor", reason: "Admins cannot deactivate owners.", … }
 */
export function decideMemberAction(
  policy: Policy,
  actor: Subject,
  target: MemberRef,
  action: MemberAction,
  opts: MemberActionOptions = {},
): Decision {
  const c = compiledOf(policy);
  const permission = policy.memberActions[action] as string | undefined;
  if (permission === undefined) {
    return decision(false, `"${String(action)}" is not a member action.`, "member:update", "unknown_permission");
  }
  const [resource = "", verb = ""] = permission.split(":");
  const base = can(policy, actor, verb, {
    type: resource,
    id: target.userId,
    ownerId: target.userId,
    ...(target.department != null ? { department: target.department } : {}),
  });
  if (!base.allowed) return base;
  const actorRole = c.roles.get(actor.role)!;
  const targetRole = c.roles.get(target.role);
  if (targetRole === undefined) {
    return decision(false, `"${target.role}" is not a role of the ${policy.title} policy.`, permission, "unknown_role");
  }

  if (actor.userId === target.userId) {
    return SELF_ALLOWED.has(action) ? base : decision(false, SELF_REFUSALS[action], permission, "self_action");
  }

  if (targetRole.rank > actorRole.rank) {
    return decision(
      false,
      `${capitalize(actorRole.pluralTitle)} cannot ${VERBS[action]} ${targetRole.pluralTitle}.`,
      permission,
      "target_outranks_actor",
    );
  }
  if (targetRole.rank === actorRole.rank && !actorRole.actsOnPeers) {
    const whom = targetRole === actorRole ? `other ${targetRole.pluralTitle}` : targetRole.pluralTitle;
    return decision(
      false,
      `${capitalize(actorRole.pluralTitle)} cannot ${VERBS[action]} ${whom}.`,
      permission,
      "peer_not_allowed",
    );
  }

  const department = policy.dimensions.department;
  if (
    action === "change_department" &&
    department !== null &&
    opts.newDepartment != null &&
    !(opts.newDepartment in department.values)
  ) {
    return unknownDepartment(opts.newDepartment, permission);
  }
  if (actorRole.departmentBound) {
    if (actor.department == null || target.department !== actor.department) {
      return decision(
        false,
        `${capitalize(actorRole.pluralTitle)} can manage only members of their own department.`,
        permission,
        "outside_department",
      );
    }
    if (action === "change_department" && opts.newDepartment !== actor.department) {
      return decision(
        false,
        `${capitalize(actorRole.pluralTitle)} cannot move members out of their own department.`,
        permission,
        "outside_department",
      );
    }
  }

  if (
    target.role === policy.topRole &&
    TAKES_TOP_ROLE.has(action) &&
    !(action === "change_role" && opts.newRole === policy.topRole)
  ) {
    const demote = can(policy, actor, "demote", { type: "owner" });
    if (!demote.allowed) return demote;
    if ((target.status ?? "active") === "active" && (opts.topRoleCount ?? 1) <= 1) {
      const top = c.roles.get(policy.topRole)!;
      return decision(
        false,
        `The organization must keep at least one active ${top.title.toLowerCase()}. Make another member ${top.title.toLowerCase()} first.`,
        "owner:demote",
        "last_top_role",
      );
    }
  }

  if (action === "change_role") {
    const newRole = opts.newRole;
    if (newRole === undefined || !c.roles.has(newRole)) {
      return decision(
        false,
        `"${newRole ?? ""}" is not a role of the ${policy.title} policy.`,
        permission,
        "unknown_role",
      );
    }
    if (newRole !== target.role) {
      const refused = refuseRole(c, actor, newRole, permission);
      if (refused !== undefined) return refused;
    }
  }

  if (action === "update_store_access" && opts.storeIds !== undefined) {
    const refused = refuseStores(c, actor, opts.storeIds, permission);
    if (refused !== undefined) return refused;
  }
  return base;
}

/**
 * Roles the actor may grant, highest first: roles within its reach (below it, or at its rank when it
 * acts on peers), the top role only with owner:promote, and never a role holding a permission the
 * actor lacks. Empty when the actor can neither change roles nor invite.
 */
export function assignableRoles(policy: Policy, actor: Subject): string[] {
  const c = compiledOf(policy);
  const role = c.roles.get(actor.role);
  if (role === undefined) return [];
  if (actor.narrowTo === undefined) return [...(c.assignable.get(role.name) ?? [])];
  return assignableFor(policy, c.roleList, role, (resource, action) => effectiveScope(c, actor, resource, action));
}

/**
 * May `actor` invite someone with this role, department and stores? Needs invitation:create, an
 * assignable role, the actor's own department when it is department-bound, and only stores the
 * actor itself holds.
 */
export function decideInvite(policy: Policy, actor: Subject, invite: InviteRequest): Decision {
  const c = compiledOf(policy);
  const base = can(policy, actor, "create", { type: "invitation" });
  if (!base.allowed) return base;
  if (!c.roles.has(invite.role)) {
    return decision(
      false,
      `"${invite.role}" is not a role of the ${policy.title} policy.`,
      "invitation:create",
      "unknown_role",
    );
  }
  const refused = refuseRole(c, actor, invite.role, "invitation:create");
  if (refused !== undefined) return refused;

  const department = policy.dimensions.department;
  if (department !== null) {
    if (invite.department != null && !(invite.department in department.values)) {
      return unknownDepartment(invite.department, "invitation:create");
    }
    const actorRole = c.roles.get(actor.role)!;
    const effective = resolveInviteDepartment(policy, actor, invite.department);
    if (actorRole.departmentBound && (actor.department == null || effective !== actor.department)) {
      return decision(
        false,
        `${capitalize(actorRole.pluralTitle)} can invite members only into their own department.`,
        "invitation:create",
        "outside_department",
      );
    }
  }
  if (invite.storeIds !== undefined) {
    const stores = refuseStores(c, actor, invite.storeIds, "invitation:create");
    if (stores !== undefined) return stores;
  }
  return base;
}

/**
 * The department a new member gets: the requested one, else the inviter's when the policy says
 * members inherit their creator's department.
 */
export function resolveInviteDepartment(
  policy: Policy,
  actor: Subject,
  requested: string | null | undefined,
): string | null {
  if (requested != null) return requested;
  const department = policy.dimensions.department;
  if (department !== null && department.inheritFromCreator) return actor.department ?? null;
  return null;
}

function refuseRole(c: Compiled, actor: Subject, role: string, permission: string): Decision | undefined {
  if (assignableRoles(c.policy, actor).includes(role)) return undefined;
  const granted = c.roles.get(role)!;
  const grantors = c.grantableBy.get(role) ?? [];
  const reason =
    grantors.length > 0
      ? `Only ${listOf(grantors)} can grant the ${granted.title.toLowerCase()} role.`
      : `No role can grant the ${granted.title.toLowerCase()} role.`;
  return decision(false, reason, role === c.policy.topRole ? "owner:promote" : permission, "role_not_assignable");
}

/** Nobody grants stores they cannot see themselves. */
function refuseStores(
  c: Compiled,
  actor: Subject,
  storeIds: readonly string[],
  permission: string,
): Decision | undefined {
  const role: CompiledRole | undefined = c.roles.get(actor.role);
  if (role === undefined || role.unscopedStores || c.policy.dimensions.store === null) return undefined;
  const own = actor.storeIds;
  if (own === undefined || own.length === 0) return undefined;
  if (storeIds.length > 0 && storeIds.every((id) => own.includes(id))) return undefined;
  return decision(false, "You can grant access only to stores you have access to.", permission, "store_not_granted");
}

function unknownDepartment(department: string, permission: string): Decision {
  return decision(false, `"${department}" is not a department of this organization.`, permission, "unknown_department");
}
