import { describe, expect, test } from "vitest";
import { assignableRoles, decideInvite, decideMemberAction, definePolicy, presets } from "../src/index.ts";
import type { MemberAction, Subject } from "../src/index.ts";

/** A ladder where a lower role holds something its manager lacks. */
const shop = definePolicy({
  name: "shop",
  title: "Shop",
  description: "Test.",
  resources: { ledger: ["read", "close"], order: ["read", "update"] },
  dimensions: { store: { unscopedRoles: ["owner"] } },
  roles: {
    owner: { rank: 4, title: "Owner", description: "All.", permissions: ["*"], actsOnPeers: true },
    manager: {
      rank: 3,
      title: "Manager",
      description: "Team.",
      permissions: ["member:*", "invitation:*", "order:*@store", "ledger:read"],
    },
    accountant: { rank: 2, title: "Accountant", description: "Books.", permissions: ["ledger:*"] },
    clerk: { rank: 1, title: "Clerk", description: "Orders.", permissions: ["order:read@store"] },
  },
});
const manager: Subject = { role: "manager", userId: "u-me", storeIds: ["s1", "s2"] };
const target = (role: string, userId = "u-target") => ({ role, userId, status: "active" as const });

describe("granting rules", () => {
  test("nobody grants a role holding a permission they lack", () => {
    expect(assignableRoles(shop, manager)).toEqual(["clerk"]);
    expect(decideMemberAction(shop, manager, target("clerk"), "change_role", { newRole: "accountant" })).toMatchObject({
      allowed: false,
      code: "role_not_assignable",
      reason: "Only owners can grant the accountant role.",
      requiredPermission: "member:change_role",
    });
    expect(decideInvite(shop, manager, { role: "accountant" }).code).toBe("role_not_assignable");
  });

  test("without peers, a role neither grants its own rank nor acts on it", () => {
    expect(assignableRoles(shop, manager)).not.toContain("manager");
    expect(decideMemberAction(shop, manager, target("manager"), "deactivate")).toMatchObject({
      code: "peer_not_allowed",
      reason: "Managers cannot deactivate other managers.",
    });
  });

  test("an actor scoped to stores grants only stores it has", () => {
    expect(decideInvite(shop, manager, { role: "clerk", storeIds: ["s1"] }).allowed).toBe(true);
    expect(decideInvite(shop, manager, { role: "clerk", storeIds: ["s1", "s3"] }).code).toBe("store_not_granted");
    // empty means every store, which is more than the manager has
    expect(decideInvite(shop, manager, { role: "clerk", storeIds: [] }).code).toBe("store_not_granted");
    expect(
      decideMemberAction(shop, manager, target("clerk"), "update_store_access", { storeIds: ["s2"] }).allowed,
    ).toBe(true);
    expect(decideMemberAction(shop, manager, target("clerk"), "update_store_access", { storeIds: ["s9"] }).code).toBe(
      "store_not_granted",
    );
    const owner: Subject = { role: "owner", userId: "u-owner" };
    expect(decideInvite(shop, owner, { role: "clerk", storeIds: [] }).allowed).toBe(true);
  });

  test("an API key narrowed away from member management grants no role", () => {
    expect(assignableRoles(shop, { ...manager, narrowTo: ["order:read"] })).toEqual([]);
    expect(assignableRoles(shop, { ...manager, narrowTo: ["invitation:create", "order:*"] })).toEqual(["clerk"]);
  });

  test("change_role needs a known new role", () => {
    expect(decideMemberAction(shop, manager, target("clerk"), "change_role").code).toBe("unknown_role");
    expect(decideMemberAction(shop, manager, target("clerk"), "change_role", { newRole: "king" }).code).toBe(
      "unknown_role",
    );
    expect(decideMemberAction(shop, manager, target("clerk"), "change_role", { newRole: "clerk" }).allowed).toBe(true);
  });
});

describe("acting on oneself", () => {
  const owner: Subject = { role: "owner", userId: "u-me" };
  const refused: MemberAction[] = [
    "change_role",
    "deactivate",
    "reactivate",
    "remove",
    "restore",
    "delete",
    "update_store_access",
    "update_modules",
    "change_department",
  ];
  test.each(refused)("nobody may %s themselves", (action) => {
    expect(
      decideMemberAction(shop, owner, target("owner", "u-me"), action, { newRole: "clerk", topRoleCount: 5 }).code,
    ).toBe("self_action");
  });
  test.each(["update", "reset_password", "revoke_sessions"] as const)(
    "a member holding the permission may %s their own record",
    (action) => {
      expect(decideMemberAction(shop, owner, target("owner", "u-me"), action).allowed).toBe(true);
    },
  );
});

describe("the last top-role guard", () => {
  const ops = presets.operations;
  const owner: Subject = { role: "owner", userId: "u-me" };
  test("without a count, the target is assumed to be the last owner", () => {
    expect(decideMemberAction(ops, owner, target("owner"), "remove").code).toBe("last_top_role");
  });
  test("an inactive owner can be removed while another owner is active", () => {
    expect(
      decideMemberAction(ops, owner, { ...target("owner"), status: "inactive" }, "remove", { topRoleCount: 1 }).allowed,
    ).toBe(true);
  });
  test("promoting never trips the guard", () => {
    expect(
      decideMemberAction(ops, owner, target("owner"), "change_role", { newRole: "owner", topRoleCount: 1 }).allowed,
    ).toBe(true);
  });
  test("demoting an owner needs owner:demote even for a role that may change roles", () => {
    expect(
      decideMemberAction(ops, { role: "admin", userId: "a" }, target("owner"), "change_role", {
        newRole: "admin",
        topRoleCount: 3,
      }).code,
    ).toBe("target_outranks_actor");
  });
});
