import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Database } from "./database.ts";

const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations/", import.meta.url));
// Any constant works; it only has to be the same for every instance so two of them never migrate at once.
const MIGRATION_LOCK = 7_352_118_004;

export function listMigrations(): Array<{ name: string; sql: string }> {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((name) => ({ name, sql: readFileSync(MIGRATIONS_DIR + name, "utf8") }));
}

/** Applies the committed SQL migrations in file-name order, in one transaction, once per database. */
export async function migrate(database: Database): Promise<string[]> {
  return database.script(async (run) => {
    await run.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await run.exec("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const applied = new Set((await run.query<{ name: string }>("SELECT name FROM schema_migrations")).map((r) => r.name));
    const ran: string[] = [];
    for (const m of listMigrations()) {
      if (applied.has(m.name)) continue;
      await run.exec(m.sql);
      await run.query("INSERT INTO schema_migrations (name) VALUES ($1)", [m.name]);
      ran.push(m.name);
    }
    return ran;
  });
}
