import { eq, sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { members, users, type UserRow } from "../db/schema.ts";
import { AppError } from "../http/errors.ts";
import { newId } from "../lib/ids.ts";
import { record, type AuditInput, type RequestMeta } from "../audit/record.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./passwords.ts";
import { hitLimit, peekLimit, resetLimit } from "./rate-limit.ts";
import { issueSession, revokeSession, type IssuedSession } from "./sessions.ts";
import { createChallenge, hasConfirmedFactor } from "../mfa/service.ts";

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

export async function findUserByEmail(deps: AppDeps, email: string): Promise<UserRow | undefined> {
  const rows = await deps.db.tx({}, (tx) =>
    tx
      .select()
      .from(users)
      .where(sql`lower(${users.email}) = ${normalizeEmail(email)}`)
      .limit(1),
  );
  return rows[0];
}

export async function signUp(
  deps: AppDeps,
  input: { email: string; name: string; password: string },
  meta: RequestMeta,
) {
  if (!deps.config.allowSignUp)
    throw new AppError("sign_up_disabled", "Self sign-up is turned off on this installation. Ask for an invitation.");
  checkPasswordPolicy(input.password);
  await throttleSignUps(deps, meta);
  const now = deps.clock.now();
  const passwordHash = await hashPassword(input.password, deps.config.argon2);
  const user: UserRow = {
    id: newId("usr"),
    email: normalizeEmail(input.email),
    name: input.name.trim(),
    passwordHash,
    platformRole: null,
    lastLoginAt: null,
    createdAt: now,
    updatedAt: now,
  };
  return deps.db.tx({ userId: user.id }, async (tx) => {
    const inserted = await tx.insert(users).values(user).onConflictDoNothing().returning({ id: users.id });
    if (inserted.length === 0)
      throw new AppError("email_taken", "An account with this email already exists. Sign in instead.", {
        param: "email",
      });
    const issued = await issueSession(tx, deps.config, user.id, meta, now);
    return { issued, user };
  });
}

/** Every sign-up counts against its address (each one creates an account). */
async function throttleSignUps(deps: AppDeps, meta: RequestMeta): Promise<void> {
  const ipState = await hitLimit(
    deps.db,
    `signup:ip:${meta.ip ?? "unknown"}`,
    deps.config.signInLimits.perIp,
    deps.clock.now(),
  );
  if (!ipState.allowed) {
    throw new AppError("rate_limited", "Too many sign-ups from this address. Try again later.", {
      retryAfterSeconds: ipState.retryAfterSeconds,
    });
  }
}

export type SignInResult =
  | { kind: "session"; issued: IssuedSession; user: UserRow }
  /** A factor is enrolled: the password was right, and POST /v1/auth/mfa/verify finishes the sign-in. */
  | { kind: "mfa"; challengeId: string; expiresAt: Date };

/**
 * Unknown email and wrong password take the same time and give the same answer. Both the address and the
 * account are throttled, and both count only failures (a wrong password or an unknown email): a host app's
 * backend that signs many people in from one address is never refused for their successes. A success clears
 * the account's counter, not the address's, so an attacker cannot reset the address's count with an account
 * of their own.
 */
export async function signIn(
  deps: AppDeps,
  input: { email: string; password: string },
  meta: RequestMeta,
): Promise<SignInResult> {
  const now = deps.clock.now();
  const accountKey = `signin:acct:${normalizeEmail(input.email)}`;
  const addressKey = `signin:ip:${meta.ip ?? "unknown"}`;
  const address = await peekLimit(deps.db, addressKey, deps.config.signInLimits.perIp, now);
  if (!address.allowed) {
    throw new AppError("rate_limited", "Too many failed sign-in attempts from this address. Try again later.", {
      retryAfterSeconds: address.retryAfterSeconds,
    });
  }
  const acct = await peekLimit(deps.db, accountKey, deps.config.signInLimits.perAccount, now);
  if (!acct.allowed) {
    const user = await findUserByEmail(deps, input.email);
    if (user)
      await recordForUser(deps, user.id, "all", {
        action: "auth.sign_in_failed",
        actorId: user.id,
        targetId: user.id,
        entityType: "auth",
        after: { reason: "throttled" },
        ...meta,
      });
    throw new AppError("rate_limited", "Too many failed sign-in attempts for this account. Try again later.", {
      retryAfterSeconds: acct.retryAfterSeconds,
    });
  }
  const user = await findUserByEmail(deps, input.email);
  const ok = await verifyPassword(user?.passwordHash ?? null, input.password, deps.config.argon2);
  if (!user || !ok) {
    await hitLimit(deps.db, accountKey, deps.config.signInLimits.perAccount, now);
    await hitLimit(deps.db, addressKey, deps.config.signInLimits.perIp, now);
    if (user)
      await recordForUser(deps, user.id, "all", {
        action: "auth.sign_in_failed",
        actorId: user.id,
        targetId: user.id,
        entityType: "auth",
        after: { reason: "invalid_password" },
        ...meta,
      });
    throw new AppError("invalid_credentials", "Email or password is incorrect.");
  }
  const memberships = await deps.db.tx({ userId: user.id }, (tx) =>
    tx.select({ orgId: members.orgId, status: members.status }).from(members).where(eq(members.userId, user.id)),
  );
  const live = memberships.filter((m) => m.status !== "removed");
  if (!user.platformRole && live.length > 0 && live.every((m) => m.status === "inactive")) {
    await recordForUser(deps, user.id, "all", {
      action: "auth.sign_in_failed",
      actorId: user.id,
      targetId: user.id,
      entityType: "auth",
      after: { reason: "member_inactive" },
      ...meta,
    });
    throw new AppError("member_inactive", "Your account is deactivated. Ask an administrator to reactivate it.");
  }
  await resetLimit(deps.db, accountKey);
  const challenge = await deps.db.tx({ userId: user.id }, async (tx) =>
    (await hasConfirmedFactor(tx, user.id)) ? createChallenge(tx, user.id, meta, now) : null,
  );
  // The sign-in is audited when the second factor completes it (mfa/service.ts completeChallenge).
  if (challenge) return { kind: "mfa", ...challenge };
  const issued = await deps.db.tx({ userId: user.id }, (tx) => issueSession(tx, deps.config, user.id, meta, now));
  await recordForUser(deps, user.id, "active", {
    action: "auth.sign_in_succeeded",
    actorId: user.id,
    targetId: user.id,
    entityType: "auth",
    after: { sessionId: issued.session.id },
    ...meta,
  });
  return { kind: "session", issued, user };
}

export async function signOut(deps: AppDeps, userId: string, sessionId: string, meta: RequestMeta): Promise<void> {
  await deps.db.tx({ userId }, (tx) => revokeSession(tx, sessionId, deps.clock.now(), "signed_out"));
  await recordForUser(deps, userId, "active", {
    action: "auth.signed_out",
    actorId: userId,
    targetId: userId,
    entityType: "auth",
    after: { sessionId },
    ...meta,
  });
}

/** Sign-in events belong to the orgs of the user concerned: one chained event in each. */
export async function recordForUser(
  deps: AppDeps,
  userId: string,
  which: "active" | "all",
  event: AuditInput,
): Promise<void> {
  const orgs = await deps.db.tx({ userId }, (tx) =>
    tx.select({ orgId: members.orgId, status: members.status }).from(members).where(eq(members.userId, userId)),
  );
  for (const { orgId, status } of orgs) {
    if (status === "removed" || (which === "active" && status !== "active")) continue;
    await deps.db.tx({ orgId, userId }, (tx) => record(tx, orgId, deps.clock.now(), event));
  }
}
