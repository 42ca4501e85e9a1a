import { and, eq } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf } from "../db/database.ts";
import { members } from "../db/schema.ts";
import { sql } from "drizzle-orm";
import { record } from "../audit/record.ts";
import type { Job } from "../jobs/scheduler.ts";
import { RESTORE_DAYS } from "./service.ts";

const BATCH = 500;

/**
 * Deletes memberships removed more than RESTORE_DAYS ago. The person's account stays (other orgs, their
 * sign-in), and audit events keep their ids, so history stays attributed to a former member.
 */
export async function purgeRemovedMembers(deps: AppDeps): Promise<number> {
  const cutoff = new Date(deps.clock.now().getTime() - RESTORE_DAYS * 86_400_000);
  let purged = 0;
  for (;;) {
    const due = rowsOf<{ org_id: string; member_id: string }>(
      await deps.db.tx({}, (tx) =>
        tx.execute(sql`SELECT org_id, member_id FROM roster_purgeable_members(${cutoff}, ${BATCH})`),
      ),
    );
    for (const { org_id: orgId, member_id: memberId } of due) {
      await deps.db.tx({ orgId }, async (tx) => {
        const now = deps.clock.now();
        // Re-checked under the row lock: a restore may have won the race since the list was read.
        const [m] = await tx
          .select()
          .from(members)
          .where(and(eq(members.orgId, orgId), eq(members.id, memberId)))
          .for("update");
        if (!m || m.status !== "removed" || !m.removedAt || m.removedAt > cutoff) return;
        await tx.delete(members).where(and(eq(members.orgId, orgId), eq(members.id, memberId)));
        await record(tx, orgId, now, {
          action: "team.purged",
          actorId: null,
          targetId: memberId,
          entityType: "team",
          before: { userId: m.userId, role: m.role, status: "removed", removedAt: m.removedAt.toISOString() },
          after: null,
        });
        purged++;
      });
    }
    if (due.length < BATCH) return purged;
  }
}

export const purgeRemovedMembersJob: Job = {
  name: "team.purge_removed_members",
  intervalSeconds: 3600,
  run: async (deps) => {
    await purgeRemovedMembers(deps);
  },
};
