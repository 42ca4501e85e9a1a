import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, bearer, createOrg, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";
import { api, eventsOf, signInAgain, type ErrorJson } from "./members.helpers.ts";
import { purgeRemovedMembers } from "../src/members/purge.ts";

let t: TestApp;
let owner: Session;
let orgId: string;
let ownerMemberId: string;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app);
  const org = await createOrg(t.app, owner, "operations");
  orgId = org.id;
  ownerMemberId = org.memberId;
});
afterAll(async () => t.close());

type MemberJson = {
  id: string;
  role: string;
  status: string;
  name: string;
  storeIds: string[];
  hiddenModules: string[];
  removedAt: string | null;
  lastLoginAt: string | null;
  department: string | null;
};
const url = (memberId = "") => `/v1/orgs/${orgId}/members${memberId ? `/${memberId}` : ""}`;

describe("member detail", () => {
  it("answers the member with lastLoginAt and status", async () => {
    const m = await addMember(t, orgId, "staff", { storeIds: ["retail"] });
    const res = await api(t).get(owner, url(m.memberId));
    expect(res.statusCode).toBe(200);
    const body = json<MemberJson>(res);
    expect(body).toMatchObject({ id: m.memberId, role: "staff", status: "active", storeIds: ["retail"] });
    expect(body.lastLoginAt).toBe(t.clock.now().toISOString());
  });

  it("answers 404 for another org's member id", async () => {
    const other = await signUp(t.app);
    const org2 = await createOrg(t.app, other, "saas");
    const res = await api(t).get(owner, url(org2.memberId));
    expect(res.statusCode).toBe(404);
    expect(json<ErrorJson>(res).error.type).toBe("not_found_error");
  });
});

describe("PATCH", () => {
  it("records one audited event per changed field, with before and after", async () => {
    const m = await addMember(t, orgId, "read_only", { storeIds: ["retail"] });
    const res = await api(t).patch(owner, url(m.memberId), {
      role: "staff",
      storeIds: ["retail", "wholesale"],
      hiddenModules: ["vendors"],
      name: "Renamed Person",
    });
    expect(res.statusCode).toBe(200);
    expect(json<MemberJson>(res)).toMatchObject({
      role: "staff",
      storeIds: ["retail", "wholesale"],
      hiddenModules: ["vendors"],
      name: "Renamed Person",
    });
    const events = (await eventsOf(t, orgId)).filter((e) => e.targetId === m.memberId);
    expect(events.map((e) => e.action)).toEqual([
      "team.role_changed",
      "team.store_access_changed",
      "team.module_visibility_changed",
      "team.name_changed",
    ]);
    expect(events[0]).toMatchObject({
      actorId: owner.user.id,
      entityType: "team",
      before: { role: "read_only" },
      after: { role: "staff" },
    });
    expect(events[1]).toMatchObject({ before: { storeIds: ["retail"] }, after: { storeIds: ["retail", "wholesale"] } });
  });

  it("records nothing when nothing changes", async () => {
    const m = await addMember(t, orgId, "staff");
    const before = (await eventsOf(t, orgId)).length;
    expect((await api(t).patch(owner, url(m.memberId), { role: "staff", storeIds: [] })).statusCode).toBe(200);
    expect((await eventsOf(t, orgId)).length).toBe(before);
  });

  it("refuses an unknown role with 422 unknown_role", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).patch(owner, url(m.memberId), { role: "emperor" });
    expect(res.statusCode).toBe(422);
    expect(json<ErrorJson>(res).error).toMatchObject({ code: "unknown_role", param: "role" });
  });

  it("refuses an unknown module with 422 invalid_value naming hiddenModules", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).patch(owner, url(m.memberId), { hiddenModules: ["spaceships"] });
    expect(res.statusCode).toBe(422);
    expect(json<ErrorJson>(res).error).toMatchObject({ code: "invalid_value", param: "hiddenModules" });
  });

  it("refuses a department in a policy without departments, naming the field", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).patch(owner, url(m.memberId), { department: "sales" });
    expect(res.statusCode).toBe(422);
    expect(json<ErrorJson>(res).error.param).toBe("department");
  });

  it("is all or nothing: a refused field leaves the others unchanged", async () => {
    const admin = await addMember(t, orgId, "admin");
    const m = await addMember(t, orgId, "staff");
    // Admins cannot grant owner; the store change in the same request must not be applied either.
    const res = await api(t).patch(admin.session, url(m.memberId), { storeIds: ["retail"], role: "owner" });
    expect(res.statusCode).toBe(403);
    expect(json<ErrorJson>(res).error).toMatchObject({
      type: "authorization_error",
      code: "permission_denied",
      requiredPermission: "owner:promote",
    });
    expect(json<MemberJson>(await api(t).get(owner, url(m.memberId))).storeIds).toEqual([]);
  });

  it("applies a role change on the member's next request without a new sign-in", async () => {
    const m = await addMember(t, orgId, "staff");
    expect((await api(t).get(m.session, `/v1/orgs/${orgId}/invitations`)).statusCode).toBe(403);
    await api(t).patch(owner, url(m.memberId), { role: "admin" });
    expect((await api(t).get(m.session, `/v1/orgs/${orgId}/invitations`)).statusCode).toBe(200);
  });

  it("deactivation ends sessions at once and reactivation restores sign-in", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).patch(owner, url(m.memberId), { status: "inactive" });
    expect(res.statusCode).toBe(200);
    expect(json<MemberJson>(res).status).toBe("inactive");
    expect((await api(t).get(m.session, "/v1/me")).statusCode).toBe(401);
    const signIn = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: m.session.user.email, password: "correct horse battery staple" },
    });
    expect(signIn.statusCode).toBe(403);
    expect((await api(t).patch(owner, url(m.memberId), { status: "active" })).statusCode).toBe(200);
    const again = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: m.session.user.email, password: "correct horse battery staple" },
    });
    expect(again.statusCode).toBe(200);
    const actions = (await eventsOf(t, orgId)).filter((e) => e.targetId === m.memberId).map((e) => e.action);
    expect(actions).toEqual(["team.deactivated", "team.reactivated"]);
  });

  it("secondaryEmail cannot be changed", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).patch(owner, url(m.memberId), { secondaryEmail: "me@gmail.com" });
    expect(res.statusCode).toBe(422);
    expect(json<ErrorJson>(res).error.param).toBe("secondaryEmail");
  });

  it("status removed is refused with a pointer to DELETE", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).patch(owner, url(m.memberId), { status: "removed" });
    expect(res.statusCode).toBe(422);
    expect(json<ErrorJson>(res).error.message).toContain("DELETE");
  });
});

describe("last top role", () => {
  it("the only owner can neither demote, deactivate nor remove themselves (409 last_top_role)", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "saas");
    const me = `/v1/orgs/${org.id}/members/${org.memberId}`;
    for (const res of [
      await api(t).patch(s, me, { role: "admin" }),
      await api(t).patch(s, me, { status: "inactive" }),
      await api(t).del(s, me),
    ]) {
      expect(res.statusCode).toBe(409);
      expect(json<ErrorJson>(res).error).toMatchObject({ type: "conflict_error", code: "last_top_role" });
      expect(json<ErrorJson>(res).error.message).toMatch(/last active owner.*Make another member owner first/);
    }
    expect(json<MemberJson>(await api(t).get(s, me))).toMatchObject({ role: "owner", status: "active" });
  });

  it("an admin cannot demote or remove an owner", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "saas");
    const admin = await addMember(t, org.id, "admin");
    const res = await api(t).del(admin.session, `/v1/orgs/${org.id}/members/${org.memberId}`);
    expect(res.statusCode).toBe(403);
    expect(json<ErrorJson>(res).error.message).toMatch(/owner/i);
  });

  it("two concurrent demotions of the last two owners: exactly one succeeds", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "saas");
    const b = await addMember(t, org.id, "owner");
    const [r1, r2] = await Promise.all([
      api(t).patch(s, `/v1/orgs/${org.id}/members/${b.memberId}`, { role: "admin" }),
      api(t).patch(b.session, `/v1/orgs/${org.id}/members/${org.memberId}`, { role: "admin" }),
    ]);
    // The loser is refused either by the last-owner guard (409) or, when the winner committed before the
    // loser's request was bound, because it is no longer an owner (403). Never both succeed.
    expect([r1.statusCode, r2.statusCode].filter((c) => c === 200)).toHaveLength(1);
    const loser = r1.statusCode === 200 ? r2 : r1;
    expect([403, 409]).toContain(loser.statusCode);
    const owners = json<{ data: MemberJson[] }>(
      await api(t).get(r1.statusCode === 200 ? s : b.session, `/v1/orgs/${org.id}/members?role=owner`),
    );
    expect(owners.data).toHaveLength(1);
  });
});

describe("removal and restore", () => {
  it("ends sessions before the response, keeps the record as a former member, restores within 30 days", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await api(t).del(owner, url(m.memberId));
    expect(res.statusCode).toBe(200);
    expect(json<MemberJson>(res)).toMatchObject({ status: "removed", removedAt: t.clock.now().toISOString() });
    expect((await api(t).get(m.session, "/v1/me")).statusCode).toBe(401);
    const list = json<{ data: MemberJson[] }>(await api(t).get(owner, `${url()}?status=removed`));
    expect(list.data.map((d) => d.id)).toContain(m.memberId);
    const dflt = json<{ data: MemberJson[] }>(await api(t).get(owner, `${url()}?limit=200`));
    expect(dflt.data.map((d) => d.id)).not.toContain(m.memberId);
    t.clock.advance(29 * 86_400_000);
    owner = await signInAgain(t, owner.user.email);
    const restored = await api(t).post(owner, `${url(m.memberId)}/restore`);
    expect(restored.statusCode).toBe(200);
    expect(json<MemberJson>(restored)).toMatchObject({ status: "active", removedAt: null, role: "staff" });
    const actions = (await eventsOf(t, orgId)).filter((e) => e.targetId === m.memberId).map((e) => e.action);
    expect(actions).toEqual(["team.removed", "team.restored"]);
  });

  it("answers 409 restore_window_passed after 30 days, and the purge job deletes the membership", async () => {
    const m = await addMember(t, orgId, "staff");
    expect((await api(t).del(owner, url(m.memberId))).statusCode).toBe(200);
    t.clock.advance(30 * 86_400_000 + 1000);
    owner = await signInAgain(t, owner.user.email);
    const res = await api(t).post(owner, `${url(m.memberId)}/restore`);
    expect(res.statusCode).toBe(409);
    expect(json<ErrorJson>(res).error.code).toBe("restore_window_passed");
    expect(await purgeRemovedMembers(t.deps)).toBeGreaterThanOrEqual(1);
    expect((await api(t).get(owner, url(m.memberId))).statusCode).toBe(404);
    const purged = (await eventsOf(t, orgId)).filter((e) => e.targetId === m.memberId).map((e) => e.action);
    expect(purged).toEqual(["team.removed", "team.purged"]);
  });

  it("a second DELETE answers 409 and restore of an active member answers 409", async () => {
    const m = await addMember(t, orgId, "staff");
    expect((await api(t).post(owner, `${url(m.memberId)}/restore`)).statusCode).toBe(409);
    await api(t).del(owner, url(m.memberId));
    expect((await api(t).del(owner, url(m.memberId))).statusCode).toBe(409);
  });

  it("nobody removes themselves", async () => {
    const res = await api(t).del(owner, url(ownerMemberId));
    expect([403, 409]).toContain(res.statusCode);
  });
});

describe("list", () => {
  it("filters by role, status, store and text, sorts by -lastLoginAt, pages with a cursor and a total", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "operations");
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000);
      await addMember(t, org.id, i % 2 ? "staff" : "read_only", { storeIds: i < 2 ? ["retail"] : ["wholesale"] });
    }
    const byRole = json<{ data: MemberJson[]; total: number }>(
      await api(t).get(s, `/v1/orgs/${org.id}/members?role=staff`),
    );
    expect(byRole.total).toBe(2);
    const byStore = json<{ total: number }>(await api(t).get(s, `/v1/orgs/${org.id}/members?store=retail`));
    expect(byStore.total).toBe(2);
    const p1 = json<{ data: MemberJson[]; nextCursor: string; total: number }>(
      await api(t).get(s, `/v1/orgs/${org.id}/members?sort=-lastLoginAt&limit=4`),
    );
    expect(p1.total).toBe(6);
    expect(p1.data).toHaveLength(4);
    const p2 = json<{ data: MemberJson[]; nextCursor: string | null }>(
      await api(t).get(s, `/v1/orgs/${org.id}/members?sort=-lastLoginAt&limit=4&cursor=${p1.nextCursor}`),
    );
    expect(p2.data).toHaveLength(2);
    expect(p2.nextCursor).toBeNull();
    const times = [...p1.data, ...p2.data].map((d) => d.lastLoginAt ?? "");
    expect(times).toEqual([...times].sort().reverse());
    const q = json<{ total: number }>(
      await api(t).get(s, `/v1/orgs/${org.id}/members?q=${encodeURIComponent(s.user.email)}`),
    );
    expect(q.total).toBe(1);
  });
});

describe("admin password reset", () => {
  it("is accepted with 202 and never returns a token", async () => {
    const m = await addMember(t, orgId, "staff");
    const res = await t.app.inject({
      method: "POST",
      url: `${url(m.memberId)}/password-reset`,
      headers: bearer(owner),
    });
    expect(res.statusCode).toBe(202);
    expect(res.body).not.toMatch(/rp_/);
    const ev = (await eventsOf(t, orgId)).filter((e) => e.targetId === m.memberId);
    expect(ev.map((e) => e.action)).toEqual(["team.password_reset_requested"]);
    expect(JSON.stringify(ev[0])).not.toMatch(/rp_/);
  });
});

describe("bad input", () => {
  it("answers 4xx with the error shape, never 500, across members, invitations, password reset and the mailbox", async () => {
    const s = await signUp(t.app);
    const org = await createOrg(t.app, s, "departments");
    const o = `/v1/orgs/${org.id}`;
    const b64 = (v: string) => Buffer.from(v).toString("base64url");
    const NUL = encodeURIComponent("a\u0000b");
    const requests = [
      api(t).get(s, `${o}/members?cursor=%7B%7D`),
      api(t).get(s, `${o}/members?cursor=${b64(JSON.stringify({ v: 5, id: 1 }))}`),
      api(t).get(s, `${o}/members?q=${NUL}`),
      api(t).get(s, `${o}/members?store=${NUL}`),
      api(t).get(s, `${o}/members/export?format=pdf`),
      api(t).get(s, `${o}/members/export?q=${NUL}`),
      api(t).patch(s, `${o}/members/${org.memberId}`, { name: "a\u0000b" }),
      api(t).patch(s, `${o}/members/${org.memberId}`, { department: "moon" }),
      api(t).get(s, `${o}/members/${encodeURIComponent("mem_../../x")}`),
      api(t).get(s, `${o}/invitations?cursor=${b64("99999999999999999999.abc")}`),
      api(t).get(s, `${o}/invitations?cursor=${b64("not a cursor")}`),
      api(t).post(s, `${o}/invitations`, { email: "jöhn@example.com" }),
      api(t).post(s, `${o}/invitations`, { email: `${"a".repeat(250)}@example.com` }),
      api(t).post(s, `${o}/invitations`, { email: "a@example.com", department: "a\u0000b" }),
      api(t).post(s, `${o}/invitations`, { email: "a@example.com", storeIds: ["retail"] }),
      api(t).get(null, `/v1/invitations/${encodeURIComponent("ri_\u0000")}`),
      api(t).post(null, `/v1/invitations/ri_${"a".repeat(43)}/accept`, {
        name: "a\u0000b",
        password: "a long enough passphrase",
      }),
      api(t).post(null, "/v1/auth/password/forgot", { email: "a\u0000@example.com" }),
      api(t).post(null, "/v1/auth/password/forgot", {}),
      api(t).post(null, "/v1/auth/password/reset", { token: "rp_x", password: "x".repeat(600) }),
      api(t).get(s, `/v1/dev/mailbox?to=${NUL}`),
    ];
    for (const res of await Promise.all(requests)) {
      expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, res.body).toBeLessThan(500);
      const err = json<ErrorJson>(res).error;
      expect(err.type).toMatch(/^(invalid_request_error|not_found_error|authorization_error)$/);
      expect(err.message.length).toBeGreaterThan(0);
    }
  });
});
