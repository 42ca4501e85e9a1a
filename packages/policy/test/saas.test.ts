// Every acceptance criterion of seeds/001 that is a permission.
import { describe, expect, test } from "vitest";
import { BUILTIN_RESOURCES, assignableRoles, can, decideMemberAction, presets } from "../src/index.ts";
import type { Subject } from "../src/index.ts";

const policy = presets.saas;
const me = (role: string): Subject => ({ role, userId: "u-me" });
const target = (role: string, status: "active" | "inactive" | "removed" = "active") => ({
  role,
  userId: "u-target",
  status,
});

describe("saas admins", () => {
  const admin = me("admin");
  test.each([
    ["see pending invitations", () => can(policy, admin, "read", { type: "invitation" })],
    ["resend an invitation", () => can(policy, admin, "resend", { type: "invitation" })],
    ["revoke an invitation", () => can(policy, admin, "revoke", { type: "invitation" })],
    ["trigger a password reset", () => decideMemberAction(policy, admin, target("member"), "reset_password")],
    ["deactivate a user", () => decideMemberAction(policy, admin, target("member"), "deactivate")],
    ["reactivate a user", () => decideMemberAction(policy, admin, target("member", "inactive"), "reactivate")],
    [
      "change a role (member → admin)",
      () => decideMemberAction(policy, admin, target("member"), "change_role", { newRole: "admin" }),
    ],
    ["remove a user", () => decideMemberAction(policy, admin, target("member"), "remove")],
    ["read the audit trail", () => can(policy, admin, "read", { type: "audit_log" })],
  ])("can %s", (_, decide) => {
    expect(decide().allowed).toBe(true);
  });

  test("cannot touch owners or grant ownership", () => {
    expect(decideMemberAction(policy, admin, target("owner"), "deactivate", { topRoleCount: 2 }).code).toBe(
      "target_outranks_actor",
    );
    expect(assignableRoles(policy, admin)).toEqual(["admin", "member"]);
  });
});

describe("saas members", () => {
  test("have read-only basics", () => {
    const member = me("member");
    expect(can(policy, member, "read", { type: "member" }).allowed).toBe(true);
    expect(can(policy, member, "read", { type: "organization" }).allowed).toBe(true);
    for (const [resource, actions] of Object.entries(BUILTIN_RESOURCES)) {
      for (const action of actions) {
        if (action === "read" && (resource === "member" || resource === "organization")) continue;
        expect(can(policy, member, action, { type: resource }).allowed, `${resource}:${action}`).toBe(false);
      }
    }
  });
});
