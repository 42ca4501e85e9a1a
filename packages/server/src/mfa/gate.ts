import { sql } from "drizzle-orm";
import { rowsOf, type Tx } from "../db/database.ts";

/**
 * What org-wide MFA asks of a session before anything else (docs/decisions/0004-mfa-api-keys-and-org-security.md):
 * - "enrolment": the user is an active member of an org that requires MFA and has no confirmed factor;
 *   the session reaches only enrolment (403 mfa_enrollment_required elsewhere);
 * - "verification": such an org, a confirmed factor, but no second factor verified in this session (it was
 *   signed in before the factor was set up elsewhere); it may only sign out (403 mfa_required elsewhere);
 * - null: nothing.
 * The transaction must be bound to the user: row-level security shows their memberships and factor.
 */
export type MfaGate = "enrolment" | "verification" | null;

/** What the gate is decided from; sessions keep it in their cache entry (auth/sessions.ts). */
export async function mfaState(tx: Tx, userId: string): Promise<{ mfaRequired: boolean; mfaEnrolled: boolean }> {
  const result = await tx.execute(sql`
    SELECT EXISTS (
      SELECT 1 FROM members m JOIN organizations o ON o.id = m.org_id
      WHERE m.user_id = ${userId} AND m.status = 'active' AND o.settings @> '{"requireMfa": true}'::jsonb
    ) AS required, EXISTS (
      SELECT 1 FROM mfa_factors f WHERE f.user_id = ${userId} AND f.confirmed_at IS NOT NULL
    ) AS enrolled`);
  const row = rowsOf<{ required: boolean; enrolled: boolean }>(result)[0];
  return { mfaRequired: row?.required ?? false, mfaEnrolled: row?.enrolled ?? false };
}

export function gateOf(required: boolean, enrolled: boolean, sessionVerified: boolean): MfaGate {
  if (!required) return null;
  if (!enrolled) return "enrolment";
  return sessionVerified ? null : "verification";
}
