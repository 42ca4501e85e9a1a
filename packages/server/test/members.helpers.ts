import { asc, eq, sql } from "drizzle-orm";
import { auditEvents, organizations } from "../src/db/schema.ts";
import { outboxWorker } from "../src/mail/worker.ts";
import type { OutgoingMail } from "../src/mail/mailer.ts";
import { bearer, json, type Session, type TestApp } from "./helpers.ts";

/** Runs the outbox worker until nothing is due; answers the messages delivered in this call. */
export async function deliverMail(t: TestApp): Promise<OutgoingMail[]> {
  const before = t.mailer.sent.length;
  const worker = outboxWorker(t.deps);
  for (;;) {
    const r = await worker.runOnce();
    if (r.sent + r.failed === 0) break;
  }
  return t.mailer.sent.slice(before);
}

export function lastMailTo(t: TestApp, email: string): OutgoingMail {
  const found = [...t.mailer.sent].reverse().find((m) => m.to.toLowerCase() === email.toLowerCase());
  if (!found) throw new Error(`no mail to ${email}`);
  return found;
}

export function tokenIn(mail: OutgoingMail): string {
  const m = /token=([A-Za-z0-9_%-]+)/.exec(mail.text);
  if (!m?.[1]) throw new Error("no token in mail");
  return decodeURIComponent(m[1]);
}

export async function setOrgSettings(t: TestApp, orgId: string, settings: Record<string, unknown>): Promise<void> {
  await t.db.owner((db) =>
    db
      .update(organizations)
      .set({ settings: sql`settings || ${JSON.stringify(settings)}::jsonb` })
      .where(eq(organizations.id, orgId)),
  );
}

export async function eventsOf(t: TestApp, orgId: string) {
  return t.db.tx({ orgId }, (tx) =>
    tx.select().from(auditEvents).where(eq(auditEvents.orgId, orgId)).orderBy(asc(auditEvents.seq)),
  );
}

export type ErrorJson = {
  error: { type: string; code: string; message: string; param?: string; requiredPermission?: string };
};

export const api = (t: TestApp) => ({
  get: (s: Session | string | null, url: string) => t.app.inject({ method: "GET", url, headers: s ? bearer(s) : {} }),
  post: (s: Session | string | null, url: string, payload?: object) =>
    t.app.inject({ method: "POST", url, headers: s ? bearer(s) : {}, ...(payload ? { payload } : {}) }),
  patch: (s: Session | string | null, url: string, payload: object) =>
    t.app.inject({ method: "PATCH", url, headers: s ? bearer(s) : {}, payload }),
  del: (s: Session | string | null, url: string) =>
    t.app.inject({ method: "DELETE", url, headers: s ? bearer(s) : {} }),
});

/** Invites, delivers the email, and accepts it as a new account; answers the new member's session and ids. */
export async function inviteAndAccept(
  t: TestApp,
  admin: Session,
  orgId: string,
  body: Record<string, unknown>,
  name = "Invited Person",
) {
  const res = await api(t).post(admin, `/v1/orgs/${orgId}/invitations`, body);
  if (res.statusCode !== 201) throw new Error(`invite failed: ${res.statusCode} ${res.body}`);
  await deliverMail(t);
  const token = tokenIn(lastMailTo(t, String(body.email)));
  const acc = await api(t).post(null, `/v1/invitations/${token}/accept`, {
    name,
    password: "a long enough passphrase",
  });
  if (acc.statusCode !== 200) throw new Error(`accept failed: ${acc.statusCode} ${acc.body}`);
  const b = json<{
    token: string;
    csrfToken: string;
    user: { id: string; email: string; name: string };
    member: { id: string };
  }>(acc);
  return {
    session: { token: b.token, csrfToken: b.csrfToken, user: b.user },
    memberId: b.member.id,
    userId: b.user.id,
    invitationId: json<{ id: string }>(res).id,
  };
}

/** A new session for an existing account (after the fake clock jumped past the session lifetime). */
export async function signInAgain(
  t: TestApp,
  email: string,
  password = "correct horse battery staple",
): Promise<Session> {
  const res = await t.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
  return json<Session>(res);
}
