import { and, inArray, lt, or, isNotNull } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import type { Job } from "../jobs/scheduler.ts";
import { passwordResets } from "../auth/password-reset.ts";
import { bindOutboxScope } from "./outbox.ts";
import { outbox } from "./tables.ts";

/** Delivered and failed mail is kept this long (dev mailbox, operators' debugging), then deleted. */
export const OUTBOX_RETENTION_DAYS = 7;

export async function cleanupMail(deps: AppDeps): Promise<{ messages: number; resetTokens: number }> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - OUTBOX_RETENTION_DAYS * 86_400_000);
  return deps.db.tx({}, async (tx) => {
    await bindOutboxScope(tx);
    const messages = await tx
      .delete(outbox)
      .where(and(inArray(outbox.status, ["sent", "failed"]), lt(outbox.createdAt, cutoff)))
      .returning({ id: outbox.id });
    const resetTokens = await tx
      .delete(passwordResets)
      .where(
        or(
          lt(passwordResets.expiresAt, cutoff),
          and(isNotNull(passwordResets.usedAt), lt(passwordResets.createdAt, cutoff)),
        ),
      )
      .returning({ id: passwordResets.id });
    return { messages: messages.length, resetTokens: resetTokens.length };
  });
}

export const mailCleanupJob: Job = {
  name: "mail.cleanup",
  intervalSeconds: 6 * 3600,
  run: async (deps) => {
    await cleanupMail(deps);
  },
};
