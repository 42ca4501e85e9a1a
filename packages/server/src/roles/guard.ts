import { and, eq } from "drizzle-orm";
import type { Tx } from "../db/database.ts";
import { AppError } from "../http/errors.ts";
import type { OrgContext } from "../http/principal.ts";
import { roleVersion } from "./effective.ts";
import { orgRoles } from "./tables.ts";

/**
 * A change decided against a custom role as this instance has it cached (an invitation with that role, a
 * role change to it, a role definition by one of its holders) holds the role's row for the rest of its
 * transaction and checks it is the version the decision saw. A concurrent edit or delete of the role either
 * waits for this transaction or has already committed, and then this one is refused with 409 `role_changed`
 * instead of granting what the role no longer is. Built-in roles have no row and need nothing.
 */
export async function holdRole(
  tx: Tx,
  ctx: OrgContext,
  key: string,
  mode: "share" | "update" = "share",
): Promise<void> {
  const expected = roleVersion(ctx.policy, key);
  if (expected === undefined) return;
  const [row] = await tx
    .select({ version: orgRoles.version })
    .from(orgRoles)
    .where(and(eq(orgRoles.orgId, ctx.org.id), eq(orgRoles.key, key)))
    .for(mode === "share" ? "share" : "update");
  if (row?.version !== expected) {
    throw new AppError(
      "role_changed",
      `The role "${key}" was changed or deleted while this request ran. Reload and try again.`,
    );
  }
}
