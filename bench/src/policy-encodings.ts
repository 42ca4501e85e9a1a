// The same matrix encoded for CASL and casbin, derived from a Roster policy so that all three
// libraries answer the same questions from the same data.
import { createMongoAbility } from "@casl/ability";
import type { MongoAbility } from "@casl/ability";
import { newEnforcer, newModelFromString } from "casbin";
import type { Enforcer } from "casbin";
import { permissionMatrix } from "@roster/policy";
import type { MatrixCell, Policy, Subject } from "@roster/policy";

/** role → [resource, action, cell] for every granted cell */
export function grantsByRole(policy: Policy): Map<string, Array<[string, string, MatrixCell]>> {
  const out = new Map<string, Array<[string, string, MatrixCell]>>(policy.roles.map((r) => [r.name, []]));
  for (const { resource, actions } of permissionMatrix(policy).resources) {
    for (const { action, byRole } of actions) {
      for (const [role, cell] of Object.entries(byRole))
        if (cell !== "none") out.get(role)!.push([resource, action, cell]);
    }
  }
  return out;
}

/** A CASL ability for one subject: unconditional rules for plain grants, Mongo conditions for scoped ones. */
export function caslAbility(policy: Policy, subject: Subject): MongoAbility {
  const rules = (grantsByRole(policy).get(subject.role) ?? []).flatMap(([resource, action, cell]) => {
    switch (cell) {
      case "all":
        return [{ action, subject: resource }];
      case "own":
        return [{ action, subject: resource, conditions: { ownerId: subject.userId } }];
      case "store":
        return subject.storeIds && subject.storeIds.length > 0
          ? [{ action, subject: resource, conditions: { storeId: { $in: [...subject.storeIds] } } }]
          : [{ action, subject: resource }];
      default:
        return [];
    }
  });
  return createMongoAbility(rules);
}

const RBAC_MODEL = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
`;

/**
 * casbin RBAC with a role hierarchy: each role inherits the role below it when it holds everything
 * that role holds, and lists only what it adds. Only unscoped grants: plain checks.
 */
export async function casbinRbac(policy: Policy): Promise<Enforcer> {
  const enforcer = await newEnforcer(newModelFromString(RBAC_MODEL));
  const grants = grantsByRole(policy);
  const plain = (role: string) =>
    new Set((grants.get(role) ?? []).filter(([, , c]) => c === "all").map(([r, a]) => `${r}:${a}`));
  const ascending = [...policy.roles].reverse();
  for (const [i, role] of ascending.entries()) {
    const mine = plain(role.name);
    const below = i > 0 ? ascending[i - 1]! : undefined;
    const inherited = below ? plain(below.name) : new Set<string>();
    const nested = below !== undefined && [...inherited].every((k) => mine.has(k));
    if (nested) await enforcer.addGroupingPolicy(role.name, below.name);
    const rules = [...mine]
      .filter((k) => !nested || !inherited.has(k))
      .map((k) => [role.name, ...k.split(":")] as string[]);
    if (rules.length > 0) await enforcer.addPolicies(rules);
  }
  return enforcer;
}

const ABAC_MODEL = `
[request_definition]
r = sub, obj, act

[policy_definition]
p = role, type, act, scope

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub.role == p.role && r.obj.type == p.type && r.act == p.act && (p.scope == "all" || (p.scope == "own" && r.obj.ownerId == r.sub.userId) || (p.scope == "store" && storeGranted(r.sub.storeIds, r.obj.storeId)))
`;

/** casbin with an ABAC matcher: the request carries subject and record attributes. */
export async function casbinAbac(policy: Policy): Promise<Enforcer> {
  const enforcer = await newEnforcer(newModelFromString(ABAC_MODEL));
  await enforcer.addFunction("storeGranted", (...args: unknown[]) => {
    const [ids, id] = args as [string[] | undefined, string | undefined];
    return ids === undefined || ids.length === 0 || (id !== undefined && ids.includes(id));
  });
  const rules: string[][] = [];
  for (const [role, grants] of grantsByRole(policy)) {
    for (const [resource, action, cell] of grants) rules.push([role, resource, action, cell]);
  }
  await enforcer.addPolicies(rules);
  return enforcer;
}
