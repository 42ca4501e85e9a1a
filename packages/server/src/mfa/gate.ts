import { sql } from "drizzle-orm";
import { rowsOf, type Tx } from "../db/database.ts";

/**
 * True when the user is an active member of an org that requires MFA and has no confirmed factor yet. Such a
 * session reaches only enrolment (see docs/decisions/0004-mfa-api-keys-and-org-security.md). The transaction must be bound to
 * the user: row-level security shows their memberships and factor, and the orgs they belong to.
 */
export async function mfaEnrolmentDue(tx: Tx, userId: string): Promise<boolean> {
  const result = await tx.execute(sql`
    SELECT EXISTS (
      SELECT 1 FROM members m JOIN organizations o ON o.id = m.org_id
      WHERE m.user_id = ${userId} AND m.status = 'active' AND o.settings @> '{"requireMfa": true}'::jsonb
    ) AND NOT EXISTS (
      SELECT 1 FROM mfa_factors f WHERE f.user_id = ${userId} AND f.confirmed_at IS NOT NULL
    ) AS due`);
  return rowsOf<{ due: boolean }>(result)[0]?.due === true;
}
