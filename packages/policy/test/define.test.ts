import { describe, expect, test } from "vitest";
import { BUILTIN_RESOURCES, PolicyDefinitionError, definePolicy } from "../src/index.ts";
import type { PolicyDefinition } from "../src/index.ts";

function base(): PolicyDefinition {
  return {
    name: "shop",
    title: "Shop",
    description: "A test policy.",
    resources: { order: ["read", "update"] },
    roles: {
      owner: { rank: 3, title: "Owner", description: "All.", permissions: ["*"], actsOnPeers: true },
      clerk: { rank: 2, title: "Clerk", description: "Orders.", permissions: ["order:*"] },
      viewer: { rank: 1, title: "Viewer", description: "Reads.", permissions: ["order:read"] },
    },
  };
}

function failsWith(mutate: (def: PolicyDefinition) => void, message: string | RegExp): void {
  const def = base();
  mutate(def);
  expect(() => definePolicy(def)).toThrow(PolicyDefinitionError);
  expect(() => definePolicy(def)).toThrow(message);
}

describe("definePolicy validation names the bad entry", () => {
  test("unknown resource in a grant", () => {
    failsWith(
      (d) => (d.roles.clerk!.permissions = ["invoice:void"]),
      `policy "shop": role "clerk" grants "invoice:void": unknown resource "invoice"`,
    );
  });
  test("unknown action in a grant", () => {
    failsWith(
      (d) => (d.roles.clerk!.permissions = ["order:void"]),
      `role "clerk" grants "order:void": unknown action "void" of resource "order" (known: read, update)`,
    );
  });
  test("unknown scope", () => {
    failsWith((d) => (d.roles.clerk!.permissions = ["order:read@team"]), `unknown scope "@team"`);
  });
  test("malformed grant", () => {
    failsWith((d) => (d.roles.clerk!.permissions = ["order"]), `role "clerk" grants "order": expected`);
  });
  test("store scope without a store dimension", () => {
    failsWith(
      (d) => (d.roles.clerk!.permissions = ["order:read@store"]),
      `role "clerk" grants "order:read@store" but the policy has no store dimension`,
    );
  });
  test("department scope without a department dimension", () => {
    failsWith((d) => (d.roles.clerk!.permissions = ["order:read@department"]), "has no department dimension");
  });
  test("one role granting one permission under two scopes", () => {
    failsWith((d) => {
      d.dimensions = { store: { unscopedRoles: ["owner"] } };
      d.roles.clerk!.permissions = ["order:read@own", "order:read@store"];
    }, `role "clerk" grants order:read with two different scopes`);
  });
  test("unknown role in the store dimension", () => {
    failsWith(
      (d) => (d.dimensions = { store: { unscopedRoles: ["manager"] } }),
      `dimensions.store.unscopedRoles names unknown role "manager"`,
    );
  });
  test("unscopedStores without a store dimension", () => {
    failsWith(
      (d) => (d.roles.clerk!.unscopedStores = true),
      `role "clerk" sets unscopedStores but the policy has no store dimension`,
    );
  });
  test("duplicate top rank", () => {
    failsWith((d) => (d.roles.clerk!.rank = 3), `duplicate rank 3: roles "owner" and "clerk" share the top rank`);
  });
  test("duplicate lowest rank without a default role", () => {
    failsWith(
      (d) => (d.roles.viewer!.rank = 2),
      `duplicate rank 2: roles "clerk" and "viewer" share the lowest rank; set defaultRole`,
    );
  });
  test("a shared lowest rank is fine with a default role", () => {
    const def = base();
    def.roles.viewer!.rank = 2;
    def.defaultRole = "viewer";
    expect(definePolicy(def).defaultRole).toBe("viewer");
  });
  test("unknown default role", () => {
    failsWith((d) => (d.defaultRole = "guest"), `defaultRole names unknown role "guest"`);
  });
  test("default role that is not the lowest", () => {
    failsWith((d) => (d.defaultRole = "clerk"), `defaultRole "clerk" is not a lowest-rank role`);
  });
  test("non-finite rank", () => {
    failsWith((d) => (d.roles.clerk!.rank = Number.NaN), `role "clerk" has a rank that is not a finite number`);
  });
  test("no roles", () => {
    failsWith((d) => (d.roles = {}), "declares no roles");
  });
  test("redeclared built-in resource", () => {
    failsWith((d) => (d.resources = { member: ["read"] }), `resource "member" is built in`);
  });
  test("resource without actions", () => {
    failsWith((d) => (d.resources = { order: [] }), `resource "order" declares no actions`);
  });
  test("resource listing an action twice", () => {
    failsWith((d) => (d.resources = { order: ["read", "read"] }), `resource "order" lists an action twice`);
  });
  test("names that are not lower_snake", () => {
    failsWith((d) => (d.resources = { "Order-Line": ["read"] }), `resource "Order-Line" must be lower_snake`);
    failsWith((d) => (d.resources = { order: ["Read"] }), `resource "order" has action "Read"`);
  });
  test("module naming an unknown resource", () => {
    failsWith(
      (d) => (d.modules = { orders: ["order", "shipment"] }),
      `module "orders" names unknown resource "shipment"`,
    );
  });
  test("department naming an unknown module", () => {
    failsWith((d) => {
      d.modules = { orders: ["order"] };
      d.dimensions = {
        department: { values: { sales: ["orders", "crm"] }, jurisdiction: true, inheritFromCreator: true },
      };
    }, `department "sales" names unknown module "crm"`);
  });
  test("unknown role outside department jurisdiction", () => {
    failsWith(
      (d) =>
        (d.dimensions = {
          department: { values: { sales: [] }, jurisdiction: true, inheritFromCreator: false, unscopedRoles: ["boss"] },
        }),
      `dimensions.department.unscopedRoles names unknown role "boss"`,
    );
  });
  test("platform resource colliding with an organization resource", () => {
    failsWith(
      (d) =>
        (d.platform = { resources: { order: ["read"] }, roles: { dev: { rank: 1, title: "Dev", permissions: [] } } }),
      `platform resource "order" collides with an organization resource`,
    );
  });
  test("platform grant on an organization resource", () => {
    failsWith(
      (d) =>
        (d.platform = {
          resources: { tenant: ["read"] },
          roles: { dev: { rank: 1, title: "Dev", permissions: ["order:read"] } },
        }),
      `platform role "dev" grants "order:read": unknown resource "order"`,
    );
  });
  test("duplicate platform rank", () => {
    failsWith(
      (d) =>
        (d.platform = {
          resources: { tenant: ["read"] },
          roles: { dev: { rank: 1, title: "Dev", permissions: [] }, ops: { rank: 1, title: "Ops", permissions: [] } },
        }),
      `duplicate rank 1: platform roles`,
    );
  });
  test("invitation lifetime", () => {
    failsWith(
      (d) => (d.settings = { invitationLifetimeHours: 0 }),
      "settings.invitationLifetimeHours must be a positive number",
    );
  });
  test("member action mapped to an unknown permission", () => {
    failsWith(
      (d) => (d.memberActions = { remove: "member:purge" }),
      `memberActions.remove names unknown permission "member:purge"`,
    );
  });
  test("label for an unknown permission", () => {
    failsWith((d) => (d.labels = { "order:ship": "ship orders" }), `labels names unknown permission "order:ship"`);
  });
  test("noun for an unknown resource", () => {
    failsWith((d) => (d.nouns = { shipment: "shipments" }), `nouns names unknown resource "shipment"`);
  });
});

describe("definePolicy normalises", () => {
  const policy = definePolicy(base());

  test("built-in resources are merged after the host's", () => {
    expect(Object.keys(policy.resources)).toEqual(["order", ...Object.keys(BUILTIN_RESOURCES)]);
  });
  test("roles sorted by rank, top and default roles derived", () => {
    expect(policy.roles.map((r) => r.name)).toEqual(["owner", "clerk", "viewer"]);
    expect(policy.topRole).toBe("owner");
    expect(policy.defaultRole).toBe("viewer");
    expect(policy.roles[1]).toMatchObject({ actsOnPeers: false, unscopedStores: false, pluralTitle: "clerks" });
  });
  test("settings defaults", () => {
    expect(policy.settings).toEqual({ invitationLifetimeHours: 72, emailRules: null });
    expect(policy.dimensions).toEqual({ store: null, department: null });
    expect(policy.platform).toBeNull();
    expect(policy.memberActions.reactivate).toBe("member:deactivate");
    expect(policy.memberActions.revoke_sessions).toBe("session:revoke");
  });
  test("the policy is frozen", () => {
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.roles[0]!.permissions)).toBe(true);
  });
  test("roles listed in the store dimension are marked unscoped and vice versa", () => {
    const def = base();
    def.dimensions = { store: { unscopedRoles: ["owner"] } };
    def.roles.clerk!.unscopedStores = true;
    const p = definePolicy(def);
    expect(p.dimensions.store).toEqual({ unscopedRoles: ["owner", "clerk"] });
    expect(p.roles.map((r) => r.unscopedStores)).toEqual([true, true, false]);
  });
});
