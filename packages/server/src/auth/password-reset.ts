import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { users } from "../db/schema.ts";
import { AppError } from "../http/errors.ts";
import { newId } from "../lib/ids.ts";
import { hashToken, newToken } from "../lib/tokens.ts";
import type { RequestMeta } from "../audit/record.ts";
import { enqueueMail } from "../mail/outbox.ts";
import { passwordResetMail } from "../mail/templates.ts";
import { checkPasswordPolicy, hashPassword } from "./passwords.ts";
import { hitLimit } from "./rate-limit.ts";
import { findUserByEmail, normalizeEmail } from "./service.ts";
import { revokeUserSessions } from "./sessions.ts";

/** Installation-level, like sessions (migration 0003_team.sql): reached only by the token's hash. */
export const passwordResets = pgTable("password_resets", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  tokenHash: text("token_hash").notNull(),
  orgId: text("org_id"),
  requestedBy: text("requested_by"),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  usedAt: ts("used_at"),
});

export const RESET_LIFETIME_MINUTES = 60;
export const RESET_TOKEN_PREFIX = "rp";
/** Forgot-password requests: per address of the caller, and per target account (silently dropped beyond it). */
export const FORGOT_LIMITS = {
  perIp: { max: 20, windowSeconds: 15 * 60 },
  perAccount: { max: 3, windowSeconds: 60 * 60 },
};

export const resetLink = (publicUrl: string, token: string) =>
  `${publicUrl}/reset-password?token=${encodeURIComponent(token)}`;

/** A new single-use token; the links sent earlier stop working so only the newest email is valid. */
export async function createResetToken(
  tx: Tx,
  userId: string,
  now: Date,
  by: { orgId: string | null; requestedBy: string | null },
): Promise<{ token: string; expiresAt: Date }> {
  const token = newToken(RESET_TOKEN_PREFIX);
  const expiresAt = new Date(now.getTime() + RESET_LIFETIME_MINUTES * 60_000);
  await tx
    .update(passwordResets)
    .set({ usedAt: now })
    .where(and(eq(passwordResets.userId, userId), isNull(passwordResets.usedAt)));
  await tx.insert(passwordResets).values({
    id: newId("job").replace("job_", "rst_"),
    userId,
    tokenHash: hashToken(token),
    orgId: by.orgId,
    requestedBy: by.requestedBy,
    createdAt: now,
    expiresAt,
    usedAt: null,
  });
  return { token, expiresAt };
}

/**
 * Self-service entry point. The caller learns nothing: known and unknown addresses get the same answer, and a
 * throttled account is dropped silently. Only the caller's address is refused openly (429).
 */
export async function requestPasswordReset(deps: AppDeps, email: string, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  const ip = await hitLimit(deps.db, `forgot:ip:${meta.ip ?? "unknown"}`, FORGOT_LIMITS.perIp, now);
  if (!ip.allowed)
    throw new AppError("rate_limited", "Too many password reset requests from this address. Try again later.", {
      retryAfterSeconds: ip.retryAfterSeconds,
    });
  const acct = await hitLimit(deps.db, `forgot:acct:${normalizeEmail(email)}`, FORGOT_LIMITS.perAccount, now);
  if (!acct.allowed) return;
  const user = await findUserByEmail(deps, email);
  if (!user) return;
  await deps.db.tx({ userId: user.id }, async (tx) => {
    const { token } = await createResetToken(tx, user.id, now, { orgId: null, requestedBy: null });
    await enqueueMail(tx, deps.config.secretKey, now, {
      orgId: null,
      kind: "password_reset",
      to: user.email,
      causedBy: null,
      content: passwordResetMail({
        url: resetLink(deps.config.publicUrl, token),
        lifetimeMinutes: RESET_LIFETIME_MINUTES,
        requestedByAdmin: false,
      }),
    });
  });
}

/**
 * Sets the password and ends every session of the user. The token is spent by a conditional update, so two
 * concurrent uses cannot both succeed. Nobody is signed in by this: the next sign-in still asks for MFA.
 */
export async function completePasswordReset(deps: AppDeps, token: string, password: string): Promise<void> {
  checkPasswordPolicy(password);
  const passwordHash = await hashPassword(password, deps.config.argon2);
  const now = deps.clock.now();
  const invalidToken = () =>
    new AppError("reset_token_invalid", "This reset link is invalid, already used or expired. Request a new one.", {
      param: "token",
    });
  if (!token.startsWith(`${RESET_TOKEN_PREFIX}_`)) throw invalidToken();
  await deps.db.tx({}, async (tx) => {
    const spent = await tx
      .update(passwordResets)
      .set({ usedAt: now })
      .where(
        and(
          eq(passwordResets.tokenHash, hashToken(token)),
          isNull(passwordResets.usedAt),
          gt(passwordResets.expiresAt, now),
        ),
      )
      .returning({ userId: passwordResets.userId });
    const userId = spent[0]?.userId;
    if (!userId) throw invalidToken();
    await tx.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, userId));
    await revokeUserSessions(tx, userId, now, "password_reset");
    // Sign-in failures counted against the account no longer mean anything once the password changed.
    const [u] = await tx.select({ email: users.email }).from(users).where(eq(users.id, userId));
    if (u) await tx.execute(sql`DELETE FROM rate_limits WHERE key = ${`signin:acct:${normalizeEmail(u.email)}`}`);
  });
}
