// One case per cell of both tables in seeds/002 (CRM access control).
import { describe, expect, test } from "vitest";
import { can, canPlatform, decideInvite, filterFor, presets } from "../src/index.ts";
import type { Subject } from "../src/index.ts";

const policy = presets.crm;
const ROLES = ["sales_rep", "manager", "admin"] as const;
const me = (role: string): Subject => ({ role, userId: "u-me" });
const allowed = (s: Subject, action: string, type: string, ownerId?: string): boolean =>
  can(policy, s, action, ownerId === undefined ? { type } : { type, ownerId }).allowed;

/** "✅ (own)" means: allowed on the subject's own record, refused on someone else's. */
const onLeads = (action: string) => (s: Subject) =>
  allowed(s, action, "lead", "u-other") ? "✅" : allowed(s, action, "lead", s.userId) ? "✅ (own)" : "❌";
const yesNo = (check: (s: Subject) => boolean) => (s: Subject) => (check(s) ? "✅" : "❌");

const tenantTable: Array<[row: string, cells: [string, string, string], check: (s: Subject) => string]> = [
  ["View own leads", ["✅", "✅", "✅"], yesNo((s) => allowed(s, "read", "lead", s.userId))],
  ["View all leads", ["❌", "✅", "✅"], yesNo((s) => allowed(s, "read", "lead", "u-other"))],
  ["Create leads", ["✅", "✅", "✅"], yesNo((s) => allowed(s, "create", "lead"))],
  ["Edit leads", ["✅ (own)", "✅", "✅"], onLeads("update")],
  ["Delete leads", ["❌", "✅", "✅"], onLeads("delete")],
  ["Move pipeline stage", ["✅", "✅", "✅"], onLeads("move_stage")],
  ["Create tasks", ["✅", "✅", "✅"], yesNo((s) => allowed(s, "create", "task"))],
  ["Assign tasks to others", ["❌", "✅", "✅"], yesNo((s) => allowed(s, "assign", "task"))],
  ["View all team activity", ["❌", "✅", "✅"], yesNo((s) => allowed(s, "read", "team_activity"))],
  ["Manage automations", ["❌", "✅", "✅"], yesNo((s) => allowed(s, "manage", "automation"))],
  ["Configure pipeline stages", ["❌", "❌", "✅"], yesNo((s) => allowed(s, "configure", "pipeline_stage"))],
  [
    "Invite team members",
    ["❌", "❌", "✅"],
    yesNo((s) => allowed(s, "create", "invitation") && decideInvite(policy, s, { role: "sales_rep" }).allowed),
  ],
  ["Manage billing", ["❌", "❌", "✅"], yesNo((s) => allowed(s, "manage", "billing"))],
  ["Configure integrations", ["❌", "❌", "✅"], yesNo((s) => allowed(s, "configure", "integration"))],
  ["Configure SMTP", ["❌", "❌", "✅"], yesNo((s) => allowed(s, "configure", "smtp"))],
  ["Access analytics", ["❌", "✅", "✅"], yesNo((s) => allowed(s, "read", "analytics"))],
];

describe("crm tenant roles (seed 002, first table)", () => {
  const cases = tenantTable.flatMap(([row, cells, check]) =>
    ROLES.map((role, i) => ({ row, role, expected: cells[i]!, check })),
  );
  test.each(cases)("$row — $role: $expected", ({ role, expected, check }) => {
    expect(check(me(role))).toBe(expected);
  });
});

const PLATFORM_ROLES = ["developer", "developer_staff", "developer_admin"] as const;
const platformTable: Array<[row: string, cells: [boolean, boolean, boolean], action: string, resource: string]> = [
  ["View platform client list", [true, true, true], "read", "tenant"],
  ["Manage tenant clients", [false, true, true], "manage", "tenant"],
  ["View affiliate directory", [true, true, true], "read", "affiliate"],
  ["Approve/reject affiliates", [false, true, true], "approve", "affiliate"],
  ["Create affiliates directly", [false, true, true], "create", "affiliate"],
  ["View commission ledger", [true, true, true], "read", "commission"],
  ["Approve/pay commissions", [false, true, true], "approve", "commission"],
  ["Manage platform settings", [false, false, true], "manage", "platform_settings"],
];

describe("crm platform roles (seed 002, second table)", () => {
  const cases = platformTable.flatMap(([row, cells, action, resource]) =>
    PLATFORM_ROLES.map((role, i) => ({ row, role, expected: cells[i]!, action, resource })),
  );
  test.each(cases)("$row — $role: $expected", ({ role, expected, action, resource }) => {
    expect(canPlatform(policy, role, action, resource).allowed).toBe(expected);
  });

  test.each(PLATFORM_ROLES)("%s cannot reach tenant CRM records (tenant isolation)", (role) => {
    for (const [resource, actions] of Object.entries(policy.resources)) {
      for (const action of actions) {
        const d = canPlatform(policy, role, action, resource);
        expect(d.allowed).toBe(false);
        expect(d.code).toBe("platform_no_org_access");
      }
    }
    // a platform role name is not a tenant role either
    expect(can(policy, me(role), "read", { type: "lead", ownerId: "u-me" }).code).toBe("unknown_role");
  });
});

describe("crm scoped leads", () => {
  test("a sales rep's lead list is filtered to its own leads; managers and admins see all", () => {
    expect(filterFor(policy, me("sales_rep"), "read", "lead")).toEqual({ kind: "own", ownerId: "u-me" });
    expect(filterFor(policy, me("manager"), "read", "lead")).toEqual({ kind: "all" });
    expect(filterFor(policy, me("admin"), "read", "lead")).toEqual({ kind: "all" });
    expect(filterFor(policy, me("sales_rep"), "delete", "lead")).toEqual({ kind: "none" });
  });

  test("refusals explain themselves", () => {
    expect(can(policy, me("sales_rep"), "update", { type: "lead", ownerId: "u-other" })).toEqual({
      allowed: false,
      reason: "Sales reps can update only their own leads.",
      requiredPermission: "lead:update",
      code: "not_own_record",
    });
    expect(can(policy, me("manager"), "configure", { type: "smtp" }).reason).toBe("Only admins can configure SMTP.");
  });

  test("a lead without an owner is not the sales rep's own", () => {
    expect(can(policy, me("sales_rep"), "read", { type: "lead" }).code).toBe("not_own_record");
  });
});
