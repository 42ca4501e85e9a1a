import { and, desc, eq, isNull, ne, sql } from "drizzle-orm";
import type { Database, Tx } from "../db/database.ts";
import { sessions, users, type SessionRow, type UserRow } from "../db/schema.ts";
import { newId } from "../lib/ids.ts";
import { hashToken, hmac, newToken } from "../lib/tokens.ts";
import { openingKeys, type Config } from "../config.ts";
import type { RequestMeta } from "../audit/record.ts";
import { gateOf, mfaState, type MfaGate } from "../mfa/gate.ts";
import { tag, type SessionEntry } from "../cache/hub.ts";

export const SESSION_COOKIE = "roster_session";
export const CSRF_COOKIE = "roster_csrf";
export const SESSION_TOKEN_PREFIX = "rs";

export interface IssuedSession {
  token: string;
  session: SessionRow;
  csrfToken: string;
}

export function csrfFor(config: Pick<Config, "secretKey">, sessionId: string): string {
  return hmac(config.secretKey, `csrf:${sessionId}`);
}

/** CSRF tokens handed out before a key rotation stay valid for their session. */
export function csrfCandidates(config: Pick<Config, "secretKey" | "previousSecretKeys">, sessionId: string): string[] {
  return openingKeys(config).map((secretKey) => csrfFor({ secretKey }, sessionId));
}

/**
 * Starts a session: a new random token every time, stored only as its hash. `mfaVerified` when a second factor
 * was just checked for it (MFA sign-in), or carried over from a session that had one (invitation accept).
 */
export async function issueSession(
  tx: Tx,
  config: Config,
  userId: string,
  meta: RequestMeta,
  now: Date,
  opts: { mfaVerified?: boolean } = {},
): Promise<IssuedSession> {
  const token = newToken(SESSION_TOKEN_PREFIX);
  const row: SessionRow = {
    id: newId("ses"),
    userId,
    tokenHash: hashToken(token),
    ip: meta.ip,
    userAgent: meta.userAgent,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + config.session.maxHours * 3_600_000),
    revokedAt: null,
    revokedReason: null,
    mfaVerifiedAt: opts.mfaVerified ? now : null,
  };
  await tx.insert(sessions).values(row);
  await tx.update(users).set({ lastLoginAt: now }).where(eq(users.id, userId));
  return { token, session: row, csrfToken: csrfFor(config, row.id) };
}

export type SessionCheck =
  | {
      ok: true;
      session: SessionRow;
      user: UserRow;
      /** last_seen_at before this request touched it: what per-org idle limits compare against. */
      idleSince: Date;
      /** The user must enrol a factor before doing anything else (an org they belong to requires MFA). */
      /** What org-wide MFA asks of this session first, if anything (mfa/gate.ts). */
      mfa: MfaGate;
    }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "idle" };

export interface SessionLimits {
  idleMinutes: number;
  maxHours: number;
}

/**
 * Checks a presented session token. A live session comes from this instance's cache when it holds it (the
 * entry is dropped by the database's notification of any change to the session, its user, their factors or
 * memberships: cache/hub.ts); anything else, and every refusal, is decided on the database's current rows.
 * Activity is recorded in memory and written in batches (LastSeen): no request waits for a write.
 */
export async function checkSession(
  db: Database,
  token: string,
  now: Date,
  limits: SessionLimits,
): Promise<SessionCheck> {
  const tokenHash = hashToken(token);
  const cached = db.cache.sessions.get(tokenHash);
  if (cached) {
    const verdict = judgeSession(db, cached, now, limits);
    // A refusal from memory is checked again below: another instance may have seen the session since.
    if (verdict.ok) return verdict;
  }
  const entry = await db.cache.sessions.load(tokenHash, async () => {
    const value = await readSession(db, tokenHash);
    if (!value || value.session.revokedAt) return value && { value, tags: null };
    return { value, tags: [tag.user(value.user.id), tag.anyOrg] };
  });
  if (!entry) return { ok: false, reason: "unknown" };
  return judgeSession(db, entry, now, limits);
}

/** The session, its user and the user's MFA state, in one transaction bound to the user. */
async function readSession(db: Database, tokenHash: string): Promise<SessionEntry | null> {
  return db.tx({}, async (tx) => {
    const rows = await tx
      .select({ session: sessions, user: users })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(sessions.tokenHash, tokenHash))
      .limit(1);
    const row = rows[0];
    if (!row) return null;
    if (row.session.revokedAt) return { ...row, mfaRequired: false, mfaEnrolled: false };
    await tx.execute(sql`SELECT set_config('roster.user_id', ${row.user.id}, true)`);
    return { ...row, ...(await mfaState(tx, row.user.id)) };
  });
}

function judgeSession(db: Database, entry: SessionEntry, now: Date, limits: SessionLimits): SessionCheck {
  const { session, user } = entry;
  if (session.revokedAt) return { ok: false, reason: "revoked" };
  const absoluteEnd = Math.min(session.expiresAt.getTime(), session.createdAt.getTime() + limits.maxHours * 3_600_000);
  if (now.getTime() >= absoluteEnd) return { ok: false, reason: "expired" };
  // The freshest of what is stored and what this instance saw but has not written yet.
  const lastSeen = Math.max(session.lastSeenAt.getTime(), db.lastSeen.get(session.id) ?? -Infinity);
  if (now.getTime() - lastSeen >= limits.idleMinutes * 60_000) return { ok: false, reason: "idle" };
  db.lastSeen.record(session.id, now);
  return {
    ok: true,
    session: { ...session, lastSeenAt: new Date(Math.max(lastSeen, now.getTime())) },
    user,
    idleSince: new Date(lastSeen),
    mfa: gateOf(entry.mfaRequired, entry.mfaEnrolled, session.mfaVerifiedAt !== null),
  };
}

export async function revokeSession(tx: Tx, sessionId: string, now: Date, reason: string): Promise<void> {
  await tx
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/** Ends every live session of a user (deactivation, removal, password change), optionally sparing one. */
export async function revokeUserSessions(
  tx: Tx,
  userId: string,
  now: Date,
  reason: string,
  except?: string,
): Promise<number> {
  const ended = await tx
    .update(sessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), except ? ne(sessions.id, except) : undefined))
    .returning({ id: sessions.id });
  return ended.length;
}

export async function listUserSessions(db: Database, userId: string): Promise<SessionRow[]> {
  return db.tx({ userId }, (tx) =>
    tx
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
      .orderBy(desc(sessions.createdAt)),
  );
}
