import { describe, expect, test } from "vitest";
import { DECISION_CODES, can, filterFor, getPreset, permissionMatrix, presets } from "../src/index.ts";
import type { MatrixCell, Policy, Subject } from "../src/index.ts";

const PRESETS = Object.entries(presets);

/** What can() answers for a role on one permission, probed with records inside and outside each scope. */
function probe(policy: Policy, role: string, resource: string, action: string): MatrixCell {
  // for a department module, stand in the department that has it
  const values = policy.dimensions.department?.values ?? {};
  const home = Object.keys(values).find((d) => values[d]!.some((m) => policy.modules[m]?.includes(resource))) ?? "d1";
  const inside: Subject = { role, userId: "u-me", storeIds: ["s1"], department: home };
  const record = { type: resource, ownerId: "u-other", storeId: "s2", department: "elsewhere" };
  if (can(policy, inside, action, record).allowed) {
    // a department feature (module) grant holds for any record, but only with a department
    return can(policy, { ...inside, department: null }, action, record).allowed ? "all" : "department";
  }
  if (can(policy, inside, action, { ...record, ownerId: "u-me" }).allowed) return "own";
  if (can(policy, inside, action, { ...record, storeId: "s1" }).allowed) return "store";
  if (can(policy, inside, action, { ...record, department: inside.department! }).allowed) return "department";
  return "none";
}

describe("can() agrees with the published matrix", () => {
  test.each(PRESETS)("%s", (_, policy) => {
    const matrix = permissionMatrix(policy);
    for (const { resource, actions } of matrix.resources) {
      for (const { action, byRole } of actions) {
        for (const [role, cell] of Object.entries(byRole)) {
          expect(probe(policy, role, resource, action), `${role} ${resource}:${action}`).toBe(cell);
        }
      }
    }
  });
});

describe("a policy read back from JSON decides the same", () => {
  test.each(PRESETS)("%s", (_, policy) => {
    const copy = JSON.parse(JSON.stringify(policy)) as Policy;
    expect(permissionMatrix(copy)).toEqual(permissionMatrix(policy));
    const s: Subject = { role: policy.defaultRole, userId: "u" };
    expect(can(copy, s, "read", { type: "member" })).toEqual(can(policy, s, "read", { type: "member" }));
    const frozen = Object.freeze(JSON.parse(JSON.stringify(policy)) as Policy);
    expect(permissionMatrix(frozen)).toEqual(permissionMatrix(policy));
  });
});

describe("decisions", () => {
  const policy = presets.operations;
  test("common answers are shared, frozen objects (nothing allocated per call)", () => {
    const s: Subject = { role: "staff", userId: "u", storeIds: ["s1"] };
    const a = can(policy, s, "read", { type: "order", storeId: "s1" });
    expect(can(policy, s, "read", { type: "order", storeId: "s1" })).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    const d = can(policy, s, "delete", { type: "order", storeId: "s1" });
    expect(can(policy, { ...s, userId: "v" }, "delete", { type: "order", storeId: "s9" })).toBe(d);
  });

  test("an allowed decision carries no code", () => {
    expect(can(policy, { role: "owner", userId: "u" }, "delete", { type: "workspace" })).toEqual({
      allowed: true,
      reason: "Owners can delete the workspace.",
      requiredPermission: "workspace:delete",
    });
  });

  test("unknown role, resource and action are refused with their own codes", () => {
    expect(can(policy, { role: "ghost", userId: "u" }, "read", { type: "order" })).toMatchObject({
      allowed: false,
      code: "unknown_role",
    });
    expect(can(policy, { role: "owner", userId: "u" }, "read", { type: "spaceship" })).toMatchObject({
      allowed: false,
      code: "unknown_permission",
      requiredPermission: "spaceship:read",
    });
    expect(can(policy, { role: "owner", userId: "u" }, "fly", { type: "order" }).code).toBe("unknown_permission");
    expect(filterFor(policy, { role: "ghost", userId: "u" }, "read", "order")).toEqual({ kind: "none" });
  });

  test("every code used is documented", () => {
    const seen = new Set<string>();
    for (const [, p] of PRESETS) {
      for (const role of p.roles) {
        for (const [resource, actions] of Object.entries(p.resources)) {
          for (const action of actions) {
            const d = can(p, { role: role.name, userId: "u", storeIds: ["x"], department: "nowhere" }, action, {
              type: resource,
            });
            if (d.code) seen.add(d.code);
          }
        }
      }
    }
    for (const code of seen) expect(Object.keys(DECISION_CODES)).toContain(code);
  });
});

describe("API keys narrowed with narrowTo", () => {
  const policy = presets.crm;
  const admin: Subject = { role: "admin", userId: "u-me" };

  test("allowed only when both the role and the key allow", () => {
    const key: Subject = { ...admin, narrowTo: ["lead:read", "lead:update@own"] };
    expect(can(policy, key, "read", { type: "lead", ownerId: "u-other" }).allowed).toBe(true);
    expect(can(policy, key, "delete", { type: "lead", ownerId: "u-me" })).toMatchObject({
      allowed: false,
      code: "api_key_restricted",
    });
    expect(can(policy, key, "update", { type: "lead", ownerId: "u-me" }).allowed).toBe(true);
    expect(can(policy, key, "update", { type: "lead", ownerId: "u-other" })).toMatchObject({
      allowed: false,
      code: "not_own_record",
      reason: "This API key can update only its owner's leads.",
    });
    expect(filterFor(policy, key, "update", "lead")).toEqual({ kind: "own", ownerId: "u-me" });
  });

  test("a key never widens its role", () => {
    const rep: Subject = { role: "sales_rep", userId: "u-me", narrowTo: ["*"] };
    expect(can(policy, rep, "delete", { type: "lead", ownerId: "u-me" }).code).toBe("permission_denied");
    expect(can(policy, rep, "update", { type: "lead", ownerId: "u-other" }).code).toBe("not_own_record");
  });

  test("an empty or stale list allows nothing", () => {
    expect(can(policy, { ...admin, narrowTo: [] }, "read", { type: "lead" }).allowed).toBe(false);
    expect(can(policy, { ...admin, narrowTo: ["nonsense", "lead:fly"] }, "read", { type: "lead" }).allowed).toBe(false);
  });

  test("department-scoped key on a department module", () => {
    const p = presets.departments;
    const key: Subject = {
      role: "super_admin",
      userId: "u",
      department: "tech",
      narrowTo: ["usage_data:use@department", "contract_builder:use@department"],
    };
    expect(can(p, key, "use", { type: "usage_data" }).allowed).toBe(true);
    expect(can(p, key, "use", { type: "contract_builder" }).allowed).toBe(false);
  });
});

describe("getPreset", () => {
  test("finds presets by name only", () => {
    expect(getPreset("crm")).toBe(presets.crm);
    expect(getPreset("toString")).toBeUndefined();
    expect(getPreset("nope")).toBeUndefined();
  });
});
