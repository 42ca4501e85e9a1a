import type { ScriptRunner } from "../db/types.ts";
import { canonicalJson } from "./chain.ts";

const BATCH = 5_000;

/**
 * Rewrites every audit event's `before`/`after` text to its RFC 8785 canonical form where it is not already.
 * Migration 0005 turned those jsonb columns into text with PostgreSQL's own rendering ({"a": 1}); the chain
 * hashed the canonical form ({"a":1}), which is what the generated `canonical` column must reproduce.
 * Idempotent; runs as the owner, in the migration's transaction. The values are unchanged (JSON-equal), only
 * their spelling.
 */
export async function canonicalizeAuditPayloads(run: ScriptRunner): Promise<number> {
  // The owner may not be a superuser: row-level security is FORCE'd on audit_events and allows no UPDATE.
  await run.exec("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY");
  let changed = 0;
  let cursor: [string, string] = ["", "0"];
  for (;;) {
    const rows = await run.query<{ org_id: string; seq: string; before: string | null; after: string | null }>(
      `SELECT org_id, seq::text AS seq, before, after FROM audit_events
        WHERE (org_id, seq) > ($1, $2::bigint) AND (before IS NOT NULL OR after IS NOT NULL)
        ORDER BY org_id, seq LIMIT ${BATCH}`,
      cursor,
    );
    const fix = {
      org: [] as string[],
      seq: [] as string[],
      before: [] as Array<string | null>,
      after: [] as Array<string | null>,
    };
    for (const r of rows) {
      const before = r.before === null ? null : canonicalJson(JSON.parse(r.before) as unknown);
      const after = r.after === null ? null : canonicalJson(JSON.parse(r.after) as unknown);
      if (before === r.before && after === r.after) continue;
      fix.org.push(r.org_id);
      fix.seq.push(r.seq);
      fix.before.push(before);
      fix.after.push(after);
    }
    if (fix.org.length > 0) {
      await run.query(
        `UPDATE audit_events e SET before = u.before, after = u.after
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS u(org_id, seq, before, after)
          WHERE e.org_id = u.org_id AND e.seq = u.seq`,
        [fix.org, fix.seq, fix.before, fix.after],
      );
      changed += fix.org.length;
    }
    const last = rows[rows.length - 1];
    if (!last || rows.length < BATCH) break;
    cursor = [last.org_id, last.seq];
  }
  await run.exec("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY");
  return changed;
}
