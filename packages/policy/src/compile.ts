// A policy is compiled once into per-role lookup tables holding pre-built, frozen Decision objects,
// so that a decision on the hot path is a few Map lookups and no allocation.
import { expandPermission, parsePermission } from "./permission.ts";
import { capitalize, labelOf, listOf, moduleTitle, nounOf, verbOf } from "./phrases.ts";
import type { Decision, DecisionCode, MatrixCell, Permission, Policy } from "./types.ts";

export const S_NONE = -1;
export const S_ALL = 0;
export const S_OWN = 1;
export const S_STORE = 2;
/** data scope: the record's department must be the subject's */
export const S_DEPT = 3;
/** feature scope: the resource is a module of the subject's department */
export const S_FEATURE = 4;
export type ScopeCode = -1 | 0 | 1 | 2 | 3 | 4;

const SCOPE_CODES: Readonly<Record<string, ScopeCode>> = { all: S_ALL, own: S_OWN, store: S_STORE, department: S_DEPT };

export interface Entry {
  readonly resource: string;
  readonly action: string;
  readonly key: string;
  readonly scope: ScopeCode;
  readonly allowed: Decision;
  /** For S_NONE the "only X can" denial; otherwise the denial for a record outside the scope. */
  readonly denied: Decision;
}

export interface CompiledRole {
  readonly name: string;
  readonly rank: number;
  readonly title: string;
  readonly pluralTitle: string;
  readonly actsOnPeers: boolean;
  readonly unscopedStores: boolean;
  readonly departmentBound: boolean;
  /** resource → action → entry; holds every known permission, granted or not */
  readonly grants: ReadonlyMap<string, ReadonlyMap<string, Entry>>;
}

export type ScopeTable = ReadonlyMap<string, ReadonlyMap<string, ScopeCode>>;

/** One resource type's decisions: entries[actionIndex * roleCount + roleIndex]. */
export interface TypeTable {
  readonly actions: readonly string[];
  readonly entries: readonly Entry[];
}

export interface Compiled {
  readonly policy: Policy;
  /** role names in rank order; can() finds a role by scanning this short list */
  readonly roleNames: readonly string[];
  readonly table: ReadonlyMap<string, TypeTable>;
  readonly roles: ReadonlyMap<string, CompiledRole>;
  /** in rank order, highest first */
  readonly roleList: readonly CompiledRole[];
  readonly resources: ReadonlyMap<string, ReadonlySet<string>>;
  /** resource type → modules covering it */
  readonly typeModules: ReadonlyMap<string, readonly string[]>;
  /** department → resource types of its modules */
  readonly departmentTypes: ReadonlyMap<string, ReadonlySet<string>>;
  /** role → roles it may assign (ignoring API-key narrowing) */
  readonly assignable: ReadonlyMap<string, readonly string[]>;
  /** role → roles that may assign it */
  readonly grantableBy: ReadonlyMap<string, readonly string[]>;
  readonly platform: { roles: ReadonlyMap<string, CompiledRole>; roleList: readonly CompiledRole[] } | null;
  /** API-key narrowing lists seen so far, compiled */
  readonly narrowCache: WeakMap<readonly Permission[], ScopeTable>;
  /** decisions built lazily on rare paths (unknown names, hidden modules, narrowed keys) */
  readonly rare: Map<string, Decision>;
}

const COMPILED: unique symbol = Symbol("roster.policy.compiled");
type WithCompiled = Policy & { [COMPILED]?: Compiled };
const detached = new WeakMap<Policy, Compiled>();

/** Compiles and hides the tables on the policy object itself (non-enumerable, so JSON is unchanged). */
export function attachCompiled(policy: Policy): Compiled {
  const compiled = compile(policy);
  Object.defineProperty(policy, COMPILED, { value: compiled, enumerable: false });
  return compiled;
}

/** The compiled tables; a policy parsed back from JSON is compiled on first use. */
export function compiledOf(policy: Policy): Compiled {
  const attached = (policy as WithCompiled)[COMPILED];
  if (attached !== undefined) return attached;
  let compiled = detached.get(policy);
  if (compiled === undefined) {
    if (Object.isExtensible(policy)) return attachCompiled(policy);
    compiled = compile(policy);
    detached.set(policy, compiled);
  }
  return compiled;
}

export function decision(allowed: boolean, reason: string, requiredPermission: string, code?: DecisionCode): Decision {
  return Object.freeze(
    code === undefined ? { allowed, reason, requiredPermission } : { allowed, reason, requiredPermission, code },
  );
}

/** Scope a set of grants gives to each resource:action; throws on contradictory grants. */
export function scopeTable(
  permissions: readonly Permission[],
  resources: Readonly<Record<string, readonly string[]>>,
  owner: string,
): Map<string, Map<string, ScopeCode>> {
  const table = new Map<string, Map<string, ScopeCode>>();
  for (const permission of permissions) {
    const parsed = parsePermission(permission);
    if (typeof parsed === "string") continue; // narrowing lists may carry stale names; they grant nothing
    const scope = SCOPE_CODES[parsed.scope] ?? S_NONE;
    for (const [resource, action] of expandPermission(parsed, resources)) {
      let actions = table.get(resource);
      if (actions === undefined) table.set(resource, (actions = new Map<string, ScopeCode>()));
      const previous = actions.get(action);
      if (previous === undefined || scope === S_ALL) actions.set(action, scope);
      else if (previous !== S_ALL && previous !== scope) {
        throw new Error(`${owner} grants ${resource}:${action} with two different scopes`);
      }
    }
  }
  return table;
}

/** Both grants must allow: the narrower scope wins; two different narrow scopes allow nothing. */
export function intersect(a: ScopeCode, b: ScopeCode): ScopeCode {
  if (a === S_NONE || b === S_NONE) return S_NONE;
  if (a === S_ALL) return b;
  if (b === S_ALL || a === b) return a;
  return S_NONE;
}

export function cellOf(scope: ScopeCode): MatrixCell {
  switch (scope) {
    case S_ALL:
      return "all";
    case S_OWN:
      return "own";
    case S_STORE:
      return "store";
    case S_DEPT:
    case S_FEATURE:
      return "department";
    default:
      return "none";
  }
}

function compile(policy: Policy): Compiled {
  const resources = new Map<string, ReadonlySet<string>>();
  for (const [name, actions] of Object.entries(policy.resources)) resources.set(name, new Set(actions));

  const typeModules = new Map<string, string[]>();
  for (const [module, types] of Object.entries(policy.modules)) {
    for (const type of types) {
      const list = typeModules.get(type);
      if (list === undefined) typeModules.set(type, [module]);
      else list.push(module);
    }
  }

  const department = policy.dimensions.department;
  const departmentTypes = new Map<string, Set<string>>();
  /** resource type → departments whose modules cover it */
  const typeDepartments = new Map<string, string[]>();
  if (department) {
    for (const [name, modules] of Object.entries(department.values)) {
      const types = new Set<string>();
      for (const module of modules) for (const type of policy.modules[module] ?? []) types.add(type);
      departmentTypes.set(name, types);
      for (const type of types) {
        const list = typeDepartments.get(type);
        if (list === undefined) typeDepartments.set(type, [name]);
        else list.push(name);
      }
    }
  }

  const tables = new Map<string, Map<string, Map<string, ScopeCode>>>();
  for (const role of policy.roles) {
    const table = scopeTable(role.permissions, policy.resources, `role "${role.name}"`);
    for (const actions of table.values()) {
      for (const [action, scope] of actions) {
        if (scope === S_STORE && role.unscopedStores) actions.set(action, S_ALL);
      }
    }
    for (const [resource, actions] of table) {
      if (!typeDepartments.has(resource)) continue;
      for (const [action, scope] of actions) if (scope === S_DEPT) actions.set(action, S_FEATURE);
    }
    tables.set(role.name, table);
  }

  const scopeOf = (role: string, resource: string, action: string): ScopeCode =>
    tables.get(role)?.get(resource)?.get(action) ?? S_NONE;

  const roleList: CompiledRole[] = policy.roles.map((role) => {
    const plural = capitalize(role.pluralTitle);
    const grants = new Map<string, Map<string, Entry>>();
    for (const [resource, actions] of resources) {
      const byAction = new Map<string, Entry>();
      for (const action of actions) {
        const key = `${resource}:${action}`;
        const label = labelOf(policy, resource, action);
        const scope = scopeOf(role.name, resource, action);
        const holders = policy.roles
          .filter((r) => scopeOf(r.name, resource, action) !== S_NONE)
          .map((r) => r.pluralTitle);
        const noun = nounOf(policy, resource);
        let allowed: Decision;
        let denied: Decision;
        switch (scope) {
          case S_ALL:
            allowed = decision(true, `${plural} can ${label}.`, key);
            denied = allowed;
            break;
          case S_OWN:
            allowed = decision(true, `${plural} can ${verbOf(action)} their own ${noun}.`, key);
            denied = decision(false, `${plural} can ${verbOf(action)} only their own ${noun}.`, key, "not_own_record");
            break;
          case S_STORE:
            allowed = decision(true, `${plural} can ${label} in the stores granted to them.`, key);
            denied = decision(
              false,
              `${plural} can ${label} only in the stores granted to them.`,
              key,
              "store_not_granted",
            );
            break;
          case S_DEPT:
            allowed = decision(true, `${plural} can ${label} in their own department.`, key);
            denied = decision(false, `${plural} can ${label} only in their own department.`, key, "outside_department");
            break;
          case S_FEATURE: {
            const modules = (typeModules.get(resource) ?? []).map(moduleTitle);
            const departments = typeDepartments.get(resource) ?? [];
            const what = modules.length === 1 ? modules[0]! : capitalize(noun);
            allowed = decision(true, `${plural} can ${label} when their department includes it.`, key);
            denied = decision(
              false,
              `${what} is available only to the ${listOf(departments)} department${departments.length > 1 ? "s" : ""}.`,
              key,
              "outside_department",
            );
            break;
          }
          default:
            allowed = decision(true, `${plural} can ${label}.`, key);
            denied = decision(
              false,
              holders.length > 0 ? `Only ${listOf(holders)} can ${label}.` : `No role can ${label}.`,
              key,
              "permission_denied",
            );
        }
        byAction.set(action, { resource, action, key, scope, allowed, denied });
      }
      grants.set(resource, byAction);
    }
    return {
      name: role.name,
      rank: role.rank,
      title: role.title,
      pluralTitle: role.pluralTitle,
      actsOnPeers: role.actsOnPeers,
      unscopedStores: role.unscopedStores,
      departmentBound: department !== null && department.jurisdiction && !department.unscopedRoles.includes(role.name),
      grants,
    };
  });
  const roles = new Map(roleList.map((r) => [r.name, r]));

  const assignable = new Map<string, readonly string[]>();
  const grantableBy = new Map<string, string[]>(roleList.map((r) => [r.name, []]));
  for (const actor of roleList) {
    const list = assignableFor(policy, roleList, actor, (resource, action) => scopeOf(actor.name, resource, action));
    assignable.set(actor.name, Object.freeze(list));
    for (const granted of list) grantableBy.get(granted)!.push(actor.pluralTitle);
  }

  let platform: Compiled["platform"] = null;
  if (policy.platform) {
    const platformResources = policy.platform.resources;
    const platformTables = new Map(
      policy.platform.roles.map((r) => [
        r.name,
        scopeTable(r.permissions, platformResources, `platform role "${r.name}"`),
      ]),
    );
    const platformRoles = policy.platform.roles.map((role): CompiledRole => {
      const grants = new Map<string, Map<string, Entry>>();
      for (const [resource, actions] of Object.entries(platformResources)) {
        const byAction = new Map<string, Entry>();
        for (const action of actions) {
          const key = `${resource}:${action}`;
          const label = labelOf(policy, resource, action);
          const scope = platformTables.get(role.name)?.get(resource)?.get(action) ?? S_NONE;
          const holders = policy
            .platform!.roles.filter(
              (r) => (platformTables.get(r.name)?.get(resource)?.get(action) ?? S_NONE) !== S_NONE,
            )
            .map((r) => r.pluralTitle);
          const allowed = decision(true, `${capitalize(role.pluralTitle)} can ${label}.`, key);
          const denied =
            scope === S_NONE
              ? decision(
                  false,
                  holders.length > 0 ? `Only ${listOf(holders)} can ${label}.` : `No platform role can ${label}.`,
                  key,
                  "permission_denied",
                )
              : allowed;
          byAction.set(action, { resource, action, key, scope, allowed, denied });
        }
        grants.set(resource, byAction);
      }
      return {
        name: role.name,
        rank: role.rank,
        title: role.title,
        pluralTitle: role.pluralTitle,
        actsOnPeers: false,
        unscopedStores: false,
        departmentBound: false,
        grants,
      };
    });
    platform = { roles: new Map(platformRoles.map((r) => [r.name, r])), roleList: platformRoles };
  }

  const table = new Map<string, TypeTable>();
  for (const [resource, actions] of resources) {
    const names = [...actions];
    const entries: Entry[] = [];
    for (const action of names) for (const role of roleList) entries.push(role.grants.get(resource)!.get(action)!);
    table.set(resource, { actions: names, entries });
  }

  return {
    policy,
    roleNames: roleList.map((r) => r.name),
    table,
    roles,
    roleList,
    resources,
    typeModules,
    departmentTypes,
    assignable,
    grantableBy,
    platform,
    narrowCache: new WeakMap(),
    rare: new Map(),
  };
}

/**
 * Roles an actor may grant: within reach of the hierarchy (below it, or its own rank when it acts on
 * peers), the top role only with owner:promote, and never a role holding a grant the actor lacks.
 */
export function assignableFor(
  policy: Policy,
  roleList: readonly CompiledRole[],
  actor: CompiledRole,
  actorScope: (resource: string, action: string) => ScopeCode,
): string[] {
  const [mayChange, mayInvite] = [actorScope("member", "change_role"), actorScope("invitation", "create")];
  if (mayChange === S_NONE && mayInvite === S_NONE) return [];
  const canPromote = actorScope("owner", "promote") === S_ALL;
  const out: string[] = [];
  for (const role of roleList) {
    if (role.rank > actor.rank || (role.rank === actor.rank && !actor.actsOnPeers)) continue;
    if (role.name === policy.topRole && !canPromote) continue;
    if (holdsEverything(role, actorScope)) out.push(role.name);
  }
  return out;
}

function holdsEverything(role: CompiledRole, actorScope: (resource: string, action: string) => ScopeCode): boolean {
  for (const [resource, actions] of role.grants) {
    for (const [action, entry] of actions) {
      if (entry.scope === S_NONE) continue;
      const held = actorScope(resource, action);
      // feature and data department scopes are one grant seen from two sides
      if (held !== S_ALL && held !== entry.scope) return false;
    }
  }
  return true;
}
