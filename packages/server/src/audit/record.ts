import { sql } from "drizzle-orm";
import { rowsOf, type Tx } from "../db/database.ts";
import { auditHeads } from "../db/schema.ts";
import { newId } from "../lib/ids.ts";
import { canonicalAround, canonicalOrNull, GENESIS_HASH, hashCanonical, storable, type ChainedEvent } from "./chain.ts";

export const AUDIT_ACTIONS = [
  "team.invited",
  "team.invite_resent",
  "team.invite_accepted",
  "team.invite_revoked",
  "team.role_changed",
  "team.deactivated",
  "team.reactivated",
  "team.removed",
  "team.restored",
  "team.store_access_changed",
  "team.module_visibility_changed",
  "team.department_changed",
  "team.password_reset_requested",
  "team.name_changed",
  "team.sessions_revoked",
  "team.purged",
  "auth.sign_in_succeeded",
  "auth.sign_in_failed",
  "auth.signed_out",
  "auth.mfa_enrolled",
  "auth.mfa_removed",
  "api_key.created",
  "api_key.rotated",
  "api_key.revoked",
  "security.updated",
  "organization.created",
  "organization.updated",
  "role.created",
  "role.updated",
  "role.deleted",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "access_review.started",
  "access_review.decided",
  "access_review.completed",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditInput {
  action: AuditAction;
  actorId: string | null;
  targetId?: string | null;
  entityType: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  ip?: string | null;
  userAgent?: string | null;
}

/** Who did it and from where; services pass it through from the request. */
export interface RequestMeta {
  ip: string | null;
  userAgent: string | null;
}

/** Makes an org's chain ready (seq 0, genesis hash). Called in the transaction that creates the org. */
export async function startChain(tx: Tx, orgId: string): Promise<void> {
  await tx.insert(auditHeads).values({ orgId, lastSeq: 0, lastHash: GENESIS_HASH }).onConflictDoNothing();
}

const optional = (v: string | null | undefined): string | null => {
  // An empty string and null would look the same in a CSV export; the chain stores one of them only.
  if (v === undefined || v === null || v === "") return null;
  return storable(v);
};

/**
 * The one way to write an audit event: inside the caller's transaction, so the change and its event
 * commit or roll back together. The head row lock serializes appends to one org and no other; it is held
 * until the caller's transaction ends, which is what makes seq gapless.
 */
export async function record(
  tx: Tx,
  orgId: string,
  at: Date,
  input: AuditInput,
): Promise<ChainedEvent & { hash: string }> {
  const event: Omit<ChainedEvent, "seq"> = {
    orgId,
    id: newId("evt"),
    action: input.action,
    actorId: optional(input.actorId),
    targetId: optional(input.targetId),
    entityType: storable(input.entityType),
    before: storable(input.before ?? null),
    after: storable(input.after ?? null),
    ip: optional(input.ip),
    userAgent: optional(input.userAgent),
    createdAt: at.toISOString(),
  };
  // before/after in canonical form once: stored as they are, and part of the halves the database hashes.
  const payload = { before: canonicalOrNull(event.before), after: canonicalOrNull(event.after) };
  const [head, tail] = canonicalAround(event, payload);
  // One statement, one round trip: lock the head, take the next seq, hash SHA-256(prevHash ‖ canonical) in
  // the database (UTF-8, as chainHash does; the process's canonical form cut where the seq goes), append,
  // move the head. PostgreSQL fills the row's generated `computed_hash` column from the same fields with its own
  // spelling of the canonical form (migration 0017); a property test holds the two equal. Prepared once per
  // connection, as every query is.
  const rows = rowsOf<{ seq: string | number; hash: string; prev_hash: string }>(
    await tx.execute(
      sql`
    WITH head AS (
      SELECT last_seq + 1 AS seq, last_hash FROM audit_heads WHERE org_id = ${orgId} FOR UPDATE
    ), next AS (
      SELECT seq, last_hash AS prev_hash,
             encode(sha256(convert_to(last_hash || ${head}::text || seq::text || ${tail}::text, 'UTF8')), 'hex') AS hash
      FROM head
    ), appended AS (
      INSERT INTO audit_events (org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at, prev_hash, hash)
      SELECT ${orgId}, seq, ${event.id}, ${event.action}, ${event.actorId}, ${event.targetId}, ${event.entityType},
             ${payload.before}::text, ${payload.after}::text, ${event.ip}, ${event.userAgent}, ${event.createdAt}::timestamptz, prev_hash, hash
      FROM next
      RETURNING seq, hash, prev_hash
    )
    UPDATE audit_heads SET last_seq = appended.seq, last_hash = appended.hash
    FROM appended WHERE audit_heads.org_id = ${orgId}
    RETURNING appended.seq, appended.hash, appended.prev_hash`,
    ),
  );
  const row = rows[0];
  if (!row) throw new Error(`audit chain for org ${orgId} is not started`);
  const seq = Number(row.seq);
  // The database hashed what this process would have: a mismatch means the two disagree on the canonical bytes.
  if (hashCanonical(row.prev_hash, `${head}${seq}${tail}`) !== row.hash)
    throw new Error("audit hash computed by the database differs from the canonical form");
  return { ...event, seq, hash: row.hash };
}
