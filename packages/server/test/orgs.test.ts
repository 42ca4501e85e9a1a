import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import {
  addMember,
  bearer,
  createClerkRole,
  createOrg,
  json,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "./helpers.ts";

let t: TestApp;
let owner: Session;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app);
});
afterAll(async () => t.close());

const authorize = (s: Session, orgId: string, action: string, resource: Record<string, string>) =>
  t.app.inject({ method: "POST", url: "/v1/authorize", headers: bearer(s), payload: { orgId, action, resource } });

describe("organizations", () => {
  type Me = {
    memberships: Array<{ orgId: string; role: string; roleTitle: string | null; status: string; policy: string }>;
  };
  const me = async (s: Session) => json<Me>(await t.app.inject({ url: "/v1/me", headers: bearer(s) })).memberships;

  it.each([
    ["saas", "owner", "Owner"],
    ["billing", "owner", "Owner"],
    ["crm", "admin", "Admin"],
    ["departments", "super_admin", "Super admin"],
    ["operations", "owner", "Owner"],
  ])("the creator of a %s org gets its top role (%s), listed by GET /v1/me", async (policy, role, roleTitle) => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, policy);
    expect(org.role).toBe(role);
    expect(await me(s)).toEqual([
      expect.objectContaining({ orgId: org.id, role, roleTitle, status: "active", policy }),
    ]);
  });

  it("GET /v1/me gives each membership its role's title: the preset's, or the org's own for a custom role", async () => {
    const ops = await createOrg(t.app, owner, "operations");
    const reader = await addMember(t, ops.id, "read_only");
    // The preset's title, not one made from the key ("Read only").
    expect(await me(reader.session)).toEqual([expect.objectContaining({ role: "read_only", roleTitle: "Read-only" })]);

    const billing = await createOrg(t.app, owner, "billing");
    const roles = `/v1/orgs/${billing.id}/roles`;
    await createClerkRole(t.app, owner, billing.id);
    const clerk = await addMember(t, billing.id, "ar_clerk");
    expect(await me(clerk.session)).toEqual([
      expect.objectContaining({ orgId: billing.id, role: "ar_clerk", roleTitle: "Receivables clerk" }),
    ]);
    // A new title shows on the next request.
    const renamed = await t.app.inject({
      method: "PATCH",
      url: `${roles}/ar_clerk`,
      headers: bearer(owner),
      payload: { title: "Accounts receivable clerk" },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect((await me(clerk.session))[0]!.roleTitle).toBe("Accounts receivable clerk");
    // A role the org no longer defines (written straight into the database) has no title.
    await t.db.owner((db) => db.execute(sql`UPDATE members SET role = 'gone_role' WHERE id = ${clerk.memberId}`));
    await t.db.cacheSync();
    expect((await me(clerk.session))[0]).toMatchObject({ role: "gone_role", roleTitle: null });
  });

  it("reads, renames (audited) and hides the org from strangers", async () => {
    const org = await createOrg(t.app, owner, "saas", "Before");
    expect(json<{ name: string }>(await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(owner) })).name).toBe(
      "Before",
    );
    const patched = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}`,
      headers: bearer(owner),
      payload: { name: "After" },
    });
    expect(json<{ name: string }>(patched).name).toBe("After");
    const events = await t.db.tx({ orgId: org.id }, (tx) =>
      tx.execute(sql`SELECT action, before::jsonb AS before, after::jsonb AS after FROM audit_events ORDER BY seq`),
    );
    const rows = (events as { rows: Array<{ action: string; before: unknown; after: unknown }> }).rows;
    expect(rows.map((r) => r.action)).toEqual(["organization.created", "organization.updated"]);
    expect(rows[1]).toMatchObject({ before: { name: "Before" }, after: { name: "After" } });
    const stranger = await signUp(t.app);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(stranger) })).statusCode).toBe(404);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(stranger) })).statusCode).toBe(404);
  });

  it("a plain member cannot rename the org (403 with the permission needed)", async () => {
    const org = await createOrg(t.app, owner, "saas");
    const m = await addMember(t, org.id, "member");
    const res = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}`,
      headers: bearer(m.session),
      payload: { name: "Mine now" },
    });
    expect(res.statusCode).toBe(403);
    expect(json<{ error: { type: string; requiredPermission: string } }>(res).error).toMatchObject({
      type: "authorization_error",
      requiredPermission: "organization:update",
    });
  });

  it("an inactive member is refused with member_inactive", async () => {
    const org = await createOrg(t.app, owner, "saas");
    const m = await addMember(t, org.id, "member", { status: "inactive" });
    const res = await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(m.session) });
    expect(res.statusCode).toBe(403);
    expect(json<{ error: { code: string } }>(res).error.code).toBe("member_inactive");
  });

  it("serves the policy with the roles the viewer may assign", async () => {
    const org = await createOrg(t.app, owner, "operations");
    const body = json<{
      policy: { name: string; roles: Array<{ name: string }>; topRole: string };
      viewer: { role: string; assignableRoles: string[] };
    }>(await t.app.inject({ url: `/v1/orgs/${org.id}/policy`, headers: bearer(owner) }));
    expect(body.policy.name).toBe("operations");
    expect(body.policy.roles.map((r) => r.name)).toEqual(["owner", "admin", "staff", "read_only"]);
    expect(body.viewer.assignableRoles).toEqual(expect.arrayContaining(["admin", "staff", "read_only"]));
    const admin = await addMember(t, org.id, "admin");
    const adminView = json<{ viewer: { assignableRoles: string[] } }>(
      await t.app.inject({ url: `/v1/orgs/${org.id}/policy`, headers: bearer(admin.session) }),
    );
    expect(adminView.viewer.assignableRoles).not.toContain("owner");
  });
});

describe("members list (first version)", () => {
  it("filters, sorts and pages with a cursor and a total", async () => {
    const org = await createOrg(t.app, owner, "operations");
    for (const role of ["admin", "staff", "staff", "read_only", "staff"]) await addMember(t, org.id, role);
    await addMember(t, org.id, "staff", { status: "inactive" });
    const all = json<{ data: Array<{ role: string; status: string }>; total: number }>(
      await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(owner) }),
    );
    expect(all.total).toBe(7);
    const staff = json<{ data: Array<{ role: string }>; total: number }>(
      await t.app.inject({ url: `/v1/orgs/${org.id}/members?role=staff&status=active`, headers: bearer(owner) }),
    );
    expect(staff.total).toBe(3);
    expect(staff.data.every((m) => m.role === "staff")).toBe(true);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/v1/orgs/${org.id}/members?sort=-email&limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const page = json<{ data: Array<{ email: string }>; nextCursor: string | null }>(
        await t.app.inject({ url, headers: bearer(owner) }),
      );
      seen.push(...page.data.map((m) => m.email));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual([...seen].sort().reverse());
    expect(new Set(seen).size).toBe(7);
    const bad = await t.app.inject({ url: `/v1/orgs/${org.id}/members?sort=password`, headers: bearer(owner) });
    expect(bad.statusCode).toBe(400);
    expect(json<{ error: { param: string } }>(bad).error.param).toBe("sort");
  });
});

describe("POST /v1/authorize (host-app decisions)", () => {
  it("billing: sales create plans and export invoices but delete nothing; customer service voids invoices", async () => {
    const org = await createOrg(t.app, owner, "billing");
    const sales = await addMember(t, org.id, "sales");
    const cs = await addMember(t, org.id, "customer_service");
    const decide = async (s: Session, action: string, type: string) =>
      json<{ allowed: boolean; requiredPermission: string }>(await authorize(s, org.id, action, { type }));
    expect(await decide(sales.session, "create", "plan")).toMatchObject({
      allowed: true,
      requiredPermission: "plan:create",
    });
    expect((await decide(sales.session, "export", "invoice")).allowed).toBe(true);
    expect((await decide(sales.session, "delete", "plan")).allowed).toBe(false);
    expect((await decide(sales.session, "update", "product_settings")).allowed).toBe(false);
    expect((await decide(cs.session, "void", "invoice")).allowed).toBe(true);
    expect((await decide(cs.session, "cancel", "invoice")).allowed).toBe(true);
    expect((await decide(cs.session, "create", "plan")).allowed).toBe(false);
  });

  it("crm: a sales rep edits only their own leads", async () => {
    const org = await createOrg(t.app, owner, "crm");
    const rep = await addMember(t, org.id, "sales_rep");
    const mine = json<{ allowed: boolean }>(
      await authorize(rep.session, org.id, "update", { type: "lead", ownerId: rep.userId }),
    );
    const theirs = json<{ allowed: boolean; reason: string }>(
      await authorize(rep.session, org.id, "update", { type: "lead", ownerId: owner.user.id }),
    );
    expect(mine.allowed).toBe(true);
    expect(theirs.allowed).toBe(false);
    expect(theirs.reason.length).toBeGreaterThan(10);
  });

  it("operations: staff read orders only in granted stores", async () => {
    const org = await createOrg(t.app, owner, "operations");
    const staff = await addMember(t, org.id, "staff", { storeIds: ["retail"] });
    expect(
      json<{ allowed: boolean }>(await authorize(staff.session, org.id, "read", { type: "order", storeId: "retail" }))
        .allowed,
    ).toBe(true);
    expect(
      json<{ allowed: boolean }>(
        await authorize(staff.session, org.id, "read", { type: "order", storeId: "wholesale" }),
      ).allowed,
    ).toBe(false);
  });

  it("answers 404 for an org the caller does not belong to", async () => {
    const org = await createOrg(t.app, owner, "billing");
    const stranger = await signUp(t.app);
    expect((await authorize(stranger, org.id, "create", { type: "plan" })).statusCode).toBe(404);
  });
});

describe("platform roles", () => {
  it("list tenants but read no org's members", async () => {
    const staff = await signUp(t.app);
    await t.db.owner((db) => db.execute(sql`UPDATE users SET platform_role = 'developer' WHERE id = ${staff.user.id}`));
    const org = await createOrg(t.app, owner, "crm", "Tenant X");
    await addMember(t, org.id, "sales_rep");
    const list = json<{ data: Array<{ id: string; memberCount: number }> }>(
      await t.app.inject({ url: "/v1/platform/orgs?limit=200", headers: bearer(staff) }),
    );
    expect(list.data.find((o) => o.id === org.id)?.memberCount).toBe(2);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(staff) })).statusCode).toBe(404);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(staff) })).statusCode).toBe(404);
  });
});

describe("DELETE /v1/orgs/{orgId}", () => {
  it("only the top role deletes; afterwards the org is gone for everyone and users keep their accounts", async () => {
    const org = await createOrg(t.app, owner, "operations", "Doomed");
    const admin = await addMember(t, org.id, "admin");
    const denied = await t.app.inject({ method: "DELETE", url: `/v1/orgs/${org.id}`, headers: bearer(admin.session) });
    expect(denied.statusCode).toBe(403);
    expect(json<{ error: { requiredPermission: string } }>(denied).error.requiredPermission).toBe(
      "organization:delete",
    );
    expect(
      (await t.app.inject({ method: "DELETE", url: `/v1/orgs/${org.id}`, headers: bearer(owner) })).statusCode,
    ).toBe(204);
    expect((await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(owner) })).statusCode).toBe(404);
    const me = json<{ memberships: Array<{ orgId: string }> }>(
      await t.app.inject({ url: "/v1/me", headers: bearer(admin.session) }),
    );
    expect(me.memberships.map((m) => m.orgId)).not.toContain(org.id);
    const left = await t.db.owner((db) =>
      db.execute(sql`SELECT count(*)::int AS n FROM audit_events WHERE org_id = ${org.id}`),
    );
    expect((left as { rows: Array<{ n: number }> }).rows[0]?.n).toBe(0);
  });
});
