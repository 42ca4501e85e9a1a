import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  addMember,
  bearer,
  createOrg,
  engine,
  json,
  signUp,
  testApp,
  uniqueEmail,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { api, deliverMail, eventsOf, lastMailTo, signInAgain, tokenIn, type ErrorJson } from "./members.helpers.ts";
import { hashToken } from "../src/lib/tokens.ts";

let t: TestApp;
let owner: Session;
let orgId: string;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app, uniqueEmail("owner"), "Olivia Owner");
  orgId = (await createOrg(t.app, owner, "operations", "Harbor Supply")).id;
});
afterAll(async () => t.close());
// Several tests move the clock by days; the owner's session would have expired.
beforeEach(async () => {
  owner = { ...owner, token: (await signInAgain(t, owner.user.email)).token };
});

type InvitationJson = {
  id: string;
  email: string;
  role: string;
  status: string;
  createdAt: string;
  sentAt: string;
  expiresAt: string;
  invitedBy: string | null;
  invitedByName: string | null;
};
const invUrl = (suffix = "") => `/v1/orgs/${orgId}/invitations${suffix}`;
const invite = (body: object, s: Session = owner) => api(t).post(s, invUrl(), body);

describe("create", () => {
  it("creates a pending invitation with the org's lifetime, emails a link, never returns the token", async () => {
    const email = uniqueEmail("new");
    const res = await invite({ email, role: "staff", storeIds: ["retail"], hiddenModules: ["vendors"] });
    expect(res.statusCode).toBe(201);
    const inv = json<InvitationJson>(res);
    expect(inv).toMatchObject({ email, role: "staff", status: "pending", invitedByName: "Olivia Owner" });
    // operations: 7 days
    expect(new Date(inv.expiresAt).getTime() - new Date(inv.createdAt).getTime()).toBe(7 * 24 * 3_600_000);
    expect(res.body).not.toMatch(/ri_[A-Za-z0-9_-]{20,}/);
    const [mail] = await deliverMail(t);
    expect(mail!.to).toBe(email);
    expect(mail!.subject).toBe("Olivia Owner invited you to Harbor Supply");
    expect(mail!.text).toContain("http://127.0.0.1:4000/accept-invitation?token=ri_");
    expect(mail!.html).toContain("accept-invitation?token=ri_");
    const token = tokenIn(mail!);
    // ≥128-bit random, stored hashed only.
    expect(Buffer.from(token.slice(3), "base64url").length).toBeGreaterThanOrEqual(16);
    const raw = await t.db.owner((db) => db.execute(`SELECT token_hash FROM invitations WHERE id = '${inv.id}'`));
    expect(JSON.stringify(raw)).not.toContain(token);
    expect(JSON.stringify(raw)).toContain(hashToken(token));
    const ev = (await eventsOf(t, orgId)).find((e) => e.targetId === inv.id);
    expect(ev).toMatchObject({
      action: "team.invited",
      actorId: owner.user.id,
      after: { email, role: "staff", storeIds: ["retail"] },
    });
  });

  it("follows the org's invitationLifetimeHours setting (72 h default in saas, changed to 24 h)", async () => {
    const s = await signUp(t.app, uniqueEmail("lifetime"), "Lifetime Owner");
    const org = (await createOrg(t.app, s, "saas")).id;
    const first = json<InvitationJson>(await api(t).post(s, `/v1/orgs/${org}/invitations`, { email: uniqueEmail() }));
    expect(new Date(first.expiresAt).getTime() - new Date(first.createdAt).getTime()).toBe(72 * 3_600_000);
    expect((await api(t).patch(s, `/v1/orgs/${org}/security`, { invitationLifetimeHours: 24 })).statusCode).toBe(200);
    const second = json<InvitationJson>(await api(t).post(s, `/v1/orgs/${org}/invitations`, { email: uniqueEmail() }));
    expect(new Date(second.expiresAt).getTime() - new Date(second.createdAt).getTime()).toBe(24 * 3_600_000);
    await deliverMail(t);
    expect(lastMailTo(t, second.email).text).toContain("expires in 1 day");
  });

  it("defaults the role to the policy's lowest", async () => {
    const res = await invite({ email: uniqueEmail() });
    expect(json<InvitationJson>(res).role).toBe("read_only");
  });

  it("refuses a second pending invitation for the same address, and an existing member", async () => {
    const email = uniqueEmail();
    await invite({ email });
    const dup = await invite({ email: email.toUpperCase() });
    expect(dup.statusCode).toBe(409);
    expect(json<ErrorJson>(dup).error.code).toBe("already_invited");
    const member = await addMember(t, orgId, "staff");
    const again = await invite({ email: member.session.user.email });
    expect(json<ErrorJson>(again).error.code).toBe("already_member");
  });

  it("refuses a malformed email with 400, an unknown role with 422, a role the inviter cannot grant with 403", async () => {
    expect((await invite({ email: "not-an-email" })).statusCode).toBe(400);
    const role = await invite({ email: uniqueEmail(), role: "emperor" });
    expect(role.statusCode).toBe(422);
    expect(json<ErrorJson>(role).error.code).toBe("unknown_role");
    const admin = await addMember(t, orgId, "admin");
    const owner2 = await invite({ email: uniqueEmail(), role: "owner" }, admin.session);
    expect(owner2.statusCode).toBe(403);
    expect(json<ErrorJson>(owner2).error).toMatchObject({
      type: "authorization_error",
      requiredPermission: "owner:promote",
    });
    const staff = await addMember(t, orgId, "staff");
    const denied = await invite({ email: uniqueEmail() }, staff.session);
    expect(denied.statusCode).toBe(403);
    expect(json<ErrorJson>(denied).error.requiredPermission).toBe("invitation:create");
  });

  it("refuses unknown modules naming hiddenModules", async () => {
    const res = await invite({ email: uniqueEmail(), hiddenModules: ["warp_drive"] });
    expect(res.statusCode).toBe(422);
    expect(json<ErrorJson>(res).error.param).toBe("hiddenModules");
  });
});

describe("list, resend, revoke", () => {
  it("lists pending, expired, accepted and revoked with sent date, expiry and inviter", async () => {
    const s = await signUp(t.app, uniqueEmail("lister"), "Lister");
    const org = (await createOrg(t.app, s, "saas")).id;
    const mk = async () =>
      json<InvitationJson>(await api(t).post(s, `/v1/orgs/${org}/invitations`, { email: uniqueEmail() }));
    const expired = await mk();
    t.clock.advance(73 * 3_600_000);
    s.token = json<Session>(
      await t.app.inject({
        method: "POST",
        url: "/v1/auth/sign-in",
        payload: { email: s.user.email, password: "correct horse battery staple" },
      }),
    ).token;
    const pending = await mk();
    const revoked = await mk();
    await api(t).post(s, `/v1/orgs/${org}/invitations/${revoked.id}/revoke`);
    const accepted = await mk();
    await deliverMail(t);
    const acc = await api(t).post(null, `/v1/invitations/${tokenIn(lastMailTo(t, accepted.email))}/accept`, {
      name: "A",
      password: "a long enough passphrase",
    });
    expect(acc.statusCode).toBe(200);
    const list = json<{ data: InvitationJson[]; total: number; nextCursor: string | null }>(
      await api(t).get(s, `/v1/orgs/${org}/invitations`),
    );
    expect(list.total).toBe(4);
    const status = Object.fromEntries(list.data.map((i) => [i.id, i.status]));
    expect(status).toEqual({
      [expired.id]: "expired",
      [pending.id]: "pending",
      [revoked.id]: "revoked",
      [accepted.id]: "accepted",
    });
    expect(list.data[0]).toHaveProperty("sentAt");
    expect(list.data[0]!.invitedByName).toBe("Lister");
    const onlyPending = json<{ data: InvitationJson[] }>(
      await api(t).get(s, `/v1/orgs/${org}/invitations?status=pending`),
    );
    expect(onlyPending.data.map((i) => i.id)).toEqual([pending.id]);
    const onlyExpired = json<{ data: InvitationJson[] }>(
      await api(t).get(s, `/v1/orgs/${org}/invitations?status=expired`),
    );
    expect(onlyExpired.data.map((i) => i.id)).toEqual([expired.id]);
    const p1 = json<{ data: InvitationJson[]; nextCursor: string }>(
      await api(t).get(s, `/v1/orgs/${org}/invitations?limit=3`),
    );
    const p2 = json<{ data: InvitationJson[]; nextCursor: string | null }>(
      await api(t).get(s, `/v1/orgs/${org}/invitations?limit=3&cursor=${p1.nextCursor}`),
    );
    expect([...p1.data, ...p2.data].map((i) => i.id).sort()).toEqual(
      [expired.id, pending.id, revoked.id, accepted.id].sort(),
    );
    expect(p2.nextCursor).toBeNull();
  });

  it("resend issues a new token and expiry; the old link stops working", async () => {
    const email = uniqueEmail();
    const inv = json<InvitationJson>(await invite({ email }));
    await deliverMail(t);
    const oldToken = tokenIn(lastMailTo(t, email));
    t.clock.advance(60_000);
    const res = await api(t).post(owner, invUrl(`/${inv.id}/resend`));
    expect(res.statusCode).toBe(200);
    expect(new Date(json<InvitationJson>(res).expiresAt).getTime()).toBeGreaterThan(new Date(inv.expiresAt).getTime());
    await deliverMail(t);
    const newToken = tokenIn(lastMailTo(t, email));
    expect(newToken).not.toBe(oldToken);
    expect((await api(t).get(null, `/v1/invitations/${oldToken}`)).statusCode).toBe(404);
    expect((await api(t).get(null, `/v1/invitations/${newToken}`)).statusCode).toBe(200);
    expect((await eventsOf(t, orgId)).filter((e) => e.targetId === inv.id).map((e) => e.action)).toEqual([
      "team.invited",
      "team.invite_resent",
    ]);
  });

  it("resend revives an expired invitation", async () => {
    const email = uniqueEmail();
    const inv = json<InvitationJson>(await invite({ email }));
    t.clock.advance(8 * 24 * 3_600_000);
    owner = await signInAgain(t, owner.user.email);
    const res = await api(t).post(owner, invUrl(`/${inv.id}/resend`));
    expect(json<InvitationJson>(res).status).toBe("pending");
  });

  it("revoke invalidates the link at once; revoking again is 409", async () => {
    const email = uniqueEmail();
    const inv = json<InvitationJson>(await invite({ email }));
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, email));
    expect((await api(t).post(owner, invUrl(`/${inv.id}/revoke`))).statusCode).toBe(200);
    const look = await api(t).get(null, `/v1/invitations/${token}`);
    expect(look.statusCode).toBe(409);
    expect(json<ErrorJson>(look).error.code).toBe("invitation_not_pending");
    const acc = await api(t).post(null, `/v1/invitations/${token}/accept`, {
      name: "X",
      password: "a long enough passphrase",
    });
    expect(acc.statusCode).toBe(409);
    expect((await api(t).post(owner, invUrl(`/${inv.id}/revoke`))).statusCode).toBe(409);
  });

  it("another org's invitation id answers 404", async () => {
    const s = await signUp(t.app);
    const org = (await createOrg(t.app, s, "saas")).id;
    const inv = json<InvitationJson>(await api(t).post(s, `/v1/orgs/${org}/invitations`, { email: uniqueEmail() }));
    expect((await api(t).post(owner, invUrl(`/${inv.id}/revoke`))).statusCode).toBe(404);
  });
});

describe("public lookup and accept", () => {
  it("lookup shows org name, email, role and expiry only", async () => {
    const email = uniqueEmail();
    await invite({ email, role: "staff" });
    await deliverMail(t);
    const res = await api(t).get(null, `/v1/invitations/${tokenIn(lastMailTo(t, email))}`);
    expect(res.statusCode).toBe(200);
    expect(Object.keys(json(res)).sort()).toEqual(["email", "expiresAt", "orgName", "role"]);
    expect(json(res)).toMatchObject({ orgName: "Harbor Supply", email, role: "staff" });
    expect((await api(t).get(null, "/v1/invitations/ri_doesnotexist")).statusCode).toBe(404);
  });

  it("accept creates the account and membership with the invited access, signs in, sets the cookie", async () => {
    const email = uniqueEmail();
    await invite({ email, role: "staff", storeIds: ["retail"], hiddenModules: ["reports"] });
    await deliverMail(t);
    const res = await api(t).post(null, `/v1/invitations/${tokenIn(lastMailTo(t, email))}/accept`, {
      name: "New Person",
      password: "a long enough passphrase",
    });
    expect(res.statusCode).toBe(200);
    const body = json<{
      token: string;
      expiresAt: string;
      user: { email: string };
      member: { role: string; storeIds: string[]; hiddenModules: string[]; status: string };
    }>(res);
    expect(body.user.email).toBe(email);
    expect(body.member).toMatchObject({
      role: "staff",
      storeIds: ["retail"],
      hiddenModules: ["reports"],
      status: "active",
    });
    expect(res.cookies.find((c) => c.name === "roster_session")).toBeTruthy();
    expect((await t.app.inject({ url: `/v1/orgs/${orgId}`, headers: bearer(body.token) })).statusCode).toBe(200);
    const ev = (await eventsOf(t, orgId)).at(-1)!;
    expect(ev).toMatchObject({ action: "team.invite_accepted", entityType: "team" });
  });

  it("accept refuses a weak password and missing fields", async () => {
    const email = uniqueEmail();
    await invite({ email });
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, email));
    const weak = await api(t).post(null, `/v1/invitations/${token}/accept`, { name: "N", password: "password" });
    expect(weak.statusCode).toBe(422);
    const missing = await api(t).post(null, `/v1/invitations/${token}/accept`, {});
    expect(missing.statusCode).toBe(400);
    expect(json<ErrorJson>(missing).error.param).toBe("name");
  });

  it("an existing account must be signed in as the invited email", async () => {
    const existing = await signUp(t.app);
    const other = await signUp(t.app);
    await invite({ email: existing.user.email, role: "admin" });
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, existing.user.email));
    const anon = await api(t).post(null, `/v1/invitations/${token}/accept`, {
      name: "x",
      password: "a long enough passphrase",
    });
    expect(anon.statusCode).toBe(401);
    expect(json<ErrorJson>(anon).error.message).toContain("Sign in");
    const wrong = await api(t).post(other, `/v1/invitations/${token}/accept`, {});
    expect(wrong.statusCode).toBe(403);
    expect(json<ErrorJson>(wrong).error.code).toBe("invitation_email_mismatch");
    const ok = await api(t).post(existing, `/v1/invitations/${token}/accept`, {});
    expect(ok.statusCode).toBe(200);
    expect(json<{ member: { role: string; userId: string } }>(ok).member).toMatchObject({
      role: "admin",
      userId: existing.user.id,
    });
  });

  it("an expired invitation cannot be accepted", async () => {
    const email = uniqueEmail();
    await invite({ email });
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, email));
    t.clock.advance(7 * 24 * 3_600_000 + 1);
    const res = await api(t).post(null, `/v1/invitations/${token}/accept`, {
      name: "Late",
      password: "a long enough passphrase",
    });
    expect(res.statusCode).toBe(409);
    expect(json<ErrorJson>(res).error.message).toMatch(/expired/);
  });

  it(`50 concurrent accepts of one token: exactly one succeeds (${engine})`, async () => {
    const email = uniqueEmail("race");
    await invite({ email });
    await deliverMail(t);
    const token = tokenIn(lastMailTo(t, email));
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        api(t).post(null, `/v1/invitations/${token}/accept`, { name: "Racer", password: "a long enough passphrase" }),
      ),
    );
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.every((c) => c === 200 || c === 409 || c === 401)).toBe(true);
    const members = json<{ data: Array<{ email: string }> }>(
      await api(t).get(owner, `/v1/orgs/${orgId}/members?q=${encodeURIComponent(email)}`),
    );
    expect(members.data).toHaveLength(1);
  });
});
