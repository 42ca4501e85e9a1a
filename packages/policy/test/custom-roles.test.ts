// Custom roles, per preset: what a creator may define, and that a custom role then behaves like any role
// in `can`, `filterFor` and the hierarchy decisions. @see issue 14
import { describe, expect, test } from "vitest";
import {
  assignableRoles,
  can,
  customRoles,
  decideCreateRole,
  decideDeleteRole,
  decideInvite,
  decideMemberAction,
  decideUpdateRole,
  describePermissions,
  filterFor,
  grantRefusal,
  presets,
  withCustomRoles,
} from "../src/index.ts";
import type { CustomRoleDefinition, Policy, Subject } from "../src/index.ts";

const PRESETS = Object.entries<Policy>(presets);

const top = (p: Policy): Subject => ({ role: p.topRole, userId: "u-top", department: null });
const topRank = (p: Policy) => p.roles[0]!.rank;
const lowest = (p: Policy) => p.roles.find((r) => r.name === p.defaultRole)!;

/** A delegate with role:manage and a few of the preset's permissions, just below the top role. */
function withDelegate(p: Policy): Policy {
  return withCustomRoles(p, [
    {
      key: "delegate",
      title: "Delegate",
      description: "Defines roles",
      rank: topRank(p) - 0.5,
      permissions: ["role:manage", "member:read", "organization:read"],
    },
  ]);
}

describe.each(PRESETS)("custom roles in the %s preset", (_name, preset) => {
  test("the top role holds role:manage", () => {
    expect(can(preset, top(preset), "manage", { type: "role" }).allowed).toBe(true);
  });

  test("a subset of the creator's permissions below its rank is allowed", () => {
    const permissions = [...lowest(preset).permissions];
    const d = decideCreateRole(preset, top(preset), { key: "helper", title: "Helper", rank: 1, permissions });
    expect(d).toMatchObject({ allowed: true });
  });

  test("a superset of the creator's permissions is refused, naming the permission", () => {
    const p = withDelegate(preset);
    const delegate: Subject = { role: "delegate", userId: "u-d", department: null };
    const d = decideCreateRole(p, delegate, {
      key: "wider",
      title: "Wider",
      rank: 0.5,
      permissions: ["member:read", "organization:update"],
    });
    expect(d).toMatchObject({ allowed: false, code: "permission_not_held", requiredPermission: "organization:update" });
  });

  test("an equal or higher rank is refused", () => {
    const p = withDelegate(preset);
    const delegate: Subject = { role: "delegate", userId: "u-d", department: null };
    for (const rank of [topRank(preset) - 0.5, topRank(preset), topRank(preset) + 1, 0, -1]) {
      const d = decideCreateRole(p, delegate, { key: "peer", title: "Peer", rank, permissions: ["member:read"] });
      expect(d, `rank ${rank}`).toMatchObject({ allowed: false, code: "rank_not_below_actor" });
    }
  });

  test("unknown permissions and scopes outside the preset are refused, naming the permission", () => {
    const bad = ["spaceship:fly", "member:fly", "member:read@galaxy", "not a permission"];
    if (preset.dimensions.store === null) bad.push("member:read@store");
    if (preset.dimensions.department === null) bad.push("member:read@department");
    for (const permission of bad) {
      const d = decideCreateRole(preset, top(preset), { key: "odd", title: "Odd", rank: 1, permissions: [permission] });
      expect(d, permission).toMatchObject({
        allowed: false,
        code: "unknown_permission",
        requiredPermission: permission,
      });
    }
  });

  test("top-role powers are refused, even from the top role, even through a wildcard", () => {
    for (const [permission, power] of [
      ["owner:promote", "owner:promote"],
      ["owner:*", "owner:promote"],
      ["organization:delete", "organization:delete"],
      ["*", "organization:delete"],
    ] as const) {
      const d = decideCreateRole(preset, top(preset), {
        key: "boss",
        title: "Boss",
        rank: 1,
        permissions: [permission],
      });
      expect(d, permission).toMatchObject({ allowed: false, code: "top_role_power", requiredPermission: power });
    }
  });

  test("keys are lower_snake and not taken by the preset or the org", () => {
    const p = withDelegate(preset);
    for (const key of ["Billing", "billing-viewer", "1st", ""]) {
      expect(decideCreateRole(p, top(p), { key, title: "X", rank: 1, permissions: [] }).code).toBe("invalid_role_key");
    }
    for (const key of [preset.topRole, preset.defaultRole, "delegate"]) {
      expect(decideCreateRole(p, top(p), { key, title: "X", rank: 1, permissions: [] }).code).toBe("role_key_taken");
    }
  });

  test("without role:manage nobody defines roles", () => {
    const d = decideCreateRole(
      preset,
      { role: preset.defaultRole, userId: "u1", department: null },
      {
        key: "x",
        title: "X",
        rank: 0.5,
        permissions: [],
      },
    );
    expect(d).toMatchObject({ allowed: false, code: "permission_denied", requiredPermission: "role:manage" });
  });

  test("an edit cannot raise a role to or above its editor, nor add what the editor lacks", () => {
    const p = withCustomRoles(withDelegate(preset), [
      { key: "clerk", title: "Clerk", description: "", rank: 0.5, permissions: ["member:read"] },
    ]);
    const delegate: Subject = { role: "delegate", userId: "u-d", department: null };
    expect(decideUpdateRole(p, delegate, "clerk", { title: "Clerk II" }).allowed).toBe(true);
    expect(decideUpdateRole(p, delegate, "clerk", { rank: topRank(preset) - 0.5 }).code).toBe("rank_not_below_actor");
    expect(decideUpdateRole(p, delegate, "clerk", { permissions: ["security:update"] })).toMatchObject({
      code: "permission_not_held",
      requiredPermission: "security:update",
    });
    // the delegate cannot touch its own role (not below it), nor the preset's roles
    expect(decideUpdateRole(p, delegate, "delegate", { title: "Me" }).code).toBe("role_outranks_actor");
    expect(decideUpdateRole(p, top(p), preset.defaultRole, { title: "Renamed" }).code).toBe("role_built_in");
    expect(decideDeleteRole(p, top(p), preset.topRole).code).toBe("role_built_in");
    expect(decideDeleteRole(p, delegate, "clerk").allowed).toBe(true);
    expect(decideDeleteRole(p, top(p), "nope").code).toBe("unknown_role");
  });

  test("a custom role is a role like any other: can, filterFor, assignment and hierarchy", () => {
    const p = withCustomRoles(preset, [
      {
        key: "viewer",
        title: "Viewer",
        description: "Reads",
        rank: 0.5,
        permissions: ["member:read", "organization:read"],
      },
    ]);
    expect(customRoles(p).map((r) => r.name)).toEqual(["viewer"]);
    expect(p.roles[p.roles.length - 1]!.name).toBe("viewer");
    const viewer: Subject = { role: "viewer", userId: "u-v", department: "sales" };
    expect(can(p, viewer, "read", { type: "organization" }).allowed).toBe(true);
    expect(can(p, viewer, "update", { type: "organization" })).toMatchObject({
      allowed: false,
      code: "permission_denied",
    });
    expect(filterFor(p, viewer, "read", "member").kind).not.toBe("none");
    expect(assignableRoles(p, top(p))).toContain("viewer");
    expect(decideInvite(p, { ...top(p), department: "sales" }, { role: "viewer", department: "sales" }).allowed).toBe(
      true,
    );
    // the viewer is below everyone: nobody it outranks, and it cannot change anyone
    const target = { role: preset.defaultRole, userId: "u-x", department: "sales" };
    expect(decideMemberAction(p, viewer, target, "deactivate").allowed).toBe(false);
    // the preset itself is untouched
    expect(preset.roles.some((r) => r.name === "viewer")).toBe(false);
  });

  test("a stored role that no longer fits is left out or narrowed, never breaking the org", () => {
    const stored: CustomRoleDefinition[] = [
      { key: preset.topRole, title: "Clash", description: "", rank: 1, permissions: [] },
      { key: "too_high", title: "High", description: "", rank: topRank(preset), permissions: [] },
      {
        key: "stale",
        title: "Stale",
        description: "",
        rank: 1,
        permissions: ["gone:read", "owner:promote", "member:read"],
      },
    ];
    const p = withCustomRoles(preset, stored);
    expect(customRoles(p).map((r) => [r.name, r.permissions])).toEqual([["stale", ["member:read"]]]);
  });
});

describe("scoped and module grants", () => {
  test("crm: @own grants need the creator to hold the grant unscoped or @own", () => {
    const p = presets.crm;
    const d = decideCreateRole(p, top(p), {
      key: "junior_rep",
      title: "Junior rep",
      rank: 0.5,
      permissions: ["lead:read@own", "lead:update@own"],
    });
    expect(d.allowed).toBe(true);
    const q = withCustomRoles(p, [
      {
        key: "lead_admin",
        title: "Lead admin",
        description: "",
        rank: 2.5,
        permissions: ["role:manage", "lead:read@own"],
      },
    ]);
    const la: Subject = { role: "lead_admin", userId: "u", department: null };
    expect(decideCreateRole(q, la, { key: "r", title: "R", rank: 1, permissions: ["lead:read@own"] }).allowed).toBe(
      true,
    );
    expect(decideCreateRole(q, la, { key: "r", title: "R", rank: 1, permissions: ["lead:read"] })).toMatchObject({
      code: "permission_not_held",
      requiredPermission: "lead:read",
    });
  });

  test("operations: a store-scoped custom role sees only its stores", () => {
    const p = withCustomRoles(presets.operations, [
      { key: "auditor", title: "Auditor", description: "", rank: 1.5, permissions: ["order:read@store"] },
    ]);
    const s: Subject = { role: "auditor", userId: "u", storeIds: ["s1"] };
    expect(can(p, s, "read", { type: "order", storeId: "s1" }).allowed).toBe(true);
    expect(can(p, s, "read", { type: "order", storeId: "s2" })).toMatchObject({
      allowed: false,
      code: "store_not_granted",
    });
    expect(filterFor(p, s, "read", "order")).toEqual({ kind: "stores", storeIds: ["s1"] });
  });

  test("departments: module grants follow the member's department; admins grant only what they hold", () => {
    const p = presets.departments;
    const admin: Subject = { role: "admin", userId: "a", department: "finance" };
    // the preset's admin has no role:manage; a custom role gets it from the super admin
    expect(
      decideCreateRole(p, admin, { key: "x", title: "X", rank: 1, permissions: ["invoice_builder:use@department"] }),
    ).toMatchObject({ allowed: false, requiredPermission: "role:manage" });
    const q = withCustomRoles(p, [
      {
        key: "finance_lead",
        title: "Finance lead",
        description: "",
        rank: 2.5,
        permissions: ["role:manage", "invoice_builder:use@department", "member:read@department"],
      },
    ]);
    const lead: Subject = { role: "finance_lead", userId: "l", department: "finance" };
    expect(grantRefusal(q, lead, "invoice_builder:use@department")).toBeUndefined();
    expect(grantRefusal(q, lead, "invoice_builder:use")?.code).toBe("permission_not_held");
    const r = withCustomRoles(q, [
      { key: "biller", title: "Biller", description: "", rank: 0.5, permissions: ["invoice_builder:use@department"] },
    ]);
    expect(
      can(r, { role: "biller", userId: "b", department: "finance" }, "use", { type: "invoice_builder" }).allowed,
    ).toBe(true);
    expect(
      can(r, { role: "biller", userId: "b", department: "sales" }, "use", { type: "invoice_builder" }).allowed,
    ).toBe(false);
  });

  test("billing: the Billing viewer reads invoices and customers only, in sentences", () => {
    const p = presets.billing;
    const permissions = ["invoice:read", "customer:read"];
    expect(
      decideCreateRole(p, top(p), { key: "billing_viewer", title: "Billing viewer", rank: 0.5, permissions }).allowed,
    ).toBe(true);
    expect(describePermissions(p, permissions)).toContain("View invoices.");
    expect(describePermissions(p, permissions)).toContain("View customers.");
    // the billing admin lacks member:delete: it cannot hand it out
    expect(grantRefusal(p, { role: "admin", userId: "a" }, "member:delete")).toMatchObject({
      code: "permission_not_held",
      requiredPermission: "member:delete",
    });
  });
});
