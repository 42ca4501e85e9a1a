import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Database, ScriptRunner } from "./types.ts";
import { canonicalizeAuditPayloads } from "../audit/canonicalize.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations/", import.meta.url));
// Any constant works; it only has to be the same for every instance so two of them never migrate at once.
const MIGRATION_LOCK = 7_352_118_004;

/** Data steps that SQL alone cannot do, run right after their migration in the same transaction. */
const DATA_STEPS: Record<string, (run: ScriptRunner) => Promise<unknown>> = {
  "0005_audit_canonical.sql": canonicalizeAuditPayloads,
};

export function listMigrations(): Array<{ name: string; sql: string }> {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, sql: readFileSync(MIGRATIONS_DIR + name, "utf8") }));
}

/**
 * Applies the committed SQL migrations in file-name order, in one transaction, once per database.
 * `upTo` stops after the named migration (tests that start from an older schema).
 */
export async function migrate(database: Database, opts: { upTo?: string | undefined } = {}): Promise<string[]> {
  return database.script(async (run) => {
    await run.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await run.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const applied = new Set(
      (await run.query<{ name: string }>("SELECT name FROM schema_migrations")).map((r) => r.name),
    );
    const ran: string[] = [];
    for (const m of listMigrations()) {
      if (applied.has(m.name)) continue;
      if (opts.upTo !== undefined && m.name > opts.upTo) break;
      await run.exec(m.sql);
      await DATA_STEPS[m.name]?.(run);
      await run.query("INSERT INTO schema_migrations (name) VALUES ($1)", [m.name]);
      ran.push(m.name);
    }
    return ran;
  });
}
