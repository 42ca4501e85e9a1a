import { eq, sql } from "drizzle-orm";
import type { Tx } from "../db/database.ts";
import { members } from "../db/schema.ts";
import { record, type AuditInput } from "../audit/record.ts";

/**
 * A change to the user (a factor enrolled, a sign-in completed) is an event in each org they belong to.
 * This writes one chained event per org inside the caller's transaction, so the change and its events commit
 * together. The transaction must be bound to `userId`; the org binding is switched per event and cleared after.
 * Orgs are visited in id order so two such transactions always take the audit head locks in the same order.
 */
export async function recordInUserOrgs(
  tx: Tx,
  userId: string,
  at: Date,
  which: "active" | "all",
  event: AuditInput,
): Promise<number> {
  const rows = await tx
    .select({ orgId: members.orgId, status: members.status })
    .from(members)
    .where(eq(members.userId, userId));
  const orgIds = rows
    .filter((m) => m.status !== "removed" && (which === "all" || m.status === "active"))
    .map((m) => m.orgId)
    .sort();
  for (const orgId of orgIds) {
    await tx.execute(sql`SELECT set_config('roster.org_id', ${orgId}, true)`);
    await record(tx, orgId, at, event);
  }
  if (orgIds.length > 0) await tx.execute(sql`SELECT set_config('roster.org_id', '', true)`);
  return orgIds.length;
}
