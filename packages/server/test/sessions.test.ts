import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  bearer,
  createOrg,
  GOOD_PASSWORD,
  json,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

type ErrorBody = { error: { type: string; code: string; param?: string; requiredPermission?: string } };
const errorOf = (res: { json: <T>() => T }) => res.json<ErrorBody>().error;

interface SessionItem {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

async function signIn(email: string, userAgent: string, ip = "127.0.0.1"): Promise<Session> {
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/auth/sign-in",
    payload: { email, password: GOOD_PASSWORD },
    headers: { "user-agent": userAgent },
    remoteAddress: ip,
  });
  expect(res.statusCode).toBe(200);
  return json<Session>(res);
}

const mySessions = async (s: Session) =>
  json<{ data: SessionItem[] }>(await t.app.inject({ url: "/v1/me/sessions", headers: bearer(s) })).data;
const alive = async (s: Session) => (await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode === 200;

describe("my sessions", () => {
  it("lists my live sessions with created, last seen, IP and user agent, newest first, marking the current one", async () => {
    const first = await signUp(t.app);
    t.clock.advance(60_000);
    const laptop = await signIn(first.user.email, "Laptop Firefox", "10.0.0.7");
    t.clock.advance(60_000);
    const phone = await signIn(first.user.email, "Phone Safari", "10.0.0.8");
    const list = await mySessions(phone);
    expect(list).toHaveLength(3);
    expect(list[0]).toMatchObject({
      userAgent: "Phone Safari",
      ip: "10.0.0.8",
      current: true,
      createdAt: t.clock.now().toISOString(),
    });
    expect(list[1]).toMatchObject({ userAgent: "Laptop Firefox", ip: "10.0.0.7", current: false });
    expect(list.filter((s) => s.current)).toHaveLength(1);
    for (const s of list) {
      expect(Object.keys(s).sort()).toEqual([
        "createdAt",
        "current",
        "expiresAt",
        "id",
        "ip",
        "lastSeenAt",
        "userAgent",
      ]);
      expect(JSON.stringify(s)).not.toContain(laptop.token);
    }
    // Someone else sees only their own.
    const other = await signUp(t.app);
    expect((await mySessions(other)).map((s) => s.id)).not.toContain(list[1]!.id);
  });

  it("ends one session; another user's session id answers 404", async () => {
    const s = await signUp(t.app);
    const other = await signIn(s.user.email, "Other");
    const otherId = (await mySessions(s)).find((x) => !x.current)!.id;
    const stranger = await signUp(t.app);
    const wrong = await t.app.inject({
      method: "DELETE",
      url: `/v1/me/sessions/${otherId}`,
      headers: bearer(stranger),
    });
    expect(wrong.statusCode).toBe(404);
    expect(await alive(other)).toBe(true);
    const res = await t.app.inject({ method: "DELETE", url: `/v1/me/sessions/${otherId}`, headers: bearer(s) });
    expect(res.statusCode).toBe(204);
    expect(await alive(other)).toBe(false);
    const ended = await t.app.inject({ url: "/v1/me", headers: bearer(other) });
    expect(errorOf(ended)).toMatchObject({ type: "authentication_error", code: "session_expired" });
    expect(await alive(s)).toBe(true);
    // Ending it again: it is gone.
    expect(
      (await t.app.inject({ method: "DELETE", url: `/v1/me/sessions/${otherId}`, headers: bearer(s) })).statusCode,
    ).toBe(404);
  });

  it("ends all other sessions and keeps this one", async () => {
    const s = await signUp(t.app);
    const a = await signIn(s.user.email, "A");
    const b = await signIn(s.user.email, "B");
    const res = await t.app.inject({ method: "DELETE", url: "/v1/me/sessions", headers: bearer(s) });
    expect(res.statusCode).toBe(200);
    expect(json<{ sessionsEnded: number }>(res).sessionsEnded).toBe(2);
    expect(await alive(a)).toBe(false);
    expect(await alive(b)).toBe(false);
    expect(await alive(s)).toBe(true);
    expect(await mySessions(s)).toHaveLength(1);
  });

  it("signing out ends only this session", async () => {
    const s = await signUp(t.app);
    const other = await signIn(s.user.email, "Other");
    expect((await t.app.inject({ method: "POST", url: "/v1/auth/sign-out", headers: bearer(s) })).statusCode).toBe(204);
    expect(await alive(s)).toBe(false);
    expect(await alive(other)).toBe(true);
  });
});

describe("changing the password", () => {
  const change = (s: Session, body: Record<string, unknown>) =>
    t.app.inject({ method: "POST", url: "/v1/me/password", headers: bearer(s), payload: body });

  it("ends every other session, keeps this one, and the new password signs in", async () => {
    const s = await signUp(t.app);
    const a = await signIn(s.user.email, "A");
    const b = await signIn(s.user.email, "B");
    const res = await change(s, { currentPassword: GOOD_PASSWORD, newPassword: "a brand new passphrase" });
    expect(res.statusCode).toBe(200);
    expect(json<{ sessionsEnded: number }>(res).sessionsEnded).toBe(2);
    expect(await alive(a)).toBe(false);
    expect(await alive(b)).toBe(false);
    expect(await alive(s)).toBe(true);
    const old = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: s.user.email, password: GOOD_PASSWORD },
    });
    expect(old.statusCode).toBe(401);
    const fresh = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: s.user.email, password: "a brand new passphrase" },
    });
    expect(fresh.statusCode).toBe(200);
  });

  it("refuses a wrong current password or a weak new one and ends nothing", async () => {
    const s = await signUp(t.app);
    const other = await signIn(s.user.email, "Other");
    const wrong = await change(s, {
      currentPassword: "not the password at all",
      newPassword: "a brand new passphrase",
    });
    expect(wrong.statusCode).toBe(422);
    expect(errorOf(wrong)).toMatchObject({ code: "current_password_incorrect", param: "currentPassword" });
    const weak = await change(s, { currentPassword: GOOD_PASSWORD, newPassword: "password123" });
    expect(weak.statusCode).toBe(422);
    expect(errorOf(weak)).toMatchObject({ code: "password_too_common", param: "newPassword" });
    const missing = await change(s, { newPassword: "a brand new passphrase" });
    expect(missing.statusCode).toBe(400);
    expect(await alive(other)).toBe(true);
  });
});

describe("an admin ends a member's sessions", () => {
  it("with session:revoke: every session of the member ends, is audited, and API keys are untouched", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const admin = await addMember(t, org.id, "admin");
    const member = await addMember(t, org.id, "member");
    const second = await signIn(member.session.user.email, "Second");

    const listed = await t.app.inject({
      url: `/v1/orgs/${org.id}/members/${member.memberId}/sessions`,
      headers: bearer(admin.session),
    });
    expect(listed.statusCode).toBe(200);
    const data = json<{ data: Array<Record<string, unknown>> }>(listed).data;
    expect(data).toHaveLength(2);
    expect(data.some((s) => s.userAgent === "Second")).toBe(true);

    const res = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/members/${member.memberId}/sessions`,
      headers: bearer(admin.session),
    });
    expect(res.statusCode).toBe(200);
    expect(json<{ sessionsEnded: number }>(res).sessionsEnded).toBe(2);
    expect(await alive(member.session)).toBe(false);
    expect(await alive(second)).toBe(false);
    expect(await alive(admin.session)).toBe(true);

    const events = json<{
      data: Array<{ actorId: string; targetId: string; entityType: string; after: Record<string, unknown> }>;
    }>(
      await t.app.inject({
        url: `/v1/orgs/${org.id}/audit-events?action=team.sessions_revoked`,
        headers: bearer(owner),
      }),
    ).data;
    expect(events).toHaveLength(1);
    // entityType "team", like every other team.* event.
    expect(events[0]).toMatchObject({
      actorId: admin.userId,
      targetId: member.memberId,
      entityType: "team",
      after: { sessionsEnded: 2 },
    });
  });

  it("without the permission: 403, and nothing ends", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const a = await addMember(t, org.id, "member");
    const b = await addMember(t, org.id, "member");
    const res = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/members/${b.memberId}/sessions`,
      headers: bearer(a.session),
    });
    expect(res.statusCode).toBe(403);
    expect(errorOf(res)).toMatchObject({
      type: "authorization_error",
      code: "permission_denied",
      requiredPermission: "session:revoke",
    });
    const list = await t.app.inject({
      url: `/v1/orgs/${org.id}/members/${b.memberId}/sessions`,
      headers: bearer(a.session),
    });
    expect(list.statusCode).toBe(403);
    expect(await alive(b.session)).toBe(true);
  });

  it("an admin cannot end the owner's sessions (rank), and another org's member answers 404", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const admin = await addMember(t, org.id, "admin");
    const res = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/members/${org.memberId}/sessions`,
      headers: bearer(admin.session),
    });
    expect(res.statusCode).toBe(403);
    expect(await alive(owner)).toBe(true);

    const otherOwner = await signUp(t.app);
    const other = await createOrg(t.app, otherOwner, "saas");
    const cross = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/members/${other.memberId}/sessions`,
      headers: bearer(owner),
    });
    expect(cross.statusCode).toBe(404);
    expect(await alive(otherOwner)).toBe(true);
  });
});
