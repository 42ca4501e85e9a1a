// One `describe` per seed: every team-management statement of seeds 000, 001, 003 and 004, through the HTTP API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import ExcelJS from "exceljs";
import { addMember, createOrg, json, signUp, testApp, uniqueEmail, type Session, type TestApp } from "./helpers.ts";
import {
  api,
  deliverMail,
  eventsOf,
  inviteAndAccept,
  lastMailTo,
  signInAgain,
  tokenIn,
  type ErrorJson,
} from "./members.helpers.ts";
import { purgeRemovedMembers } from "../src/members/purge.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

type MemberJson = {
  id: string;
  userId: string;
  email: string;
  name: string;
  secondaryEmail: string | null;
  role: string;
  status: string;
  department: string | null;
  storeIds: string[];
  lastLoginAt: string | null;
  createdAt: string;
  removedAt: string | null;
};
type InvitationJson = {
  id: string;
  email: string;
  role: string;
  status: string;
  department: string | null;
  createdAt: string;
  sentAt: string;
  expiresAt: string;
  invitedBy: string | null;
};
type AuditJson = {
  action: string;
  actorId: string | null;
  targetId: string | null;
  entityType: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
};
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PASSWORD = "correct horse battery staple";

const signIn = (email: string, password = PASSWORD) =>
  t.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: { email, password } });

async function mintKey(s: Session, orgId: string): Promise<string> {
  const res = await api(t).post(s, `/v1/orgs/${orgId}/api-keys`, { name: "integration" });
  if (res.statusCode !== 201) throw new Error(`mint failed: ${res.statusCode} ${res.body}`);
  return json<{ secret: string }>(res).secret;
}

describe("seed 000 (billing): owner-only deletion, inactive state, last login, export", () => {
  let owner: Session;
  let orgId: string;
  const members = (id = "") => `/v1/orgs/${orgId}/members${id ? `/${id}` : ""}`;
  beforeAll(async () => {
    owner = await signUp(t.app, uniqueEmail("pelcro-owner"), "Account Owner");
    orgId = (await createOrg(t.app, owner, "billing", "Pelcro Demo")).id;
  });

  it("a non-owner deleting a collaborator gets 403 authorization_error with requiredPermission member:delete; the owner can", async () => {
    const admin = await addMember(t, orgId, "admin");
    const sales = await addMember(t, orgId, "sales");
    const csr = await addMember(t, orgId, "customer_service");
    const victim = await addMember(t, orgId, "customer_service");
    for (const actor of [admin, sales, csr]) {
      const res = await api(t).del(actor.session, members(victim.memberId));
      expect(res.statusCode).toBe(403);
      const err = json<ErrorJson>(res).error;
      expect(err).toMatchObject({
        type: "authorization_error",
        code: "permission_denied",
        requiredPermission: "member:delete",
      });
      expect(err.message.length).toBeGreaterThan(10);
      expect(err.message).not.toMatch(/undefined|null|\[object/);
    }
    expect(json<MemberJson>(await api(t).get(owner, members(victim.memberId))).status).toBe("active");
    const ok = await api(t).del(owner, members(victim.memberId));
    expect(ok.statusCode).toBe(200);
    expect(json<MemberJson>(ok).status).toBe("removed");
  });

  it("inactive: sign-in blocked and sessions ended, record and API keys kept; reactivation restores both", async () => {
    const admin = await addMember(t, orgId, "admin");
    const key = await mintKey(admin.session, orgId);
    expect((await api(t).get(key, `/v1/orgs/${orgId}`)).statusCode).toBe(200);

    const off = await api(t).patch(owner, members(admin.memberId), { status: "inactive" });
    expect(off.statusCode).toBe(200);
    expect(json<MemberJson>(off).status).toBe("inactive");
    // The open session ends at once, and a new sign-in is refused.
    expect((await api(t).get(admin.session, `/v1/orgs/${orgId}`)).statusCode).toBe(401);
    const refused = await signIn(admin.session.user.email);
    expect(refused.statusCode).toBe(403);
    expect(json<ErrorJson>(refused).error.code).toBe("member_inactive");
    // The record is kept (detail and list with status=inactive)...
    const detail = json<MemberJson>(await api(t).get(owner, members(admin.memberId)));
    expect(detail).toMatchObject({ status: "inactive", role: "admin", email: admin.session.user.email });
    const inactive = json<{ data: MemberJson[] }>(await api(t).get(owner, `${members()}?status=inactive`));
    expect(inactive.data.map((m) => m.id)).toContain(admin.memberId);
    // ...and so is the API key: integrations keep working by default (the seed's "valid at the key level").
    expect((await api(t).get(key, `/v1/orgs/${orgId}`)).statusCode).toBe(200);
    const keys = json<{ data: Array<{ revokedAt: string | null }> }>(
      await api(t).get(owner, `/v1/orgs/${orgId}/api-keys`),
    );
    expect(keys.data.some((k) => k.revokedAt === null)).toBe(true);

    const on = await api(t).patch(owner, members(admin.memberId), { status: "active" });
    expect(on.statusCode).toBe(200);
    expect((await signIn(admin.session.user.email)).statusCode).toBe(200);
    expect((await api(t).get(key, `/v1/orgs/${orgId}`)).statusCode).toBe(200);
    const actions = (await eventsOf(t, orgId)).filter((e) => e.targetId === admin.memberId).map((e) => e.action);
    expect(actions).toEqual(["team.deactivated", "team.reactivated"]);
  });

  it("an org that pauses suspended members' keys gets 403 api_key_paused while inactive, and the key back after reactivation", async () => {
    const admin = await addMember(t, orgId, "admin");
    const key = await mintKey(admin.session, orgId);
    expect(
      (await api(t).patch(owner, `/v1/orgs/${orgId}/security`, { suspendedMemberApiKeys: "paused" })).statusCode,
    ).toBe(200);
    await api(t).patch(owner, members(admin.memberId), { status: "inactive" });
    const paused = await api(t).get(key, `/v1/orgs/${orgId}`);
    expect(paused.statusCode).toBe(403);
    expect(json<ErrorJson>(paused).error.code).toBe("api_key_paused");
    await api(t).patch(owner, members(admin.memberId), { status: "active" });
    expect((await api(t).get(key, `/v1/orgs/${orgId}`)).statusCode).toBe(200);
    await api(t).patch(owner, `/v1/orgs/${orgId}/security`, { suspendedMemberApiKeys: "active" });
  });

  it("lastLoginAt (ISO 8601 UTC, start of the most recent session) is in the list and the detail", async () => {
    const sales = await addMember(t, orgId, "sales");
    const first = t.clock.now().toISOString();
    expect(json<MemberJson>(await api(t).get(owner, members(sales.memberId))).lastLoginAt).toBe(first);
    t.clock.advance(HOUR);
    await signInAgain(t, sales.session.user.email);
    const second = t.clock.now().toISOString();
    // Requests made with a session do not move it: it is the session start.
    t.clock.advance(60_000);
    await api(t).get(sales.session, `/v1/orgs/${orgId}`);
    owner = await signInAgain(t, owner.user.email);
    const detail = json<MemberJson>(await api(t).get(owner, members(sales.memberId)));
    expect(detail.lastLoginAt).toBe(second);
    expect(detail.lastLoginAt).toMatch(ISO_UTC);
    const list = json<{ data: MemberJson[] }>(await api(t).get(owner, `${members()}?limit=200&sort=-lastLoginAt`));
    const row = list.data.find((m) => m.id === sales.memberId)!;
    expect(row.lastLoginAt).toBe(second);
    const times = list.data.map((m) => m.lastLoginAt).filter((v): v is string => v !== null);
    expect(times).toEqual([...times].sort().reverse());
  });

  it("export (CSV and XLSX) has name, email, role, status, last login and creation date, for this org only", async () => {
    const inactive = await addMember(t, orgId, "customer_service", { email: uniqueEmail("=cmd") });
    await api(t).patch(owner, members(inactive.memberId), { status: "inactive" });
    const stranger = await signUp(t.app, uniqueEmail("other-org"));
    await createOrg(t.app, stranger, "billing", "Someone Else");

    const csv = await api(t).get(owner, `${members()}/export?format=csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
    const rows = parse(csv.body, { columns: true }) as Array<Record<string, string>>;
    for (const col of ["name", "email", "role", "status", "lastLoginAt", "createdAt"])
      expect(Object.keys(rows[0]!)).toContain(col);
    const listed = json<{ total: number }>(await api(t).get(owner, `${members()}?limit=1`)).total;
    expect(rows).toHaveLength(listed);
    const mine = rows.find((r) => (r.email ?? "").endsWith(inactive.session.user.email))!;
    expect(mine).toMatchObject({ role: "customer_service", status: "inactive" });
    // Formula-safe: the address starting with "=" is neutralised.
    expect(mine.email).toBe(`'${inactive.session.user.email}`);
    expect(mine.createdAt).toMatch(ISO_UTC);
    expect(rows.some((r) => r.email === stranger.user.email)).toBe(false);

    const xlsx = await api(t).get(owner, `${members()}/export?format=xlsx`);
    expect(xlsx.statusCode).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.rawPayload as unknown as ExcelJS.Buffer);
    const sheet = wb.worksheets[0]!;
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    expect(header.slice(0, 6)).toEqual(["name", "email", "role", "status", "lastLoginAt", "createdAt"]);
    expect(sheet.actualRowCount).toBe(listed + 1);
  });

  it("the collaborator list sorts on every column both ways and filters by role, status and text; export takes the same filters", async () => {
    const list = async (query: string) => {
      const res = await api(t).get(
        owner,
        `${members()}?limit=200&${query.includes("status=") ? "" : "status=all&"}${query}`,
      );
      expect(res.statusCode, query).toBe(200);
      return json<{ data: MemberJson[]; total: number }>(res);
    };
    // Emails are compared on their first letter only: punctuation orders differently under the C and the
    // en_US collations, and the database's collation is the operator's choice.
    const key: Record<string, (m: MemberJson) => string | null> = {
      name: (m) => m.name.toLowerCase(),
      email: (m) => (/^[a-z]/i.test(m.email) ? m.email[0]!.toLowerCase() : null),
      role: (m) => m.role,
      status: (m) => m.status,
      lastLoginAt: (m) => m.lastLoginAt,
      createdAt: (m) => m.createdAt,
    };
    for (const [field, get] of Object.entries(key)) {
      for (const desc of [false, true]) {
        const values = (await list(`sort=${desc ? "-" : ""}${field}`)).data.map(get);
        const present = values.filter((v): v is string => v !== null);
        const sorted = [...present].sort();
        expect(present, `${field} ${desc ? "desc" : "asc"}`).toEqual(desc ? sorted.reverse() : sorted);
        // Members who never signed in come last either way.
        if (field === "lastLoginAt") expect(values.slice(present.length).every((v) => v === null)).toBe(true);
      }
    }
    const sales = await list("role=sales");
    expect(sales.total).toBeGreaterThan(0);
    expect(sales.data.every((m) => m.role === "sales")).toBe(true);
    expect((await list("status=inactive")).data.every((m) => m.status === "inactive")).toBe(true);
    const text = await list(`q=${encodeURIComponent("Account Owner")}`);
    expect(text.data.map((m) => m.email)).toEqual([owner.user.email]);
    const bad = await api(t).get(owner, `${members()}?sort=password`);
    expect(bad.statusCode).toBe(400);
    expect(json<ErrorJson>(bad).error).toMatchObject({ type: "invalid_request_error", param: "sort" });

    const csv = parse((await api(t).get(owner, `${members()}/export?format=csv&role=sales`)).body, {
      columns: true,
    }) as Array<Record<string, string>>;
    expect(csv).toHaveLength(sales.total);
    expect(csv.every((r) => r.role === "sales")).toBe(true);
  });

  it("sales cannot export collaborators (403 member:export)", async () => {
    const sales = await addMember(t, orgId, "sales");
    const res = await api(t).get(sales.session, `${members()}/export?format=csv`);
    expect(res.statusCode).toBe(403);
    expect(json<ErrorJson>(res).error).toMatchObject({
      type: "authorization_error",
      requiredPermission: "member:export",
    });
  });
});

describe("seed 001 (saas): the nine acceptance checkboxes", () => {
  let owner: Session;
  let admin: Session;
  let orgId: string;
  const path = (p: string) => `/v1/orgs/${orgId}${p}`;
  beforeAll(async () => {
    owner = await signUp(t.app, uniqueEmail("saas-owner"), "Workspace Owner");
    orgId = (await createOrg(t.app, owner, "saas", "Acme Workspace")).id;
    admin = (await addMember(t, orgId, "admin")).session;
  });

  it("1. admins see pending invitations with invitee email, invite date and expiry status", async () => {
    admin = await signInAgain(t, admin.user.email);
    const a = uniqueEmail("pending");
    const b = uniqueEmail("expiring");
    const invA = json<InvitationJson>(await api(t).post(admin, path("/invitations"), { email: b }));
    t.clock.advance(73 * HOUR);
    admin = await signInAgain(t, admin.user.email);
    const invB = json<InvitationJson>(await api(t).post(admin, path("/invitations"), { email: a }));
    const res = await api(t).get(admin, path("/invitations"));
    expect(res.statusCode).toBe(200);
    const list = json<{ data: InvitationJson[] }>(res).data;
    const expired = list.find((i) => i.id === invA.id)!;
    const pending = list.find((i) => i.id === invB.id)!;
    expect(pending).toMatchObject({ email: a, status: "pending" });
    expect(expired).toMatchObject({ email: b, status: "expired" });
    for (const i of [pending, expired]) {
      expect(i.sentAt).toMatch(ISO_UTC);
      expect(i.expiresAt).toMatch(ISO_UTC);
      expect(new Date(i.expiresAt).getTime() - new Date(i.sentAt).getTime()).toBe(72 * HOUR);
    }
    const onlyPending = json<{ data: InvitationJson[] }>(
      await api(t).get(admin, path("/invitations?status=pending")),
    ).data;
    expect(onlyPending.map((i) => i.id)).toEqual([invB.id]);
  });

  it("2. admins resend a pending or an expired invitation (new link, old one dead)", async () => {
    const email = uniqueEmail("resend");
    const inv = json<InvitationJson>(await api(t).post(admin, path("/invitations"), { email }));
    await deliverMail(t);
    const first = tokenIn(lastMailTo(t, email));
    expect((await api(t).post(admin, path(`/invitations/${inv.id}/resend`))).statusCode).toBe(200);
    await deliverMail(t);
    const second = tokenIn(lastMailTo(t, email));
    expect(second).not.toBe(first);
    expect((await api(t).get(null, `/v1/invitations/${first}`)).statusCode).toBe(404);
    t.clock.advance(73 * HOUR);
    admin = await signInAgain(t, admin.user.email);
    const expired = json<{ data: InvitationJson[] }>(await api(t).get(admin, path("/invitations?status=expired"))).data;
    expect(expired.map((i) => i.id)).toContain(inv.id);
    const revived = await api(t).post(admin, path(`/invitations/${inv.id}/resend`));
    expect(revived.statusCode).toBe(200);
    expect(json<InvitationJson>(revived).status).toBe("pending");
    await deliverMail(t);
    const acc = await api(t).post(null, `/v1/invitations/${tokenIn(lastMailTo(t, email))}/accept`, {
      name: "Late Joiner",
      password: "a long enough passphrase",
    });
    expect(acc.statusCode).toBe(200);
  });

  it("3. admins revoke a pending invitation before it is accepted", async () => {
    const email = uniqueEmail("revoke");
    const inv = json<InvitationJson>(await api(t).post(admin, path("/invitations"), { email }));
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, email));
    const res = await api(t).post(admin, path(`/invitations/${inv.id}/revoke`));
    expect(res.statusCode).toBe(200);
    expect(json<InvitationJson>(res).status).toBe("revoked");
    const accept = await api(t).post(null, `/v1/invitations/${token}/accept`, {
      name: "Too Late",
      password: "a long enough passphrase",
    });
    expect(accept.statusCode).toBe(409);
    expect(json<ErrorJson>(accept).error).toMatchObject({ type: "conflict_error", code: "invitation_not_pending" });
  });

  it("4. admins trigger a password reset email for any active user", async () => {
    const m = await addMember(t, orgId, "member");
    const res = await api(t).post(admin, path(`/members/${m.memberId}/password-reset`));
    expect(res.statusCode).toBe(202);
    expect(res.body).not.toMatch(/rp_/);
    const [mail] = (await deliverMail(t)).filter((x) => x.to === m.session.user.email);
    expect(mail!.subject).toBe("Reset your password");
    expect(mail!.text).toContain("/reset-password?token=rp_");
    const done = await api(t).post(null, "/v1/auth/password/reset", {
      token: tokenIn(mail!),
      password: "a brand new passphrase",
    });
    expect(done.statusCode).toBe(200);
    expect((await signIn(m.session.user.email, "a brand new passphrase")).statusCode).toBe(200);
    // Not for a deactivated user.
    const off = await addMember(t, orgId, "member", { status: "inactive" });
    const refused = await api(t).post(admin, path(`/members/${off.memberId}/password-reset`));
    expect(refused.statusCode).toBe(409);
  });

  it("5. admins deactivate a user: access revoked immediately, data kept", async () => {
    const m = await addMember(t, orgId, "member");
    expect((await api(t).get(m.session, path(""))).statusCode).toBe(200);
    expect((await api(t).patch(admin, path(`/members/${m.memberId}`), { status: "inactive" })).statusCode).toBe(200);
    expect((await api(t).get(m.session, path(""))).statusCode).toBe(401);
    expect((await signIn(m.session.user.email)).statusCode).toBe(403);
    expect(json<MemberJson>(await api(t).get(admin, path(`/members/${m.memberId}`)))).toMatchObject({
      status: "inactive",
      email: m.session.user.email,
      role: "member",
    });
  });

  it("6. admins reactivate a previously deactivated user", async () => {
    const m = await addMember(t, orgId, "member", { status: "inactive" });
    const res = await api(t).patch(admin, path(`/members/${m.memberId}`), { status: "active" });
    expect(res.statusCode).toBe(200);
    expect(json<MemberJson>(res).status).toBe("active");
    const back = await signIn(m.session.user.email);
    expect(back.statusCode).toBe(200);
    expect((await api(t).get(json<Session>(back), path(""))).statusCode).toBe(200);
  });

  it("7. admins change a user's role (member → admin) from the user table", async () => {
    const m = await addMember(t, orgId, "member");
    const res = await api(t).patch(admin, path(`/members/${m.memberId}`), { role: "admin" });
    expect(res.statusCode).toBe(200);
    expect(json<MemberJson>(res).role).toBe("admin");
    // The new role is live on the member's next request.
    expect((await api(t).get(m.session, path("/invitations"))).statusCode).toBe(200);
    // Admins cannot hand out the owner role.
    const owner2 = await api(t).patch(admin, path(`/members/${m.memberId}`), { role: "owner" });
    expect(owner2.statusCode).toBe(403);
    expect(json<ErrorJson>(owner2).error.requiredPermission).toBe("owner:promote");
  });

  it("8. admins remove a user from the workspace entirely", async () => {
    const m = await addMember(t, orgId, "member");
    const res = await api(t).del(admin, path(`/members/${m.memberId}`));
    expect(res.statusCode).toBe(200);
    expect((await api(t).get(m.session, path(""))).statusCode).toBe(401);
    const signed = await signIn(m.session.user.email);
    // The person keeps their account, but the workspace is gone for them.
    expect((await api(t).get(json<Session>(signed), path(""))).statusCode).toBe(404);
    const list = json<{ data: MemberJson[] }>(await api(t).get(admin, path("/members?limit=200")));
    expect(list.data.map((x) => x.id)).not.toContain(m.memberId);
  });

  it("9. every one of these actions is in the audit trail, visible to admins", async () => {
    const res = await api(t).get(admin, path("/audit-events?entityType=team&limit=200"));
    expect(res.statusCode).toBe(200);
    const events = json<{ data: AuditJson[] }>(res).data;
    const seen = new Set(events.map((e) => e.action));
    for (const a of [
      "team.invited",
      "team.invite_resent",
      "team.invite_revoked",
      "team.invite_accepted",
      "team.password_reset_requested",
      "team.deactivated",
      "team.reactivated",
      "team.role_changed",
      "team.removed",
    ]) {
      expect(seen, a).toContain(a);
    }
    for (const e of events.filter((x) => x.action !== "team.invite_accepted")) {
      expect(e.actorId).toBe(admin.user.id);
      expect(e.targetId).toBeTruthy();
    }
    const member = await addMember(t, orgId, "member");
    expect((await api(t).get(member.session, path("/audit-events"))).statusCode).toBe(403);
  });
});

describe("seed 003 (departments): hierarchy, email rules, soft delete, 72 h invitations, inherited department", () => {
  let sa: Session;
  let orgId: string;
  const path = (p: string) => `/v1/orgs/${orgId}${p}`;
  let salesAdmin: Session;
  beforeAll(async () => {
    sa = await signUp(t.app, uniqueEmail("zen-super"), "Super Admin");
    orgId = (await createOrg(t.app, sa, "departments", "Zenskar Demo")).id;
    expect((await api(t).patch(sa, path("/security"), { allowedEmailDomains: ["example.com"] })).statusCode).toBe(200);
    salesAdmin = (await addMember(t, orgId, "admin", { department: "sales" })).session;
  });

  it("hierarchy: only the super admin grants admin; admins add users; users add no one", async () => {
    salesAdmin = await signInAgain(t, salesAdmin.user.email);
    const byAdmin = await api(t).post(salesAdmin, path("/invitations"), { email: uniqueEmail("adm"), role: "admin" });
    expect(byAdmin.statusCode).toBe(403);
    expect(json<ErrorJson>(byAdmin).error.type).toBe("authorization_error");
    const bySuper = await api(t).post(sa, path("/invitations"), {
      email: uniqueEmail("adm"),
      role: "admin",
      department: "tech",
    });
    expect(bySuper.statusCode).toBe(201);
    const user = await api(t).post(salesAdmin, path("/invitations"), { email: uniqueEmail("usr") });
    expect(user.statusCode).toBe(201);
    expect(json<InvitationJson>(user).role).toBe("user");
    const plain = await addMember(t, orgId, "user", { department: "sales" });
    const byUser = await api(t).post(plain.session, path("/invitations"), { email: uniqueEmail("usr") });
    expect(byUser.statusCode).toBe(403);
    expect(json<ErrorJson>(byUser).error.requiredPermission).toBe("invitation:create");
    // Admins act only within their department; super admin > admin > user for changes too.
    const techUser = await addMember(t, orgId, "user", { department: "tech" });
    const outside = await api(t).patch(salesAdmin, path(`/members/${techUser.memberId}`), { name: "Not Yours" });
    expect([403, 404]).toContain(outside.statusCode);
    const otherAdmin = await addMember(t, orgId, "admin", { department: "sales" });
    const peer = await api(t).del(salesAdmin, path(`/members/${otherAdmin.memberId}`));
    expect(peer.statusCode).toBe(403);
    const upward = await api(t).patch(salesAdmin, path(`/members/${plain.memberId}`), { role: "admin" });
    expect(upward.statusCode).toBe(403);
    const promote = await api(t).patch(sa, path(`/members/${plain.memberId}`), { role: "admin" });
    expect(promote.statusCode).toBe(200);
    const demote = await api(t).patch(sa, path(`/members/${plain.memberId}`), { role: "user" });
    expect(demote.statusCode).toBe(200);
  });

  it("email rules: organisation email at the allowed domain, secondary only at gmail.com/icloud.com/outlook.com, format checked", async () => {
    const wrongDomain = await api(t).post(sa, path("/invitations"), {
      email: "someone@elsewhere.io",
      department: "finance",
    });
    expect(wrongDomain.statusCode).toBe(422);
    expect(json<ErrorJson>(wrongDomain).error).toMatchObject({ type: "invalid_request_error", param: "email" });
    expect(json<ErrorJson>(wrongDomain).error.message).toContain("@example.com");
    const tempMail = await api(t).post(sa, path("/invitations"), {
      email: uniqueEmail("x"),
      secondaryEmail: "x@mailinator.com",
      department: "finance",
    });
    expect(tempMail.statusCode).toBe(422);
    expect(json<ErrorJson>(tempMail).error.param).toBe("secondaryEmail");
    for (const domain of ["gmail.com", "icloud.com", "outlook.com"]) {
      const ok = await api(t).post(sa, path("/invitations"), {
        email: uniqueEmail("ok"),
        secondaryEmail: `someone.${domain.split(".")[0]}@${domain}`,
        department: "finance",
      });
      expect(ok.statusCode, domain).toBe(201);
    }
    for (const bad of ["no-at-sign.example.com", "a@b", "two@@example.com"]) {
      const res = await api(t).post(sa, path("/invitations"), { email: bad, department: "finance" });
      expect([400, 422], bad).toContain(res.statusCode);
      expect(json<ErrorJson>(res).error.type).toBe("invalid_request_error");
    }
  });

  it("the secondary email is kept from the invitation and cannot be edited; name, role and department can", async () => {
    const email = uniqueEmail("sec");
    const { memberId } = await inviteAndAccept(t, sa, orgId, {
      email,
      secondaryEmail: "backup.person@gmail.com",
      department: "finance",
    });
    const m = json<MemberJson>(await api(t).get(sa, path(`/members/${memberId}`)));
    expect(m).toMatchObject({ secondaryEmail: "backup.person@gmail.com", department: "finance", role: "user" });
    const edit = await api(t).patch(sa, path(`/members/${memberId}`), { secondaryEmail: "other@gmail.com" });
    expect(edit.statusCode).toBe(422);
    expect(json<ErrorJson>(edit).error.param).toBe("secondaryEmail");
    const allowed = await api(t).patch(sa, path(`/members/${memberId}`), {
      name: "Renamed",
      department: "tech",
      role: "admin",
    });
    expect(allowed.statusCode).toBe(200);
    expect(json<MemberJson>(allowed)).toMatchObject({
      department: "tech",
      role: "admin",
      secondaryEmail: "backup.person@gmail.com",
    });
  });

  it("new users inherit their creator's department", async () => {
    salesAdmin = await signInAgain(t, salesAdmin.user.email);
    const email = uniqueEmail("inherit");
    const inv = await api(t).post(salesAdmin, path("/invitations"), { email });
    expect(json<InvitationJson>(inv).department).toBe("sales");
    const { memberId } = await inviteAndAccept(t, salesAdmin, orgId, { email: uniqueEmail("inherit2") });
    expect(json<MemberJson>(await api(t).get(sa, path(`/members/${memberId}`))).department).toBe("sales");
    // A sales admin cannot invite into another department.
    const elsewhere = await api(t).post(salesAdmin, path("/invitations"), {
      email: uniqueEmail("x"),
      department: "tech",
    });
    expect(elsewhere.statusCode).toBe(403);
  });

  it("invitations expire after 72 hours and stay visible as expired", async () => {
    const email = uniqueEmail("expiry");
    const inv = json<InvitationJson>(await api(t).post(sa, path("/invitations"), { email, department: "tech" }));
    expect(new Date(inv.expiresAt).getTime() - new Date(inv.createdAt).getTime()).toBe(72 * HOUR);
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, email));
    expect(lastMailTo(t, email).text).toContain("expires in 3 days");
    t.clock.advance(72 * HOUR - 1000);
    expect((await api(t).get(null, `/v1/invitations/${token}`)).statusCode).toBe(200);
    t.clock.advance(1000);
    const late = await api(t).post(null, `/v1/invitations/${token}/accept`, {
      name: "Late",
      password: "a long enough passphrase",
    });
    expect(late.statusCode).toBe(409);
    sa = await signInAgain(t, sa.user.email);
    const list = json<{ data: InvitationJson[] }>(
      await api(t).get(sa, path("/invitations?status=expired&limit=200")),
    ).data;
    expect(list.find((i) => i.id === inv.id)?.status).toBe("expired");
  });

  it("deleting is a soft delete with a 30-day recovery, then the purge job removes it; only admins and the super admin delete", async () => {
    sa = await signInAgain(t, sa.user.email);
    salesAdmin = await signInAgain(t, salesAdmin.user.email);
    const a = await addMember(t, orgId, "user", { department: "sales" });
    const b = await addMember(t, orgId, "user", { department: "sales" });
    const byUser = await api(t).del(a.session, path(`/members/${b.memberId}`));
    expect(byUser.statusCode).toBe(403);
    expect((await api(t).del(salesAdmin, path(`/members/${a.memberId}`))).statusCode).toBe(200);
    expect((await api(t).del(sa, path(`/members/${b.memberId}`))).statusCode).toBe(200);
    const removed = json<{ data: MemberJson[] }>(await api(t).get(sa, path("/members?status=removed&limit=200"))).data;
    expect(removed.map((m) => m.id)).toEqual(expect.arrayContaining([a.memberId, b.memberId]));
    t.clock.advance(29 * DAY);
    sa = await signInAgain(t, sa.user.email);
    const back = await api(t).post(sa, path(`/members/${a.memberId}/restore`));
    expect(back.statusCode).toBe(200);
    expect(json<MemberJson>(back)).toMatchObject({ status: "active", department: "sales", role: "user" });
    t.clock.advance(DAY + 1000);
    sa = await signInAgain(t, sa.user.email);
    const tooLate = await api(t).post(sa, path(`/members/${b.memberId}/restore`));
    expect(tooLate.statusCode).toBe(409);
    expect(json<ErrorJson>(tooLate).error.code).toBe("restore_window_passed");
    expect(await purgeRemovedMembers(t.deps)).toBeGreaterThanOrEqual(1);
    expect((await api(t).get(sa, path(`/members/${b.memberId}`))).statusCode).toBe(404);
    expect((await api(t).get(sa, path(`/members/${a.memberId}`))).statusCode).toBe(200);
  });
});

describe("seed 004 (operations): invite/resend/revoke, role ladder, removal, last owner, team.* events", () => {
  let owner: Session;
  let orgId: string;
  let ownerMemberId: string;
  const path = (p: string) => `/v1/orgs/${orgId}${p}`;
  beforeAll(async () => {
    owner = await signUp(t.app, uniqueEmail("ops-owner"), "Founder");
    const org = await createOrg(t.app, owner, "operations", "Peptide Clients");
    orgId = org.id;
    ownerMemberId = org.memberId;
  });

  it("invite sends a 7-day tokenized link; the accepted member shows role, last sign-in and store access", async () => {
    owner = await signInAgain(t, owner.user.email);
    const email = uniqueEmail("staffer");
    const res = await api(t).post(owner, path("/invitations"), {
      email,
      role: "staff",
      storeIds: ["retail"],
      hiddenModules: ["vendors"],
    });
    expect(res.statusCode).toBe(201);
    const inv = json<InvitationJson>(res);
    expect(new Date(inv.expiresAt).getTime() - new Date(inv.createdAt).getTime()).toBe(7 * DAY);
    const mail = (await deliverMail(t)).find((m) => m.to === email);
    expect(mail!.text).toContain("expires in 7 days");
    const accept = await api(t).post(null, `/v1/invitations/${tokenIn(mail!)}/accept`, {
      name: "Shipping Coordinator",
      password: "a long enough passphrase",
    });
    expect(accept.statusCode).toBe(200);
    const memberId = json<{ member: { id: string } }>(accept).member.id;
    const row = json<{ data: MemberJson[] }>(await api(t).get(owner, path("/members?limit=200"))).data.find(
      (m) => m.id === memberId,
    )!;
    expect(row).toMatchObject({ role: "staff", storeIds: ["retail"], lastLoginAt: t.clock.now().toISOString() });
  });

  it("resend re-issues the email; revoke invalidates the token immediately", async () => {
    const email = uniqueEmail("pending");
    const inv = json<InvitationJson>(await api(t).post(owner, path("/invitations"), { email, role: "read_only" }));
    await deliverMail(t);
    const old = tokenIn(lastMailTo(t, email));
    expect((await api(t).post(owner, path(`/invitations/${inv.id}/resend`))).statusCode).toBe(200);
    const [again] = (await deliverMail(t)).filter((m) => m.to === email);
    const fresh = tokenIn(again!);
    expect((await api(t).get(null, `/v1/invitations/${old}`)).statusCode).toBe(404);
    expect((await api(t).post(owner, path(`/invitations/${inv.id}/revoke`))).statusCode).toBe(200);
    const after = await api(t).get(null, `/v1/invitations/${fresh}`);
    expect(after.statusCode).toBe(409);
    expect(json<ErrorJson>(after).error.code).toBe("invitation_not_pending");
  });

  it("role ladder owner > admin > staff > read_only: admins change roles but not owners, staff change none", async () => {
    const admin = await addMember(t, orgId, "admin");
    const admin2 = await addMember(t, orgId, "admin");
    const staff = await addMember(t, orgId, "staff");
    const ro = await addMember(t, orgId, "read_only");
    expect((await api(t).patch(admin.session, path(`/members/${ro.memberId}`), { role: "staff" })).statusCode).toBe(
      200,
    );
    expect((await api(t).patch(admin.session, path(`/members/${admin2.memberId}`), { role: "staff" })).statusCode).toBe(
      200,
    );
    const toOwner = await api(t).patch(admin.session, path(`/members/${staff.memberId}`), { role: "owner" });
    expect(toOwner.statusCode).toBe(403);
    expect(json<ErrorJson>(toOwner).error.requiredPermission).toBe("owner:promote");
    const onOwner = await api(t).patch(admin.session, path(`/members/${ownerMemberId}`), { role: "admin" });
    expect(onOwner.statusCode).toBe(403);
    expect(json<ErrorJson>(onOwner).error.message).toMatch(/owner/i);
    const byStaff = await api(t).patch(staff.session, path(`/members/${ro.memberId}`), { role: "read_only" });
    expect(byStaff.statusCode).toBe(403);
    expect(json<ErrorJson>(byStaff).error.type).toBe("authorization_error");
    const byStaffInvite = await api(t).post(staff.session, path("/invitations"), { email: uniqueEmail() });
    expect(byStaffInvite.statusCode).toBe(403);
    // Owners promote and demote owners.
    const promoted = await api(t).patch(owner, path(`/members/${admin.memberId}`), { role: "owner" });
    expect(promoted.statusCode).toBe(200);
    expect((await api(t).patch(admin.session, path(`/members/${admin.memberId}`), { role: "admin" })).statusCode).toBe(
      403,
    );
    expect((await api(t).patch(owner, path(`/members/${admin.memberId}`), { role: "admin" })).statusCode).toBe(200);
  });

  it("a role change applies on the member's next request, with no re-login", async () => {
    const m = await addMember(t, orgId, "read_only");
    expect((await api(t).get(m.session, path("/invitations"))).statusCode).toBe(403);
    await api(t).patch(owner, path(`/members/${m.memberId}`), { role: "admin" });
    expect((await api(t).get(m.session, path("/invitations"))).statusCode).toBe(200);
    await api(t).patch(owner, path(`/members/${m.memberId}`), { role: "read_only" });
    expect((await api(t).get(m.session, path("/invitations"))).statusCode).toBe(403);
  });

  it("removal revokes every session before the response returns: the next request is 401", async () => {
    const m = await addMember(t, orgId, "admin");
    const second = await signInAgain(t, m.session.user.email);
    const key = await mintKey(m.session, orgId);
    const res = await api(t).del(owner, path(`/members/${m.memberId}`));
    expect(res.statusCode).toBe(200);
    for (const s of [m.session, second]) {
      const next = await api(t).get(s, path("/members"));
      expect(next.statusCode).toBe(401);
      expect(json<ErrorJson>(next).error.type).toBe("authentication_error");
    }
    expect((await api(t).get(key, path(""))).statusCode).toBe(401);
    const notice = (await deliverMail(t)).find((x) => x.to === m.session.user.email);
    expect(notice?.subject).toBe("You were removed from Peptide Clients");
    expect(notice?.text).toContain("restore it within 30 days");
    const ev = (await eventsOf(t, orgId)).find((e) => e.action === "team.removed" && e.targetId === m.memberId)!;
    expect(ev.after).toMatchObject({ status: "removed", sessionsRevoked: 2, apiKeysRevoked: 1 });
  });

  it("the last owner is kept: 409 conflict_error with a clear message; promote first, then the new owner removes you", async () => {
    owner = await signInAgain(t, owner.user.email);
    for (const res of [
      await api(t).del(owner, path(`/members/${ownerMemberId}`)),
      await api(t).patch(owner, path(`/members/${ownerMemberId}`), { role: "admin" }),
      await api(t).patch(owner, path(`/members/${ownerMemberId}`), { status: "inactive" }),
    ]) {
      expect(res.statusCode).toBe(409);
      const err = json<ErrorJson>(res).error;
      expect(err).toMatchObject({ type: "conflict_error", code: "last_top_role" });
      expect(err.message).toMatch(/Make another member owner first/);
    }
    const heir = await addMember(t, orgId, "admin");
    expect((await api(t).patch(owner, path(`/members/${heir.memberId}`), { role: "owner" })).statusCode).toBe(200);
    const handover = await api(t).del(heir.session, path(`/members/${ownerMemberId}`));
    expect(handover.statusCode).toBe(200);
    const owners = json<{ data: MemberJson[] }>(await api(t).get(heir.session, path("/members?role=owner"))).data;
    expect(owners.map((o) => o.id)).toEqual([heir.memberId]);
    owner = heir.session;
  });

  it("team.* events carry actor, target and a before/after diff", async () => {
    const email = uniqueEmail("audited");
    const { memberId, userId, invitationId } = await inviteAndAccept(t, owner, orgId, {
      email,
      role: "read_only",
      storeIds: ["retail"],
    });
    await api(t).patch(owner, path(`/members/${memberId}`), {
      role: "staff",
      storeIds: ["retail", "wholesale"],
      hiddenModules: ["reports"],
    });
    const revokedInv = json<InvitationJson>(
      await api(t).post(owner, path("/invitations"), { email: uniqueEmail("never") }),
    );
    await api(t).post(owner, path(`/invitations/${revokedInv.id}/revoke`));
    await api(t).del(owner, path(`/members/${memberId}`));

    const res = await api(t).get(owner, path("/audit-events?entityType=team&limit=200"));
    expect(res.statusCode).toBe(200);
    const events = json<{ data: AuditJson[] }>(res).data;
    const find = (action: string, target: string) => events.find((e) => e.action === action && e.targetId === target);
    expect(find("team.invited", invitationId)).toMatchObject({
      actorId: owner.user.id,
      after: { email, role: "read_only", storeIds: ["retail"] },
    });
    expect(find("team.invite_accepted", memberId)).toMatchObject({ actorId: userId, after: { role: "read_only" } });
    expect(find("team.role_changed", memberId)).toMatchObject({
      actorId: owner.user.id,
      before: { role: "read_only" },
      after: { role: "staff" },
    });
    expect(find("team.store_access_changed", memberId)).toMatchObject({
      before: { storeIds: ["retail"] },
      after: { storeIds: ["retail", "wholesale"] },
    });
    expect(find("team.module_visibility_changed", memberId)).toMatchObject({
      before: { hiddenModules: [] },
      after: { hiddenModules: ["reports"] },
    });
    expect(find("team.invite_revoked", revokedInv.id)).toMatchObject({
      actorId: owner.user.id,
      before: { status: "pending" },
      after: { status: "revoked" },
    });
    expect(find("team.removed", memberId)).toMatchObject({
      actorId: owner.user.id,
      before: { role: "staff", status: "active" },
      after: { status: "removed" },
    });
    for (const e of events) expect(e.entityType).toBe("team");
  });
});
