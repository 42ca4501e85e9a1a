// Custom roles through HTTP, on PGlite and (with DATABASE_URL) PostgreSQL. @see issue 14
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, createOrg, json, signUp, testApp, uniqueEmail, type Session, type TestApp } from "./helpers.ts";
import { api, eventsOf, inviteAndAccept, type ErrorJson } from "./members.helpers.ts";

type RoleJson = {
  key: string;
  title: string;
  description: string;
  rank: number;
  permissions: string[];
  builtIn: boolean;
  memberCount: number;
};

let t: TestApp;
let owner: Session;
let orgId: string;
let admin: Session;

beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app, uniqueEmail("owner"), "Olivia Owner");
  orgId = (await createOrg(t.app, owner, "billing", "Ledger Co")).id;
  admin = (await addMember(t, orgId, "admin")).session;
});
afterAll(async () => t.close());

const rolesUrl = (suffix = "") => `/v1/orgs/${orgId}/roles${suffix}`;
const authorize = (s: Session, action: string, type: string) =>
  api(t).post(s, "/v1/authorize", { orgId, action, resource: { type } });
const allowed = async (s: Session, action: string, type: string) =>
  json<{ allowed: boolean }>(await authorize(s, action, type)).allowed;

const VIEWER = {
  key: "billing_viewer",
  title: "Billing viewer",
  description: "Reads invoices and customers.",
  rank: 0.5,
  permissions: ["invoice:read", "customer:read"],
};

describe("defining roles", () => {
  it("the owner creates a role from a subset of its permissions; the list shows the preset's roles, then the org's", async () => {
    const res = await api(t).post(owner, rolesUrl(), VIEWER);
    expect(res.statusCode, res.body).toBe(201);
    expect(json<RoleJson>(res)).toEqual({ ...VIEWER, builtIn: false, memberCount: 0 });
    const list = json<{ data: RoleJson[] }>(await api(t).get(owner, rolesUrl())).data;
    expect(list.map((r) => [r.key, r.builtIn])).toEqual([
      ["owner", true],
      ["admin", true],
      ["sales", true],
      ["customer_service", true],
      ["billing_viewer", false],
    ]);
    expect(list.find((r) => r.key === "owner")!.memberCount).toBe(1);
    // the policy endpoint (the SDK's enforcer) sees the same role
    const policy = json<{ policy: { roles: Array<{ name: string; custom?: boolean }> } }>(
      await api(t).get(owner, `/v1/orgs/${orgId}/policy`),
    ).policy;
    expect(policy.roles.find((r) => r.name === "billing_viewer")).toMatchObject({ custom: true });
  });

  it.each([
    [
      "a permission the creator lacks",
      "admin",
      { permissions: ["member:delete"] },
      403,
      "permission_denied",
      "member:delete",
    ],
    ["a rank equal to the creator's", "admin", { rank: 2 }, 403, "rank_not_below_actor", "role:manage"],
    ["a rank above the creator's", "admin", { rank: 5 }, 403, "rank_not_below_actor", "role:manage"],
    ["an unknown permission", "owner", { permissions: ["lead:read"] }, 422, "unknown_permission", undefined],
    [
      "a scope the preset does not have",
      "owner",
      { permissions: ["invoice:read@store"] },
      422,
      "unknown_permission",
      undefined,
    ],
    ["a top-role power", "owner", { permissions: ["owner:promote"] }, 422, "top_role_power", "owner:promote"],
    ["everything", "owner", { permissions: ["*"] }, 422, "top_role_power", "organization:delete"],
    ["a preset role's key", "owner", { key: "admin" }, 409, "role_key_taken", undefined],
    ["a key that is not lower_snake", "owner", { key: "Billing-Viewer" }, 400, "validation_failed", undefined],
  ] as const)("refuses %s", async (_what, by, change, status, code, permission) => {
    const actor = by === "owner" ? owner : admin;
    const res = await api(t).post(actor, rolesUrl(), { ...VIEWER, key: "candidate", ...change });
    expect(res.statusCode, res.body).toBe(status);
    const body = json<ErrorJson>(res).error;
    expect(body.code).toBe(code);
    if (permission !== undefined) expect(body.requiredPermission).toBe(permission);
    if (status === 422) expect(body.message).toMatch(/"/);
  });

  it("a member without role:manage may read the roles but not define them", async () => {
    const sales = (await addMember(t, orgId, "sales")).session;
    expect((await api(t).get(sales, rolesUrl())).statusCode).toBe(200);
    const res = await api(t).post(sales, rolesUrl(), { ...VIEWER, key: "mine", rank: 0.2 });
    expect(res.statusCode).toBe(403);
    expect(json<ErrorJson>(res).error).toMatchObject({ code: "permission_denied", requiredPermission: "role:manage" });
  });

  it("the preset's roles cannot be changed or deleted", async () => {
    const patch = await api(t).patch(owner, rolesUrl("/admin"), { title: "Boss" });
    expect(patch.statusCode).toBe(403);
    expect(json<ErrorJson>(patch).error.code).toBe("role_built_in");
    expect(json<ErrorJson>(await api(t).del(owner, rolesUrl("/sales"))).error.code).toBe("role_built_in");
    expect((await api(t).del(owner, rolesUrl("/nope"))).statusCode).toBe(404);
  });
});

describe("a member with a custom role", () => {
  let viewer: Session;

  beforeAll(async () => {
    viewer = (await inviteAndAccept(t, owner, orgId, { email: uniqueEmail("viewer"), role: "billing_viewer" })).session;
  });

  it("is allowed exactly what the role says, through /v1/authorize and Roster's own endpoints", async () => {
    expect(await allowed(viewer, "read", "invoice")).toBe(true);
    expect(await allowed(viewer, "read", "customer")).toBe(true);
    for (const [action, type] of [
      ["void", "invoice"],
      ["export", "invoice"],
      ["update", "customer"],
      ["read", "plan"],
      ["read", "subscription"],
    ]) {
      expect(await allowed(viewer, action!, type!), `${action} ${type}`).toBe(false);
    }
    const denied = json<{ reason: string; requiredPermission: string }>(await authorize(viewer, "void", "invoice"));
    expect(denied.reason).toMatch(/Only .*can void invoices/i);
    // Roster's own resources: none granted
    expect((await api(t).get(viewer, `/v1/orgs/${orgId}/members`)).statusCode).toBe(403);
    expect((await api(t).get(viewer, `/v1/orgs/${orgId}/audit-events`)).statusCode).toBe(403);
    expect((await api(t).post(viewer, rolesUrl(), { ...VIEWER, key: "x", rank: 0.1 })).statusCode).toBe(403);
  });

  it("editing the role changes the next answer, with the permissions before and after in the audit log", async () => {
    const hitsBefore = t.db.cache.stats.hits.policy;
    expect(await allowed(viewer, "void", "invoice")).toBe(false);
    expect(t.db.cache.stats.hits.policy).toBeGreaterThan(hitsBefore); // answered from the cached policy
    const res = await api(t).patch(owner, rolesUrl("/billing_viewer"), {
      permissions: ["invoice:read", "invoice:void", "customer:read"],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json<RoleJson>(res)).toMatchObject({
      memberCount: 1,
      permissions: ["invoice:read", "invoice:void", "customer:read"],
    });
    expect(await allowed(viewer, "void", "invoice")).toBe(true);
    const events = (await eventsOf(t, orgId)).filter((e) => e.action.startsWith("role."));
    expect(events.map((e) => e.action)).toEqual(["role.created", "role.updated"]);
    expect(events[1]!.before).toMatchObject({ permissions: ["invoice:read", "customer:read"] });
    expect(events[1]!.after).toMatchObject({ permissions: ["invoice:read", "invoice:void", "customer:read"] });
    expect(events[1]!.targetId).toBe("billing_viewer");
  });

  it("an edit cannot raise the role to or above its editor, nor give it what the editor lacks", async () => {
    const up = await api(t).patch(admin, rolesUrl("/billing_viewer"), { rank: 2 });
    expect(json<ErrorJson>(up).error.code).toBe("rank_not_below_actor");
    const more = await api(t).patch(admin, rolesUrl("/billing_viewer"), { permissions: ["member:delete"] });
    expect(json<ErrorJson>(more).error).toMatchObject({
      code: "permission_denied",
      requiredPermission: "member:delete",
    });
    expect(await allowed(viewer, "delete", "member")).toBe(false);
  });

  it("assigning a custom role follows the hierarchy like a built-in one", async () => {
    // sales cannot change roles; the admin can hand the role out (it holds everything the role holds)
    const target = await addMember(t, orgId, "customer_service");
    const res = await api(t).patch(admin, `/v1/orgs/${orgId}/members/${target.memberId}`, { role: "billing_viewer" });
    expect(res.statusCode, res.body).toBe(200);
    expect(await allowed(target.session, "read", "invoice")).toBe(true);
    expect(await allowed(target.session, "update", "customer")).toBe(false);
    // a role with a permission the admin lacks cannot be granted by the admin
    await api(t).post(owner, rolesUrl(), {
      key: "deleter",
      title: "Deleter",
      rank: 1,
      permissions: ["member:read", "member:delete"],
    });
    const grant = await api(t).patch(admin, `/v1/orgs/${orgId}/members/${target.memberId}`, { role: "deleter" });
    expect(grant.statusCode).toBe(403);
    expect(json<ErrorJson>(grant).error.code).toBe("permission_denied");
    const inv = await api(t).post(admin, `/v1/orgs/${orgId}/invitations`, { email: uniqueEmail(), role: "deleter" });
    expect(inv.statusCode).toBe(403);
    // and nobody may hold the role for the delete below
    await api(t).patch(owner, `/v1/orgs/${orgId}/members/${target.memberId}`, { role: "customer_service" });
  });

  it("deleting a role in use is 409 role_in_use, by members or pending invitations; unused, 204", async () => {
    const inUse = await api(t).del(owner, rolesUrl("/billing_viewer"));
    expect(inUse.statusCode).toBe(409);
    expect(json<ErrorJson>(inUse).error).toMatchObject({ code: "role_in_use", type: "conflict_error" });
    expect(json<ErrorJson>(inUse).error.message).toMatch(/1 member/);

    const invited = await api(t).post(owner, `/v1/orgs/${orgId}/invitations`, {
      email: uniqueEmail(),
      role: "deleter",
    });
    expect(invited.statusCode).toBe(201);
    const pending = await api(t).del(owner, rolesUrl("/deleter"));
    expect(pending.statusCode).toBe(409);
    expect(json<ErrorJson>(pending).error.message).toMatch(/1 pending invitation/);
    await api(t).post(owner, `/v1/orgs/${orgId}/invitations/${json<{ id: string }>(invited).id}/revoke`);
    const gone = await api(t).del(owner, rolesUrl("/deleter"));
    expect(gone.statusCode, gone.body).toBe(204);
    const events = (await eventsOf(t, orgId)).filter((e) => e.action === "role.deleted");
    expect(events.map((e) => e.targetId)).toEqual(["deleter"]);
    // the role is gone from the policy and cannot be assigned any more
    const inv = await api(t).post(owner, `/v1/orgs/${orgId}/invitations`, { email: uniqueEmail(), role: "deleter" });
    expect(json<ErrorJson>(inv).error.code).toBe("unknown_role");
  });
});

describe("other presets", () => {
  it("crm: a custom role with @own grants decides ownership like the preset's sales rep", async () => {
    const crmOwner = await signUp(t.app, uniqueEmail("crm"), "Cara Admin");
    const crmOrg = (await createOrg(t.app, crmOwner, "crm")).id;
    const res = await api(t).post(crmOwner, `/v1/orgs/${crmOrg}/roles`, {
      key: "lead_viewer",
      title: "Lead viewer",
      rank: 0.5,
      permissions: ["lead:read@own"],
    });
    expect(res.statusCode, res.body).toBe(201);
    const m = await addMember(t, crmOrg, "lead_viewer");
    const ask = (ownerId: string) =>
      api(t).post(m.session, "/v1/authorize", { orgId: crmOrg, action: "read", resource: { type: "lead", ownerId } });
    expect(json<{ allowed: boolean }>(await ask(m.userId)).allowed).toBe(true);
    expect(json<{ allowed: boolean; reason: string }>(await ask("someone-else"))).toMatchObject({ allowed: false });
  });
});

describe("compliance report", () => {
  it("lists the month's role-definition changes with permissions before and after", async () => {
    const month = t.clock.now().toISOString().slice(0, 7);
    const res = await api(t).get(owner, `/v1/orgs/${orgId}/reports/compliance?month=${month}`);
    expect(res.statusCode, res.body).toBe(200);
    const changes = json<{
      roleDefinitionChanges: Array<{
        action: string;
        key: string;
        permissionsBefore: string[] | null;
        permissionsAfter: string[] | null;
      }>;
    }>(res).roleDefinitionChanges;
    expect(changes.map((c) => [c.action, c.key])).toEqual([
      ["role.created", "billing_viewer"],
      ["role.updated", "billing_viewer"],
      ["role.created", "deleter"],
      ["role.deleted", "deleter"],
    ]);
    expect(changes[1]).toMatchObject({
      permissionsBefore: ["invoice:read", "customer:read"],
      permissionsAfter: ["invoice:read", "invoice:void", "customer:read"],
    });
  });
});
