import { desc, eq, sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf } from "../db/database.ts";
import { organizations } from "../db/schema.ts";
import { monotonicFactory } from "ulid";
import type { Job } from "../jobs/scheduler.ts";
import { loadSigningKey, signCheckpoint, verifyCheckpoint, type SigningKey } from "./signing.ts";
import { auditCheckpoints } from "./tables.ts";

const ulid = monotonicFactory();
const checkpointId = () => `chk_${ulid().toLowerCase()}`;
import { verifyChain, type VerifyResult } from "./verify.ts";

/** The keys whose checkpoint signatures this installation accepts: its own signing key. */
export function trustedKeys(deps: Pick<AppDeps, "config">): SigningKey[] {
  return [loadSigningKey(deps.config)];
}

/** Verifies the org's whole chain against its checkpoints and head. */
export function verifyOrg(deps: Pick<AppDeps, "db" | "config">, orgId: string): Promise<VerifyResult> {
  return verifyChain(deps.db, orgId, { trustedKeys: trustedKeys(deps) });
}

export type CheckpointOutcome =
  | { status: "created"; seq: number; hash: string; keyId: string }
  | { status: "unchanged"; seq: number; hash: string }
  | { status: "refused"; verification: VerifyResult };

/**
 * Signs the org's current head, after verifying what was appended since the last valid checkpoint: a checkpoint
 * must never vouch for a chain that is already broken. Nothing new since the last checkpoint: nothing to sign.
 */
export async function createCheckpoint(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
  orgId: string,
): Promise<CheckpointOutcome> {
  const key = loadSigningKey(deps.config);
  const latest = await deps.db.tx({ orgId }, (tx) =>
    tx
      .select()
      .from(auditCheckpoints)
      .where(eq(auditCheckpoints.orgId, orgId))
      .orderBy(desc(auditCheckpoints.seq), desc(auditCheckpoints.createdAt))
      .limit(1),
  );
  const last = latest[0];
  const lastValid =
    last &&
    last.keyId === key.keyId &&
    verifyCheckpoint(key.publicKey, { orgId, seq: last.seq, hash: last.hash }, last.signature);
  const verification = await verifyChain(deps.db, orgId, {
    trustedKeys: [key],
    ...(last && lastValid ? { startAfter: { seq: last.seq, hash: last.hash } } : {}),
  });
  if (!verification.ok) return { status: "refused", verification };
  if (last && lastValid && verification.lastSeq === last.seq)
    return { status: "unchanged", seq: last.seq, hash: last.hash };
  const statement = { orgId, seq: verification.lastSeq, hash: verification.lastHash };
  await deps.db.tx({ orgId }, (tx) =>
    tx.insert(auditCheckpoints).values({
      orgId,
      id: checkpointId(),
      seq: statement.seq,
      hash: statement.hash,
      keyId: key.keyId,
      signature: signCheckpoint(key, statement),
      createdAt: deps.clock.now(),
    }),
  );
  return { status: "created", seq: statement.seq, hash: statement.hash, keyId: key.keyId };
}

/** Every org's id, read through the platform scope that row-level security grants installation-level work. */
export async function allOrgIds(deps: Pick<AppDeps, "db">): Promise<string[]> {
  const rows = await deps.db.tx({ platform: true }, (tx) =>
    tx.select({ id: organizations.id }).from(organizations).orderBy(organizations.id),
  );
  return rows.map((r) => r.id);
}

/** Checkpoints every org; a broken chain is reported (the job's last_error) after the others are done. */
export async function checkpointAll(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
): Promise<Map<string, CheckpointOutcome>> {
  const out = new Map<string, CheckpointOutcome>();
  for (const orgId of await allOrgIds(deps)) out.set(orgId, await createCheckpoint(deps, orgId));
  return out;
}

export const auditCheckpointJob: Job = {
  name: "audit.checkpoint",
  intervalSeconds: 3600,
  async run(deps) {
    const results = await checkpointAll(deps);
    const broken = [...results]
      .filter(([, r]) => r.status === "refused")
      .map(([orgId, r]) => {
        const v = r.status === "refused" ? r.verification : null;
        return v && !v.ok ? `${orgId} (seq ${v.brokenAtSeq}: ${v.reason})` : orgId;
      });
    if (broken.length > 0) throw new Error(`audit chain broken, not checkpointed: ${broken.join(", ")}`);
  },
};

/** The newest checkpoints of an org, for operators. */
export async function listCheckpoints(deps: Pick<AppDeps, "db">, orgId: string, limit = 20) {
  const res = await deps.db.tx({ orgId }, (tx) =>
    tx.execute(
      sql`SELECT seq, hash, key_id, signature, created_at FROM audit_checkpoints WHERE org_id = ${orgId} ORDER BY seq DESC, created_at DESC LIMIT ${limit}`,
    ),
  );
  return rowsOf<{ seq: string | number; hash: string; key_id: string; signature: string; created_at: Date | string }>(
    res,
  );
}
