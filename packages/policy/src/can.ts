import {
  S_ALL,
  S_DEPT,
  S_FEATURE,
  S_NONE,
  S_OWN,
  S_STORE,
  compiledOf,
  decision,
  intersect,
  scopeTable,
} from "./compile.ts";
import type { Compiled, Entry, ScopeCode, ScopeTable } from "./compile.ts";
import { labelOf, moduleTitle, nounOf, verbOf } from "./phrases.ts";
import type { DataFilter, Decision, Permission, Policy, ResourceRef, Subject } from "./types.ts";

/**
 * May this subject perform `action` on `resource`? The one place that says yes or no.
 *
 * Scoped grants need the record's attributes: an `@own` grant allows only when `resource.ownerId`
 * is the subject's user id, `@store` only when `resource.storeId` is one of the subject's stores,
 * `@department` only when `resource.department` is the subject's. A missing attribute denies;
 * to ask "which records?", use {@link filterFor}.
 *
 * @example
 * can(presets.crm, { role: "sales_rep", userId: "u1" }, "update", { type: "lead", ownerId: "u2" });
 * // → { allowed: false, reason: "Sales reps can update only their own leads.",
 * //     requiredPermission: "lead:update", code: "not_own_record" }
 */
export function can(policy: Policy, subject: Subject, action: string, resource: ResourceRef): Decision {
  const c = compiledOf(policy);
  // A handful of roles and actions: scanning beats hashing, and leaves one Map lookup per decision.
  const roles = c.roleNames;
  const roleCount = roles.length;
  let r = 0;
  while (r < roleCount && roles[r] !== subject.role) r++;
  if (r === roleCount) return unknownRole(c, subject.role, resource.type, action);
  const table = c.table.get(resource.type);
  if (table === undefined) return unknownPermission(c, resource.type, action);
  const actions = table.actions;
  let a = 0;
  while (a < actions.length && actions[a] !== action) a++;
  if (a === actions.length) return unknownPermission(c, resource.type, action);
  const entry = table.entries[a * roleCount + r]!;
  let scope = entry.scope;
  if (scope === S_NONE) return entry.denied;
  let narrowed = false;
  if (subject.narrowTo !== undefined) {
    const keyScope = intersect(scope, narrowScope(c, subject.narrowTo, resource.type, action));
    if (keyScope === S_NONE) return keyDenied(c, entry);
    narrowed = keyScope !== scope;
    scope = keyScope;
  }
  const hidden = subject.hiddenModules;
  if (hidden !== undefined && hidden.length !== 0) {
    const module = hiddenModuleOf(c, hidden, resource.type, resource.module);
    if (module !== undefined) return moduleHidden(c, module, entry);
  }
  switch (scope) {
    case S_ALL:
      return entry.allowed;
    case S_OWN:
      if (resource.ownerId !== undefined && resource.ownerId === subject.userId) return entry.allowed;
      break;
    case S_STORE: {
      const stores = subject.storeIds;
      // no store list means every store (docs/decisions/policy-store-scope.md)
      if (stores === undefined || stores.length === 0) return entry.allowed;
      if (resource.storeId !== undefined && stores.includes(resource.storeId)) return entry.allowed;
      break;
    }
    case S_DEPT: {
      const department = subject.department;
      if (department != null && resource.department === department) return entry.allowed;
      break;
    }
    case S_FEATURE: {
      const department = subject.department;
      if (department != null && c.departmentTypes.get(department)?.has(resource.type) === true) return entry.allowed;
      break;
    }
  }
  return narrowed ? keyScopeDenied(c, entry, scope) : entry.denied;
}

const ALL: DataFilter = Object.freeze({ kind: "all" });
const NONE: DataFilter = Object.freeze({ kind: "none" });

/**
 * Which records of `resourceType` the subject may `action`: for list endpoints and host-app queries
 * ("view own leads" → `{ kind: "own", ownerId }`, "view all leads" → `{ kind: "all" }`).
 */
export function filterFor(policy: Policy, subject: Subject, action: string, resourceType: string): DataFilter {
  const c = compiledOf(policy);
  const scope = effectiveScope(c, subject, resourceType, action);
  if (scope === S_NONE) return NONE;
  const hidden = subject.hiddenModules;
  if (hidden !== undefined && hidden.length !== 0 && hiddenModuleOf(c, hidden, resourceType, undefined) !== undefined) {
    return NONE;
  }
  switch (scope) {
    case S_ALL:
      return ALL;
    case S_OWN:
      return { kind: "own", ownerId: subject.userId };
    case S_STORE: {
      const stores = subject.storeIds;
      return stores === undefined || stores.length === 0 ? ALL : { kind: "stores", storeIds: [...stores] };
    }
    case S_DEPT:
      return subject.department != null ? { kind: "department", department: subject.department } : NONE;
    case S_FEATURE:
      return subject.department != null && c.departmentTypes.get(subject.department)?.has(resourceType) === true
        ? ALL
        : NONE;
  }
  return NONE;
}

/** The scope the subject holds for resource:action, API-key narrowing included. */
export function effectiveScope(c: Compiled, subject: Subject, resource: string, action: string): ScopeCode {
  const entry = c.roles.get(subject.role)?.grants.get(resource)?.get(action);
  if (entry === undefined || entry.scope === S_NONE) return S_NONE;
  if (subject.narrowTo === undefined) return entry.scope;
  return intersect(entry.scope, narrowScope(c, subject.narrowTo, resource, action));
}

function narrowScope(c: Compiled, narrowTo: readonly Permission[], resource: string, action: string): ScopeCode {
  let table = c.narrowCache.get(narrowTo);
  if (table === undefined) {
    table = compileNarrowing(c, narrowTo);
    c.narrowCache.set(narrowTo, table);
  }
  return table.get(resource)?.get(action) ?? S_NONE;
}

function compileNarrowing(c: Compiled, narrowTo: readonly Permission[]): ScopeTable {
  let table;
  try {
    table = scopeTable(narrowTo, c.policy.resources, "API key");
  } catch {
    // A list granting one permission under two scopes is ambiguous; an API key fails closed.
    return new Map();
  }
  for (const [resource, actions] of table) {
    const feature = c.policy.dimensions.department !== null && isDepartmentModuleType(c, resource);
    for (const [action, scope] of actions) if (feature && scope === S_DEPT) actions.set(action, S_FEATURE);
  }
  return table;
}

function isDepartmentModuleType(c: Compiled, resource: string): boolean {
  for (const types of c.departmentTypes.values()) if (types.has(resource)) return true;
  return false;
}

function hiddenModuleOf(
  c: Compiled,
  hidden: readonly string[],
  type: string,
  module: string | undefined,
): string | undefined {
  if (module !== undefined && hidden.includes(module)) return module;
  const modules = c.typeModules.get(type);
  if (modules !== undefined) for (const m of modules) if (hidden.includes(m)) return m;
  return undefined;
}

function rare(c: Compiled, key: string, build: () => Decision): Decision {
  let found = c.rare.get(key);
  if (found === undefined) {
    found = build();
    c.rare.set(key, found);
  }
  return found;
}

function unknownRole(c: Compiled, role: string, resource: string, action: string): Decision {
  return rare(c, `role\u0000${role}\u0000${resource}\u0000${action}`, () =>
    decision(
      false,
      `"${role}" is not a role of the ${c.policy.title} policy.`,
      `${resource}:${action}`,
      "unknown_role",
    ),
  );
}

function unknownPermission(c: Compiled, resource: string, action: string): Decision {
  return rare(c, `perm\u0000${resource}\u0000${action}`, () =>
    decision(
      false,
      `"${resource}:${action}" is not a permission of the ${c.policy.title} policy.`,
      `${resource}:${action}`,
      "unknown_permission",
    ),
  );
}

function moduleHidden(c: Compiled, module: string, entry: Entry): Decision {
  return rare(c, `hidden\u0000${module}\u0000${entry.key}`, () =>
    decision(false, `The ${moduleTitle(module)} module is hidden for you.`, entry.key, "module_hidden"),
  );
}

function keyDenied(c: Compiled, entry: Entry): Decision {
  return rare(c, `key\u0000${entry.key}`, () =>
    decision(
      false,
      `This API key is not allowed to ${labelOf(c.policy, entry.resource, entry.action)}.`,
      entry.key,
      "api_key_restricted",
    ),
  );
}

function keyScopeDenied(c: Compiled, entry: Entry, scope: ScopeCode): Decision {
  return rare(c, `keyscope\u0000${entry.key}\u0000${scope}`, () => {
    const label = labelOf(c.policy, entry.resource, entry.action);
    switch (scope) {
      case S_OWN:
        return decision(
          false,
          `This API key can ${verbOf(entry.action)} only its owner's ${nounOf(c.policy, entry.resource)}.`,
          entry.key,
          "not_own_record",
        );
      case S_STORE:
        return decision(
          false,
          `This API key can ${label} only in the stores granted to its owner.`,
          entry.key,
          "store_not_granted",
        );
      default:
        return decision(
          false,
          `This API key can ${label} only in its owner's department.`,
          entry.key,
          "outside_department",
        );
    }
  });
}
