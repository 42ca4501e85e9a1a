// Custom roles: an organization shapes its own roles inside its preset's vocabulary. The org's effective
// policy is the preset plus those roles, compiled like any policy, so `can`, `filterFor` and the hierarchy
// rules treat a custom role exactly as a built-in one. The rules about who may define which role live here
// (docs/decisions/0011-custom-roles.md).
import { effectiveScope } from "./can.ts";
import {
  attachCompiled,
  compiledOf,
  decision,
  S_ALL,
  S_DEPT,
  S_FEATURE,
  S_NONE,
  S_OWN,
  S_STORE,
  scopeTable,
} from "./compile.ts";
import type { ScopeCode } from "./compile.ts";
import { expandPermission, IDENTIFIER, parsePermission } from "./permission.ts";
import { capitalize, labelOf, pluralize } from "./phrases.ts";
import type { Decision, Permission, Policy, PolicyRole, Subject } from "./types.ts";

/** A role an organization defined for itself, as stored and as sent over the API. */
export interface CustomRoleDefinition {
  key: string;
  title: string;
  description: string;
  rank: number;
  permissions: readonly Permission[];
}

/**
 * Powers that stay with the preset's top role: granting and taking away the top role (and with it the
 * last-top-role guard) and deleting the organization. No custom role may hold them.
 */
export const TOP_ROLE_POWERS: readonly string[] = ["owner:promote", "owner:demote", "organization:delete"];

export const MAX_CUSTOM_ROLE_KEY_LENGTH = 48;

/**
 * The organization's effective policy: the preset with the org's own roles merged into its ladder. The
 * result is compiled once here; keep it for as long as the roles do not change. A stored role that no
 * longer fits the preset (a key now taken by a preset role, a rank at the top) is left out, and a grant the
 * preset no longer knows grants nothing, so an old row can narrow a role but never break the org.
 *
 * @example
 * const policy = withCustomRoles(presets.billing, [
 *   { key: "billing_viewer", title: "Billing viewer", description: "", rank: 1, permissions: ["invoice:read", "customer:read"] },
 * ]);
 * can(policy, { role: "billing_viewer", userId: "u1" }, "read", { type: "invoice" }).allowed; // true
 */
export function withCustomRoles(preset: Policy, roles: readonly CustomRoleDefinition[]): Policy {
  if (roles.length === 0) return preset;
  const topRank = preset.roles[0]!.rank;
  const taken = new Set(preset.roles.map((r) => r.name));
  const extra: PolicyRole[] = [];
  for (const role of roles) {
    if (!IDENTIFIER.test(role.key) || taken.has(role.key)) continue;
    if (!Number.isFinite(role.rank) || role.rank >= topRank) continue;
    taken.add(role.key);
    extra.push({
      name: role.key,
      rank: role.rank,
      title: role.title,
      pluralTitle: pluralize(role.title.toLowerCase()),
      description: role.description,
      permissions: role.permissions.filter((p) => grantProblem(preset, p) === undefined && !isTopPower(preset, p)),
      actsOnPeers: false,
      unscopedStores: false,
      custom: true,
    });
  }
  // Highest rank first; at equal rank the preset's roles come first, then the org's in the order given.
  const merged = [...preset.roles, ...extra]
    .map((role, order) => ({ role, order }))
    .sort((a, b) => b.role.rank - a.role.rank || a.order - b.order)
    .map((x) => x.role);
  const policy: Policy = { ...preset, roles: merged };
  try {
    attachCompiled(policy);
  } catch (error) {
    // Only contradictory scopes fail to compile, and definitions are checked before they are stored.
    const sound = roles.filter((r) => safeScopes(preset, r.permissions));
    if (sound.length === roles.length) throw error;
    return withCustomRoles(preset, sound);
  }
  return Object.freeze(policy);
}

/** The org's own roles in the effective policy, highest first. */
export function customRoles(policy: Policy): PolicyRole[] {
  return policy.roles.filter((r) => r.custom === true);
}

export interface RoleInput {
  key: string;
  title: string;
  description?: string;
  rank: number;
  permissions: readonly Permission[];
}

export interface RolePatch {
  title?: string;
  description?: string;
  rank?: number;
  permissions?: readonly Permission[];
}

/**
 * May `actor` create this role? Needs `role:manage`; the key must be lower_snake and free; every permission
 * must belong to the preset's vocabulary, none may be a top-role power, the rank must be strictly below the
 * actor's, and the actor must hold every permission it grants (in the same or a wider scope).
 */
export function decideCreateRole(policy: Policy, actor: Subject, input: RoleInput): Decision {
  const base = manageAllowed(policy, actor);
  if (!base.allowed) return base;
  if (!IDENTIFIER.test(input.key) || input.key.length > MAX_CUSTOM_ROLE_KEY_LENGTH) {
    return decision(
      false,
      `A role key is lower_snake (a lowercase letter, then lowercase letters, digits or _), at most ${MAX_CUSTOM_ROLE_KEY_LENGTH} characters.`,
      "role:manage",
      "invalid_role_key",
    );
  }
  const existing = policy.roles.find((r) => r.name === input.key);
  if (existing !== undefined) {
    return decision(
      false,
      existing.custom === true
        ? `This organization already has a role with the key "${input.key}".`
        : `"${input.key}" is a role of the ${policy.title} policy; choose another key.`,
      "role:manage",
      "role_key_taken",
    );
  }
  return checkDefinition(policy, actor, input.rank, input.permissions) ?? base;
}

/**
 * May `actor` change this custom role so? The role must be the org's own and strictly below the actor, and
 * the role as it would be after the change must pass the creation rules: an edit cannot raise a role to or
 * above its editor, nor give it anything the editor does not hold.
 */
export function decideUpdateRole(policy: Policy, actor: Subject, key: string, patch: RolePatch): Decision {
  const base = manageAllowed(policy, actor);
  if (!base.allowed) return base;
  const role = policy.roles.find((r) => r.name === key);
  const refused = refuseExisting(policy, actor, role, key, "change");
  if (refused !== undefined) return refused;
  return checkDefinition(policy, actor, patch.rank ?? role!.rank, patch.permissions ?? role!.permissions) ?? base;
}

/** May `actor` delete this custom role? The org's own and strictly below the actor; whether it is in use is the caller's check. */
export function decideDeleteRole(policy: Policy, actor: Subject, key: string): Decision {
  const base = manageAllowed(policy, actor);
  if (!base.allowed) return base;
  return (
    refuseExisting(
      policy,
      actor,
      policy.roles.find((r) => r.name === key),
      key,
      "delete",
    ) ?? base
  );
}

/**
 * Why the actor may not put this permission into a role it defines, or undefined when it may: the reason
 * the console shows beside a disabled box of the matrix editor.
 */
export function grantRefusal(policy: Policy, actor: Subject, permission: Permission): Decision | undefined {
  return checkDefinition(policy, actor, Number.NEGATIVE_INFINITY, [permission], { rank: false });
}

/** "Can view invoices.", "Can edit leads they own." — what a set of grants allows, one sentence per line. */
export function describePermissions(policy: Policy, permissions: readonly Permission[]): string[] {
  const out: string[] = [];
  const table = safeTable(policy, permissions);
  for (const [resource, actions] of table) {
    for (const [action, scope] of actions) {
      const label = labelOf(policy, resource, action);
      const where =
        scope === S_ALL
          ? ""
          : scope === S_DEPT
            ? " in their own department"
            : scope === S_STORE
              ? " in the stores granted to them"
              : " on records they own";
      out.push(`${capitalize(label)}${where}.`);
    }
  }
  return out;
}

function manageAllowed(policy: Policy, actor: Subject): Decision {
  const c = compiledOf(policy);
  const entry = c.roles.get(actor.role)?.grants.get("role")?.get("manage");
  if (entry === undefined) {
    return decision(
      false,
      `"${actor.role}" is not a role of the ${policy.title} policy.`,
      "role:manage",
      "unknown_role",
    );
  }
  return effectiveScope(c, actor, "role", "manage") === S_ALL
    ? entry.allowed
    : entry.scope === S_NONE
      ? entry.denied
      : decision(false, "This API key is not allowed to manage custom roles.", "role:manage", "api_key_restricted");
}

function refuseExisting(
  policy: Policy,
  actor: Subject,
  role: PolicyRole | undefined,
  key: string,
  verb: "change" | "delete",
): Decision | undefined {
  if (role === undefined) {
    return decision(false, `"${key}" is not a role of this organization.`, "role:manage", "unknown_role");
  }
  if (role.custom !== true) {
    return decision(
      false,
      `${role.title} is a role of the ${policy.title} policy; only the organization's own roles can be ${verb === "change" ? "changed" : "deleted"}.`,
      "role:manage",
      "role_built_in",
    );
  }
  const own = compiledOf(policy).roles.get(actor.role)!;
  if (role.rank >= own.rank) {
    return decision(
      false,
      `${capitalize(own.pluralTitle)} can ${verb} only roles ranked below their own; ${role.title} is not.`,
      "role:manage",
      "role_outranks_actor",
    );
  }
  return undefined;
}

function checkDefinition(
  policy: Policy,
  actor: Subject,
  rank: number,
  permissions: readonly Permission[],
  check: { rank: boolean } = { rank: true },
): Decision | undefined {
  const c = compiledOf(policy);
  const own = c.roles.get(actor.role)!;
  if (check.rank && (!Number.isFinite(rank) || rank <= 0 || rank >= own.rank)) {
    return decision(
      false,
      `The rank must be above 0 and strictly below your own role's (${own.title}, rank ${own.rank}).`,
      "role:manage",
      "rank_not_below_actor",
    );
  }
  for (const permission of permissions) {
    const problem = grantProblem(policy, permission);
    if (problem !== undefined) {
      return decision(false, `"${permission}" ${problem}`, permission, "unknown_permission");
    }
    const power = topPowerIn(policy, permission);
    if (power !== undefined) {
      return decision(
        false,
        `"${permission}" includes ${power}, which stays with the ${policy.roles.find((r) => r.name === policy.topRole)!.title.toLowerCase()} role; a custom role cannot hold it.`,
        power,
        "top_role_power",
      );
    }
  }
  let table;
  try {
    table = scopeTable(permissions, policy.resources, "the role");
  } catch (error) {
    return decision(false, (error as Error).message, "role:manage", "unknown_permission");
  }
  for (const [resource, actions] of table) {
    const feature = isFeatureType(policy, resource);
    for (const [action, raw] of actions) {
      const scope: ScopeCode = feature && raw === S_DEPT ? S_FEATURE : raw;
      const held = effectiveScope(c, actor, resource, action);
      // Held unscoped covers every scope; a scoped grant covers only the same scope.
      if (held === S_ALL || held === scope) continue;
      const key = `${resource}:${action}`;
      const what = held === S_NONE ? "do not hold" : "hold only in a narrower scope";
      return decision(
        false,
        `You cannot grant ${key}${scope === S_ALL ? "" : ` (${scopeSuffix(scope)})`}: you ${what} it yourself.`,
        key,
        "permission_not_held",
      );
    }
  }
  return undefined;
}

function scopeSuffix(scope: ScopeCode): string {
  return scope === S_OWN ? "@own" : scope === S_STORE ? "@store" : "@department";
}

function isFeatureType(policy: Policy, resource: string): boolean {
  const department = policy.dimensions.department;
  if (department === null) return false;
  for (const modules of Object.values(department.values)) {
    for (const module of modules) if (policy.modules[module]?.includes(resource) === true) return true;
  }
  return false;
}

/** What is wrong with a grant in this policy's vocabulary, or undefined. */
function grantProblem(policy: Policy, permission: Permission): string | undefined {
  const parsed = parsePermission(permission);
  if (typeof parsed === "string") return `is not a permission: ${parsed}.`;
  if (parsed.resource !== "*") {
    const actions = policy.resources[parsed.resource];
    if (actions === undefined)
      return `names "${parsed.resource}", which is not a resource of the ${policy.title} policy.`;
    if (parsed.action !== "*" && !actions.includes(parsed.action)) {
      return `names "${parsed.action}", which is not an action of ${parsed.resource} (${actions.join(", ")}).`;
    }
  }
  if (parsed.scope === "store" && policy.dimensions.store === null)
    return `is scoped to stores, and the ${policy.title} policy has none.`;
  if (parsed.scope === "department" && policy.dimensions.department === null) {
    return `is scoped to departments, and the ${policy.title} policy has none.`;
  }
  return undefined;
}

function topPowerIn(policy: Policy, permission: Permission): string | undefined {
  const parsed = parsePermission(permission);
  if (typeof parsed === "string") return undefined;
  for (const [resource, action] of expandPermission(parsed, policy.resources)) {
    const key = `${resource}:${action}`;
    if (TOP_ROLE_POWERS.includes(key)) return key;
  }
  return undefined;
}

function isTopPower(policy: Policy, permission: Permission): boolean {
  return topPowerIn(policy, permission) !== undefined;
}

function safeScopes(policy: Policy, permissions: readonly Permission[]): boolean {
  try {
    scopeTable(permissions, policy.resources, "role");
    return true;
  } catch {
    return false;
  }
}

function safeTable(policy: Policy, permissions: readonly Permission[]) {
  try {
    return scopeTable(permissions, policy.resources, "role");
  } catch {
    return new Map<string, Map<string, ScopeCode>>();
  }
}
