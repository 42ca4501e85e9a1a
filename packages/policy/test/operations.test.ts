// One case per cell of the permission matrix in seeds/004 (operations workspace), plus its prose rules.
import { describe, expect, test } from "vitest";
import { assignableRoles, can, decideInvite, decideMemberAction, filterFor, presets } from "../src/index.ts";
import type { MemberRef, Subject } from "../src/index.ts";

const policy = presets.operations;
const ROLES = ["owner", "admin", "staff", "read_only"] as const;
/** Scoped roles are granted store s1; the records checked live there. */
const me = (role: string, extra: Partial<Subject> = {}): Subject => ({
  role,
  userId: "u-me",
  storeIds: ["s1"],
  ...extra,
});
const ok = (s: Subject, action: string, type: string): boolean =>
  can(policy, s, action, { type, storeId: "s1" }).allowed;
const all = (...checks: boolean[]): boolean => checks.every(Boolean);
const member = (role: string, userId = "u-target"): MemberRef => ({ role, userId, status: "active" });

const table: Array<[row: string, cells: [string, string, string, string], check: (s: Subject) => string]> = [
  [
    "View orders, clients, vendors",
    ["yes", "yes", "yes", "yes"],
    (s) => yes(all(ok(s, "read", "order"), ok(s, "read", "client"), ok(s, "read", "vendor"))),
  ],
  [
    "Create / edit orders, clients, vendors",
    ["yes", "yes", "yes", "no"],
    (s) => yes(all(...["order", "client", "vendor"].flatMap((t) => [ok(s, "create", t), ok(s, "update", t)]))),
  ],
  [
    "Record payments, refunds",
    ["yes", "yes", "yes", "no"],
    (s) => yes(all(ok(s, "record", "payment"), ok(s, "refund", "payment"))),
  ],
  ["Send email / SMS to clients", ["yes", "yes", "yes", "no"], (s) => yes(ok(s, "send", "message"))],
  [
    "Mint / rotate / revoke integration keys",
    ["yes", "yes", "no", "no"],
    (s) =>
      yes(
        all(ok(s, "create", "integration_key"), ok(s, "rotate", "integration_key"), ok(s, "revoke", "integration_key")),
      ),
  ],
  ["Edit webhook endpoints", ["yes", "yes", "no", "no"], (s) => yes(ok(s, "update", "webhook"))],
  [
    "Invite / remove teammates",
    ["yes", "yes", "no", "no"],
    (s) =>
      yes(
        all(
          decideInvite(policy, s, { role: "read_only" }).allowed,
          decideMemberAction(policy, s, member("read_only"), "remove").allowed,
        ),
      ),
  ],
  [
    "Change another member's role",
    ["yes", "yes (not owner)", "no", "no"],
    (s) => {
      const staffToReadOnly = decideMemberAction(policy, s, member("staff"), "change_role", {
        newRole: "read_only",
        topRoleCount: 2,
      }).allowed;
      const ownerToAdmin = decideMemberAction(policy, s, member("owner"), "change_role", {
        newRole: "admin",
        topRoleCount: 2,
      }).allowed;
      const staffToOwner = decideMemberAction(policy, s, member("staff"), "change_role", { newRole: "owner" }).allowed;
      if (!staffToReadOnly) return "no";
      return ownerToAdmin && staffToOwner ? "yes" : "yes (not owner)";
    },
  ],
  ["Edit billing / change plan", ["yes", "yes", "no", "no"], (s) => yes(ok(s, "update", "billing"))],
  ["Export audit log", ["yes", "yes", "no", "no"], (s) => yes(ok(s, "export", "audit_log"))],
  [
    "Add / archive a store",
    ["yes", "yes", "no", "no"],
    (s) => yes(all(ok(s, "create", "store"), ok(s, "archive", "store"))),
  ],
  [
    "Promote / demote owners",
    ["yes", "no", "no", "no"],
    (s) =>
      yes(
        all(
          decideMemberAction(policy, s, member("admin"), "change_role", { newRole: "owner" }).allowed,
          decideMemberAction(policy, s, member("owner"), "change_role", { newRole: "admin", topRoleCount: 2 }).allowed,
        ),
      ),
  ],
  ["Delete the workspace", ["yes", "no", "no", "no"], (s) => yes(ok(s, "delete", "workspace"))],
];

function yes(value: boolean): string {
  return value ? "yes" : "no";
}

describe("operations permission matrix (seed 004)", () => {
  const cases = table.flatMap(([row, cells, check]) =>
    ROLES.map((role, i) => ({ row, role, expected: cells[i]!, check })),
  );
  test.each(cases)("$row — $role: $expected", ({ role, expected, check }) => {
    expect(check(me(role))).toBe(expected);
  });
});

describe("operations roles in prose (seed 004)", () => {
  test("read_only cannot create, edit or delete anything", () => {
    for (const [resource, actions] of Object.entries(policy.resources)) {
      for (const action of actions) {
        if (action === "read") continue;
        expect(
          can(policy, me("read_only"), action, { type: resource, storeId: "s1" }).allowed,
          `${resource}:${action}`,
        ).toBe(false);
      }
    }
  });

  test("staff has no billing, security, integration keys or audit-log export", () => {
    const s = me("staff");
    for (const [action, type] of [
      ["update", "billing"],
      ["update", "security"],
      ["create", "integration_key"],
      ["rotate", "integration_key"],
      ["revoke", "integration_key"],
      ["export", "audit_log"],
      ["create", "api_key"],
    ] as const) {
      expect(can(policy, s, action, { type }).allowed, `${type}:${action}`).toBe(false);
    }
  });

  test("admin cannot delete the workspace", () => {
    expect(can(policy, me("admin"), "delete", { type: "workspace" })).toMatchObject({
      allowed: false,
      reason: "Only owners can delete the workspace.",
      code: "permission_denied",
    });
  });

  test("admins manage other admins but not owners", () => {
    const admin = me("admin");
    expect(decideMemberAction(policy, admin, member("admin"), "deactivate").allowed).toBe(true);
    expect(decideMemberAction(policy, admin, member("admin"), "remove").allowed).toBe(true);
    expect(decideMemberAction(policy, admin, member("owner"), "remove", { topRoleCount: 3 })).toMatchObject({
      allowed: false,
      code: "target_outranks_actor",
      reason: "Admins cannot remove owners.",
    });
    expect(assignableRoles(policy, admin)).toEqual(["admin", "staff", "read_only"]);
    expect(decideMemberAction(policy, admin, member("staff"), "change_role", { newRole: "owner" })).toMatchObject({
      allowed: false,
      code: "role_not_assignable",
      requiredPermission: "owner:promote",
      reason: "Only owners can grant the owner role.",
    });
  });

  test("owners demote and remove other owners, but the last owner is kept", () => {
    const owner = me("owner");
    expect(decideMemberAction(policy, owner, member("owner"), "remove", { topRoleCount: 2 }).allowed).toBe(true);
    for (const action of ["remove", "deactivate", "delete"] as const) {
      expect(decideMemberAction(policy, owner, member("owner"), action, { topRoleCount: 1 }).code).toBe(
        "last_top_role",
      );
    }
    expect(
      decideMemberAction(policy, owner, member("owner"), "change_role", { newRole: "admin", topRoleCount: 1 }),
    ).toMatchObject({
      allowed: false,
      code: "last_top_role",
      reason: "The organization must keep at least one active owner. Make another member owner first.",
    });
  });

  test("an owner cannot remove or demote themselves (promote another, then have them remove you)", () => {
    const owner = me("owner");
    expect(decideMemberAction(policy, owner, member("owner", "u-me"), "remove", { topRoleCount: 2 }).code).toBe(
      "self_action",
    );
    expect(
      decideMemberAction(policy, owner, member("owner", "u-me"), "change_role", { newRole: "admin", topRoleCount: 2 })
        .code,
    ).toBe("self_action");
  });

  test("invitations last 7 days", () => {
    expect(policy.settings.invitationLifetimeHours).toBe(168);
  });
});

describe("operations per-store access", () => {
  test.each(["staff", "read_only"])("%s sees only granted stores", (role) => {
    const s = me(role, { storeIds: ["retail"] });
    expect(can(policy, s, "read", { type: "order", storeId: "retail" }).allowed).toBe(true);
    expect(can(policy, s, "read", { type: "order", storeId: "wholesale" })).toMatchObject({
      allowed: false,
      code: "store_not_granted",
    });
    expect(can(policy, s, "read", { type: "order" }).allowed).toBe(false);
    expect(filterFor(policy, s, "read", "order")).toEqual({ kind: "stores", storeIds: ["retail"] });
  });

  test.each(["owner", "admin"])("%s always sees all stores", (role) => {
    const s = me(role, { storeIds: ["retail"] });
    expect(can(policy, s, "update", { type: "order", storeId: "wholesale" }).allowed).toBe(true);
    expect(filterFor(policy, s, "read", "client")).toEqual({ kind: "all" });
  });

  test("no store list means every store (the invitation default)", () => {
    for (const storeIds of [undefined, []]) {
      const s: Subject = { role: "staff", userId: "u", ...(storeIds ? { storeIds } : {}) };
      expect(can(policy, s, "update", { type: "vendor", storeId: "anywhere" }).allowed).toBe(true);
      expect(filterFor(policy, s, "read", "vendor")).toEqual({ kind: "all" });
    }
  });

  test("messages are not store-scoped", () => {
    expect(
      can(policy, me("staff", { storeIds: ["retail"] }), "send", { type: "message", storeId: "wholesale" }).allowed,
    ).toBe(true);
  });

  test("the reason names the store rule", () => {
    expect(can(policy, me("staff"), "update", { type: "order", storeId: "s2" }).reason).toBe(
      "Staff can update orders only in the stores granted to them.",
    );
  });
});

describe("operations per-module hiding", () => {
  test("a hidden module answers module_hidden for its resources only", () => {
    const s = me("staff", { hiddenModules: ["vendors", "reports"] });
    expect(can(policy, s, "read", { type: "vendor", storeId: "s1" })).toMatchObject({
      allowed: false,
      code: "module_hidden",
      reason: "The Vendors module is hidden for you.",
    });
    expect(can(policy, s, "read", { type: "order", storeId: "s1" }).allowed).toBe(true);
    expect(filterFor(policy, s, "read", "vendor")).toEqual({ kind: "none" });
  });

  test("modules without a resource type are hidden through resource.module", () => {
    const s = me("admin", { hiddenModules: ["fulfillment"] });
    expect(can(policy, s, "update", { type: "order", module: "fulfillment" }).code).toBe("module_hidden");
    expect(can(policy, s, "update", { type: "order" }).allowed).toBe(true);
  });

  test("hiding applies to owners too", () => {
    expect(can(policy, me("owner", { hiddenModules: ["payments"] }), "refund", { type: "payment" }).code).toBe(
      "module_hidden",
    );
  });

  test("modules map to the preset vocabulary", () => {
    expect(policy.modules).toEqual({
      orders: ["order"],
      clients: ["client"],
      vendors: ["vendor"],
      payments: ["payment"],
      communications: ["message"],
      reports: [],
      fulfillment: [],
    });
  });
});
