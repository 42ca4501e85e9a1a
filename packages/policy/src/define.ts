import { BUILTIN_RESOURCES, DEFAULT_MEMBER_ACTIONS, MEMBER_ACTIONS } from "./builtins.ts";
import { attachCompiled } from "./compile.ts";
import { IDENTIFIER, parsePermission } from "./permission.ts";
import { pluralize } from "./phrases.ts";
import type {
  DepartmentDimension,
  MemberAction,
  Permission,
  PlatformRole,
  Policy,
  PolicyDefinition,
  PolicyRole,
} from "./types.ts";

/** Thrown at load time; the message names the policy and the offending entry. */
export class PolicyDefinitionError extends Error {
  override name = "PolicyDefinitionError";
}

const DEFAULT_INVITATION_LIFETIME_HOURS = 72;

/**
 * Validates a policy definition and returns the normalised, precompiled policy.
 *
 * @example
 * const policy = definePolicy({
 *   name: "shop", title: "Shop", description: "…",
 *   resources: { order: ["read", "update"] },
 *   roles: {
 *     owner: { rank: 2, title: "Owner", description: "…", permissions: ["*"], actsOnPeers: true },
 *     clerk: { rank: 1, title: "Clerk", description: "…", permissions: ["order:read"] },
 *   },
 * });
 */
export function definePolicy(def: PolicyDefinition): Policy {
  const fail = (message: string): never => {
    throw new PolicyDefinitionError(`policy "${def.name}": ${message}`);
  };
  if (!IDENTIFIER.test(def.name)) fail(`name must be lower_snake`);
  if (!def.title.trim()) fail(`title is empty`);
  if (!def.description.trim()) fail(`description is empty`);

  const resources = checkResources(def.resources, "resource", fail);
  // A preset may give a built-in resource host-app actions of its own (operations: `webhook:update` for the
  // host app's webhook settings beside Roster's `webhook:manage`), never redeclare a built-in action.
  const builtins: Readonly<Record<string, readonly string[]>> = BUILTIN_RESOURCES;
  for (const [name, actions] of Object.entries(resources)) {
    const own = builtins[name];
    if (own && actions.some((a) => own.includes(a)))
      fail(`resource "${name}" is built in; do not redeclare it (a preset may only add actions of its own)`);
  }
  const allResources: Record<string, readonly string[]> = Object.fromEntries(
    Object.entries(resources).filter(([name]) => !(name in builtins)),
  );
  for (const [name, actions] of Object.entries(BUILTIN_RESOURCES))
    allResources[name] = [...actions, ...(resources[name] ?? [])];

  const roleNames = Object.keys(def.roles);
  if (roleNames.length === 0) fail(`declares no roles`);
  const knownRole = (role: string, where: string): void => {
    if (!(role in def.roles)) fail(`${where} names unknown role "${role}" (known: ${roleNames.join(", ")})`);
  };

  const modules: Record<string, readonly string[]> = {};
  for (const [module, types] of Object.entries(def.modules ?? {})) {
    if (!IDENTIFIER.test(module)) fail(`module "${module}" must be lower_snake`);
    for (const type of types) {
      if (!(type in allResources)) fail(`module "${module}" names unknown resource "${type}"`);
    }
    modules[module] = unique(types);
  }

  const storeDef = def.dimensions?.store;
  const storeUnscoped = new Set<string>();
  if (storeDef) {
    for (const role of storeDef.unscopedRoles) {
      knownRole(role, `dimensions.store.unscopedRoles`);
      storeUnscoped.add(role);
    }
  }
  for (const [name, role] of Object.entries(def.roles)) {
    if (role.unscopedStores) {
      if (!storeDef) fail(`role "${name}" sets unscopedStores but the policy has no store dimension`);
      storeUnscoped.add(name);
    }
  }

  const ranked = Object.entries(def.roles)
    .map(([name, role], order) => ({ name, role, order }))
    .sort((a, b) => b.role.rank - a.role.rank || a.order - b.order);
  const roles: PolicyRole[] = ranked.map(({ name, role }) => {
    if (!IDENTIFIER.test(name)) fail(`role "${name}" must be lower_snake`);
    if (!Number.isFinite(role.rank)) fail(`role "${name}" has a rank that is not a finite number`);
    if (!role.title.trim()) fail(`role "${name}" has an empty title`);
    const permissions = unique(role.permissions);
    for (const permission of permissions) {
      checkGrant(permission, allResources, `role "${name}"`, fail, {
        store: storeDef !== undefined,
        department: def.dimensions?.department !== undefined,
      });
    }
    return {
      name,
      rank: role.rank,
      title: role.title,
      pluralTitle: role.pluralTitle ?? pluralize(role.title.toLowerCase()),
      description: role.description,
      permissions,
      actsOnPeers: role.actsOnPeers ?? false,
      unscopedStores: storeUnscoped.has(name),
    };
  });

  const top = roles[0]!;
  const second = roles[1];
  if (second !== undefined && second.rank === top.rank) {
    fail(
      `duplicate rank ${top.rank}: roles "${top.name}" and "${second.name}" share the top rank; the top role must be unique`,
    );
  }
  const lowestRank = roles[roles.length - 1]!.rank;
  const lowest = roles.filter((r) => r.rank === lowestRank);
  let defaultRole = lowest[0]!.name;
  if (def.defaultRole !== undefined) {
    knownRole(def.defaultRole, "defaultRole");
    if (!lowest.some((r) => r.name === def.defaultRole))
      fail(`defaultRole "${def.defaultRole}" is not a lowest-rank role`);
    defaultRole = def.defaultRole;
  } else if (lowest.length > 1) {
    fail(
      `duplicate rank ${lowestRank}: roles ${lowest.map((r) => `"${r.name}"`).join(" and ")} share the lowest rank; set defaultRole`,
    );
  }

  let department: DepartmentDimension | null = null;
  const deptDef = def.dimensions?.department;
  if (deptDef) {
    const values: Record<string, readonly string[]> = {};
    for (const [name, mods] of Object.entries(deptDef.values)) {
      if (!IDENTIFIER.test(name)) fail(`department "${name}" must be lower_snake`);
      for (const module of mods) {
        if (!(module in modules)) fail(`department "${name}" names unknown module "${module}"`);
      }
      values[name] = unique(mods);
    }
    if (Object.keys(values).length === 0) fail(`dimensions.department declares no departments`);
    const unscopedRoles = deptDef.unscopedRoles ?? [top.name];
    for (const role of unscopedRoles) knownRole(role, "dimensions.department.unscopedRoles");
    department = {
      values,
      jurisdiction: deptDef.jurisdiction,
      inheritFromCreator: deptDef.inheritFromCreator,
      unscopedRoles: unique(unscopedRoles),
    };
  }

  let platform: Policy["platform"] = null;
  if (def.platform) {
    const platformResources = checkResources(def.platform.resources, "platform resource", fail);
    for (const name of Object.keys(platformResources)) {
      if (name in allResources) fail(`platform resource "${name}" collides with an organization resource`);
    }
    const platformRoles: PlatformRole[] = Object.entries(def.platform.roles)
      .map(([name, role]) => {
        if (!IDENTIFIER.test(name)) fail(`platform role "${name}" must be lower_snake`);
        if (!Number.isFinite(role.rank)) fail(`platform role "${name}" has a rank that is not a finite number`);
        const permissions = unique(role.permissions);
        for (const permission of permissions) {
          checkGrant(permission, platformResources, `platform role "${name}"`, fail, {
            store: false,
            department: false,
            own: false,
          });
        }
        return {
          name,
          rank: role.rank,
          title: role.title,
          pluralTitle: role.pluralTitle ?? pluralize(role.title.toLowerCase()),
          description: role.description ?? "",
          permissions,
        };
      })
      .sort((a, b) => b.rank - a.rank);
    for (let i = 1; i < platformRoles.length; i++) {
      const a = platformRoles[i - 1]!;
      const b = platformRoles[i]!;
      if (a.rank === b.rank) fail(`duplicate rank ${a.rank}: platform roles "${a.name}" and "${b.name}"`);
    }
    if (platformRoles.length === 0) fail(`platform declares no roles`);
    platform = { resources: platformResources, roles: platformRoles };
  }

  const lifetime = def.settings?.invitationLifetimeHours ?? DEFAULT_INVITATION_LIFETIME_HOURS;
  if (!Number.isFinite(lifetime) || lifetime <= 0) fail(`settings.invitationLifetimeHours must be a positive number`);
  const rules = def.settings?.emailRules;
  const emailRules = rules
    ? {
        secondaryEmailDomains: unique(rules.secondaryEmailDomains.map((d) => d.toLowerCase())),
        primaryMustMatchAllowedDomains: rules.primaryMustMatchAllowedDomains,
        secondaryEmailImmutable: rules.secondaryEmailImmutable,
      }
    : null;

  const memberActions: Record<MemberAction, Permission> = { ...DEFAULT_MEMBER_ACTIONS };
  for (const [action, permission] of Object.entries(def.memberActions ?? {})) {
    if (!(MEMBER_ACTIONS as string[]).includes(action)) fail(`memberActions names unknown member action "${action}"`);
    if (!isConcrete(permission, allResources)) fail(`memberActions.${action} names unknown permission "${permission}"`);
    memberActions[action as MemberAction] = permission;
  }

  for (const resource of Object.keys(def.nouns ?? {})) {
    if (!(resource in allResources) && !(platform && resource in platform.resources)) {
      fail(`nouns names unknown resource "${resource}"`);
    }
  }
  for (const key of Object.keys(def.labels ?? {})) {
    if (!isConcrete(key, allResources) && !(platform && isConcrete(key, platform.resources))) {
      fail(`labels names unknown permission "${key}"`);
    }
  }

  const policy: Policy = {
    name: def.name,
    title: def.title,
    description: def.description,
    resources: allResources,
    roles,
    topRole: top.name,
    defaultRole,
    dimensions: {
      store: storeDef ? { unscopedRoles: roles.filter((r) => r.unscopedStores).map((r) => r.name) } : null,
      department,
    },
    modules,
    platform,
    settings: { invitationLifetimeHours: lifetime, emailRules },
    memberActions,
    nouns: { ...def.nouns },
    labels: { ...def.labels },
  };
  try {
    attachCompiled(policy);
  } catch (error) {
    if (error instanceof Error) fail(error.message);
    throw error;
  }
  return deepFreeze(policy);
}

function checkResources(
  input: Record<string, readonly string[]>,
  what: string,
  fail: (message: string) => never,
): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {};
  for (const [name, actions] of Object.entries(input)) {
    if (!IDENTIFIER.test(name)) fail(`${what} "${name}" must be lower_snake`);
    if (actions.length === 0) fail(`${what} "${name}" declares no actions`);
    for (const action of actions) {
      if (!IDENTIFIER.test(action)) fail(`${what} "${name}" has action "${action}", which is not lower_snake`);
    }
    if (new Set(actions).size !== actions.length) fail(`${what} "${name}" lists an action twice`);
    out[name] = [...actions];
  }
  return out;
}

function checkGrant(
  permission: Permission,
  resources: Readonly<Record<string, readonly string[]>>,
  owner: string,
  fail: (message: string) => never,
  allowed: { store: boolean; department: boolean; own?: boolean },
): void {
  const parsed = parsePermission(permission);
  if (typeof parsed === "string") return fail(`${owner} grants "${permission}": ${parsed}`);
  if (parsed.resource !== "*") {
    const actions = resources[parsed.resource];
    if (actions === undefined) return fail(`${owner} grants "${permission}": unknown resource "${parsed.resource}"`);
    if (parsed.action !== "*" && !actions.includes(parsed.action)) {
      return fail(
        `${owner} grants "${permission}": unknown action "${parsed.action}" of resource "${parsed.resource}" (known: ${actions.join(", ")})`,
      );
    }
  }
  if (parsed.scope === "store" && !allowed.store)
    fail(`${owner} grants "${permission}" but the policy has no store dimension`);
  if (parsed.scope === "department" && !allowed.department) {
    fail(`${owner} grants "${permission}" but the policy has no department dimension`);
  }
  if (parsed.scope === "own" && allowed.own === false)
    fail(`${owner} grants "${permission}": platform grants cannot be scoped`);
}

function isConcrete(key: string, resources: Readonly<Record<string, readonly string[]>>): boolean {
  const colon = key.indexOf(":");
  if (colon === -1) return false;
  return resources[key.slice(0, colon)]?.includes(key.slice(colon + 1)) ?? false;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
