// Every role statement of seeds/003: hierarchy, department module sets, admin jurisdiction.
import { describe, expect, test } from "vitest";
import {
  assignableRoles,
  can,
  decideInvite,
  decideMemberAction,
  filterFor,
  presets,
  resolveInviteDepartment,
} from "../src/index.ts";
import type { MemberRef, Subject } from "../src/index.ts";

const policy = presets.departments;
const me = (role: string, department: string | null = "sales"): Subject => ({ role, userId: "u-me", department });
const member = (role: string, department: string | null = "sales"): MemberRef => ({
  role,
  userId: "u-target",
  department,
  status: "active",
});

const MODULES: Record<string, string[]> = {
  sales: ["contract_builder", "customer_data", "crm_integration"],
  tech: ["usage_data", "integration_apis"],
  finance: ["invoice_builder", "payments_board", "payment_reminders"],
};
const ALL_MODULES = Object.values(MODULES).flat();

describe("hierarchy super admin > admin > user", () => {
  test("ranks", () => {
    expect(policy.roles.map((r) => r.name)).toEqual(["super_admin", "admin", "user"]);
    expect(policy.topRole).toBe("super_admin");
    expect(policy.defaultRole).toBe("user");
  });

  test("only the super admin assigns the admin role", () => {
    expect(assignableRoles(policy, me("super_admin"))).toEqual(["super_admin", "admin", "user"]);
    expect(assignableRoles(policy, me("admin"))).toEqual(["user"]);
    expect(assignableRoles(policy, me("user"))).toEqual([]);
    expect(decideInvite(policy, me("admin"), { role: "admin" })).toMatchObject({
      allowed: false,
      code: "role_not_assignable",
      reason: "Only super admins can grant the admin role.",
    });
    expect(decideInvite(policy, me("super_admin"), { role: "admin", department: "tech" }).allowed).toBe(true);
  });

  test("the super admin promotes a user to admin and demotes an admin", () => {
    expect(
      decideMemberAction(policy, me("super_admin"), member("user"), "change_role", { newRole: "admin" }).allowed,
    ).toBe(true);
    expect(
      decideMemberAction(policy, me("super_admin"), member("admin"), "change_role", { newRole: "user" }).allowed,
    ).toBe(true);
    expect(decideMemberAction(policy, me("admin"), member("user"), "change_role", { newRole: "admin" }).code).toBe(
      "role_not_assignable",
    );
  });

  test("revoking follows the hierarchy", () => {
    expect(decideMemberAction(policy, me("admin"), member("super_admin"), "deactivate", { topRoleCount: 2 }).code).toBe(
      "target_outranks_actor",
    );
    expect(decideMemberAction(policy, me("admin"), member("admin"), "deactivate")).toMatchObject({
      allowed: false,
      code: "peer_not_allowed",
      reason: "Admins cannot deactivate other admins.",
    });
    expect(decideMemberAction(policy, me("admin"), member("user"), "deactivate").allowed).toBe(true);
    expect(decideMemberAction(policy, me("user"), member("user"), "deactivate").allowed).toBe(false);
    expect(decideMemberAction(policy, me("super_admin"), member("admin", "tech"), "deactivate").allowed).toBe(true);
  });

  test("the super admin has full user management and billing; admins do not manage billing", () => {
    expect(can(policy, me("super_admin", null), "manage", { type: "billing" }).allowed).toBe(true);
    expect(can(policy, me("admin"), "manage", { type: "billing" }).allowed).toBe(false);
    expect(can(policy, me("user"), "manage", { type: "billing" }).allowed).toBe(false);
  });
});

describe("department module sets", () => {
  const cases = ["user", "admin"].flatMap((role) =>
    Object.keys(MODULES).flatMap((department) =>
      ALL_MODULES.map((module) => ({ role, department, module, expected: MODULES[department]!.includes(module) })),
    ),
  );
  test.each(cases)("$role in $department uses $module: $expected", ({ role, department, module, expected }) => {
    expect(can(policy, me(role, department), "use", { type: module }).allowed).toBe(expected);
  });

  test.each(ALL_MODULES)("the super admin uses %s whatever its department", (module) => {
    expect(can(policy, me("super_admin", null), "use", { type: module }).allowed).toBe(true);
    expect(can(policy, me("super_admin", "tech"), "use", { type: module }).allowed).toBe(true);
  });

  test("a member without a department uses no module", () => {
    for (const module of ALL_MODULES)
      expect(can(policy, me("user", null), "use", { type: module }).allowed).toBe(false);
  });

  test("the refusal names the department that has the module", () => {
    expect(can(policy, me("user", "tech"), "use", { type: "invoice_builder" })).toEqual({
      allowed: false,
      reason: "Invoice builder is available only to the finance department.",
      requiredPermission: "invoice_builder:use",
      code: "outside_department",
    });
  });

  test("filterFor answers all or none per module", () => {
    expect(filterFor(policy, me("user", "tech"), "use", "usage_data")).toEqual({ kind: "all" });
    expect(filterFor(policy, me("user", "tech"), "use", "contract_builder")).toEqual({ kind: "none" });
  });
});

describe("admin jurisdiction", () => {
  const actions = [
    "update",
    "deactivate",
    "reactivate",
    "remove",
    "restore",
    "reset_password",
    "revoke_sessions",
  ] as const;
  test.each(actions)("an admin may %s users of its own department only", (action) => {
    const admin = me("admin", "sales");
    expect(decideMemberAction(policy, admin, member("user", "sales"), action).allowed).toBe(true);
    const outside = decideMemberAction(policy, admin, member("user", "finance"), action);
    expect(outside.allowed).toBe(false);
    expect(outside.code).toBe("outside_department");
  });

  test("an admin without a department manages nobody", () => {
    expect(decideMemberAction(policy, me("admin", null), member("user", null), "deactivate").code).toBe(
      "outside_department",
    );
  });

  test("an admin invites only into its own department; users inherit their creator's department", () => {
    const admin = me("admin", "finance");
    expect(decideInvite(policy, admin, { role: "user" }).allowed).toBe(true);
    expect(resolveInviteDepartment(policy, admin, undefined)).toBe("finance");
    expect(decideInvite(policy, admin, { role: "user", department: "finance" }).allowed).toBe(true);
    expect(decideInvite(policy, admin, { role: "user", department: "tech" })).toMatchObject({
      allowed: false,
      code: "outside_department",
      reason: "Admins can invite members only into their own department.",
    });
  });

  test("the super admin sets any department at creation", () => {
    expect(decideInvite(policy, me("super_admin", "sales"), { role: "user", department: "tech" }).allowed).toBe(true);
    expect(resolveInviteDepartment(policy, me("super_admin", "sales"), "tech")).toBe("tech");
    expect(decideInvite(policy, me("super_admin"), { role: "user", department: "legal" }).code).toBe(
      "unknown_department",
    );
  });

  test("only the super admin moves members between departments", () => {
    expect(
      decideMemberAction(policy, me("super_admin"), member("user", "sales"), "change_department", {
        newDepartment: "tech",
      }).allowed,
    ).toBe(true);
    expect(
      decideMemberAction(policy, me("admin", "sales"), member("user", "sales"), "change_department", {
        newDepartment: "tech",
      }).code,
    ).toBe("outside_department");
  });

  test("admins see their own department's members, activity logs and reports", () => {
    const admin = me("admin", "tech");
    expect(filterFor(policy, admin, "read", "member")).toEqual({ kind: "department", department: "tech" });
    expect(filterFor(policy, admin, "read", "audit_log")).toEqual({ kind: "department", department: "tech" });
    expect(filterFor(policy, admin, "read", "report")).toEqual({ kind: "department", department: "tech" });
    expect(filterFor(policy, me("super_admin"), "read", "audit_log")).toEqual({ kind: "all" });
    expect(filterFor(policy, me("user"), "read", "audit_log")).toEqual({ kind: "none" });
  });
});

describe("soft delete with recovery", () => {
  test("admins and the super admin remove and restore users; users do not", () => {
    expect(decideMemberAction(policy, me("admin"), member("user"), "remove").allowed).toBe(true);
    expect(decideMemberAction(policy, me("admin"), { ...member("user"), status: "removed" }, "restore").allowed).toBe(
      true,
    );
    expect(decideMemberAction(policy, me("super_admin"), member("admin", "tech"), "remove").allowed).toBe(true);
    expect(decideMemberAction(policy, me("user"), member("user"), "remove").code).toBe("permission_denied");
  });

  test("purging a member for good is the super admin's alone", () => {
    expect(decideMemberAction(policy, me("admin"), member("user"), "delete").code).toBe("permission_denied");
    expect(decideMemberAction(policy, me("super_admin"), member("user"), "delete").allowed).toBe(true);
  });
});

describe("account rules", () => {
  test("secondary email domains are fixed and the secondary email is immutable; invitations last 72 h", () => {
    expect(policy.settings).toEqual({
      invitationLifetimeHours: 72,
      emailRules: {
        secondaryEmailDomains: ["gmail.com", "icloud.com", "outlook.com"],
        primaryMustMatchAllowedDomains: true,
        secondaryEmailImmutable: true,
      },
    });
  });
});
