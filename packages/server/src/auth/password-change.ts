import { eq } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { users } from "../db/schema.ts";
import { AppError } from "../http/errors.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "./passwords.ts";
import { hitLimit } from "./rate-limit.ts";
import { revokeUserSessions } from "./sessions.ts";

const WRONG_PASSWORD_LIMIT = { max: 10, windowSeconds: 15 * 60 };

/**
 * Changes the signed-in user's password after checking the current one, and ends every other session: a
 * password change is what people do when they suspect someone else is in. The calling session stays.
 */
export async function changePassword(
  deps: AppDeps,
  userId: string,
  currentSessionId: string,
  input: { currentPassword: string; newPassword: string },
): Promise<{ sessionsEnded: number }> {
  const now = deps.clock.now();
  const [user] = await deps.db.tx({ userId }, (tx) =>
    tx.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId)),
  );
  if (!(await verifyPassword(user?.passwordHash ?? null, input.currentPassword, deps.config.argon2))) {
    const state = await hitLimit(deps.db, `password-change:${userId}`, WRONG_PASSWORD_LIMIT, now);
    if (!state.allowed)
      throw new AppError("rate_limited", "Too many wrong passwords. Try again later.", {
        retryAfterSeconds: state.retryAfterSeconds,
      });
    throw new AppError("current_password_incorrect", "The current password is not correct.", {
      param: "currentPassword",
    });
  }
  checkPasswordPolicy(input.newPassword, "newPassword");
  const passwordHash = await hashPassword(input.newPassword, deps.config.argon2);
  return deps.db.tx({ userId }, async (tx) => {
    await tx.update(users).set({ passwordHash, updatedAt: now }).where(eq(users.id, userId));
    return { sessionsEnded: await revokeUserSessions(tx, userId, now, "password_changed", currentSessionId) };
  });
}
