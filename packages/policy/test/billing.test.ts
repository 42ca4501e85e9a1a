// Every role statement of seeds/000 (billing collaborators).
import { describe, expect, test } from "vitest";
import { BUILTIN_RESOURCES, can, decideMemberAction, presets } from "../src/index.ts";
import type { MemberAction, Subject } from "../src/index.ts";

const policy = presets.billing;
const me = (role: string): Subject => ({ role, userId: "u-me" });
const target = (role: string) => ({ role, userId: "u-target", status: "active" as const });
const allowed = (role: string, action: string, type: string): boolean =>
  can(policy, me(role), action, { type }).allowed;

/** "Access control" in the seeds means Roster's own resources; reading the organization's name is not one of them. */
const accessControl = Object.entries(BUILTIN_RESOURCES).flatMap(([resource, actions]) =>
  actions.map((action) => [resource, action] as const).filter(([r, a]) => !(r === "organization" && a === "read")),
);
const deletes = Object.entries(policy.resources).flatMap(([resource, actions]) =>
  actions.filter((a) => a === "delete").map((action) => [resource, action] as const),
);

describe("only account owners delete collaborators", () => {
  test.each(["admin", "sales", "customer_service"])(
    "a %s gets 403 permission_denied deleting a collaborator",
    (role) => {
      for (const action of ["remove", "delete"] satisfies MemberAction[]) {
        expect(decideMemberAction(policy, me(role), target("customer_service"), action)).toEqual({
          allowed: false,
          reason: "Only owners can delete members.",
          requiredPermission: "member:delete",
          code: "permission_denied",
        });
      }
    },
  );

  test("the owner deletes collaborators", () => {
    expect(decideMemberAction(policy, me("owner"), target("admin"), "remove").allowed).toBe(true);
    expect(decideMemberAction(policy, me("owner"), target("sales"), "delete").allowed).toBe(true);
  });
});

describe("sales collaborators", () => {
  test.each([
    ["create", "plan"],
    ["update", "plan"],
    ["read", "plan"],
    ["export", "customer"],
    ["export", "subscription"],
    ["export", "invoice"],
  ])("can %s %s", (action, type) => {
    expect(allowed("sales", action, type)).toBe(true);
  });

  test.each(accessControl)("cannot access access control: %s:%s", (resource, action) => {
    expect(allowed("sales", action, resource)).toBe(false);
  });

  test.each(["read", "update"])("cannot %s product settings", (action) => {
    expect(allowed("sales", action, "product_settings")).toBe(false);
  });

  test.each(deletes)("cannot delete anything: %s:%s", (resource, action) => {
    expect(allowed("sales", action, resource)).toBe(false);
  });
});

describe("customer service collaborators", () => {
  test.each([
    ["update", "customer"],
    ["void", "invoice"],
    ["cancel", "invoice"],
  ])("can %s %s", (action, type) => {
    expect(allowed("customer_service", action, type)).toBe(true);
  });

  test.each(policy.resources.plan!.map((action) => [action]))("cannot access plans: plan:%s", (action) => {
    expect(allowed("customer_service", action, "plan")).toBe(false);
  });

  test.each(accessControl)("cannot access access control: %s:%s", (resource, action) => {
    expect(allowed("customer_service", action, resource)).toBe(false);
  });

  test.each(deletes)("cannot delete anything: %s:%s", (resource, action) => {
    expect(allowed("customer_service", action, resource)).toBe(false);
  });

  test("is at the same rank as sales, below admin", () => {
    const rank = (name: string) => policy.roles.find((r) => r.name === name)!.rank;
    expect(rank("customer_service")).toBe(rank("sales"));
    expect(rank("admin")).toBeGreaterThan(rank("sales"));
    expect(rank("owner")).toBeGreaterThan(rank("admin"));
  });
});

describe("owners and admins manage collaborators without deleting them", () => {
  test.each(["owner", "admin"])("%s marks a collaborator inactive and reactivates it", (role) => {
    expect(decideMemberAction(policy, me(role), target("sales"), "deactivate").allowed).toBe(true);
    expect(decideMemberAction(policy, me(role), { ...target("sales"), status: "inactive" }, "reactivate").allowed).toBe(
      true,
    );
  });

  test.each(["owner", "admin"])("%s sees last login (member list) and exports collaborators", (role) => {
    expect(allowed(role, "read", "member")).toBe(true);
    expect(allowed(role, "export", "member")).toBe(true);
  });

  test.each(["sales", "customer_service"])("%s can neither deactivate, list nor export collaborators", (role) => {
    expect(decideMemberAction(policy, me(role), target("customer_service"), "deactivate").allowed).toBe(false);
    expect(allowed(role, "read", "member")).toBe(false);
    expect(allowed(role, "export", "member")).toBe(false);
  });

  test("admin holds everything but deleting collaborators, deleting the organization and the owner rules", () => {
    const withheld = new Set([
      "member:delete",
      "member:remove",
      "organization:delete",
      "owner:promote",
      "owner:demote",
    ]);
    for (const [resource, actions] of Object.entries(policy.resources)) {
      for (const action of actions) {
        expect(allowed("admin", action, resource), `${resource}:${action}`).toBe(
          !withheld.has(`${resource}:${action}`),
        );
      }
    }
  });

  test("new collaborators default to the narrower intermediate role", () => {
    expect(policy.defaultRole).toBe("customer_service");
    expect(policy.topRole).toBe("owner");
  });
});
