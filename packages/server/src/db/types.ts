import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type * as schema from "./schema.ts";

type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

/** What a transaction may see. Row-level security reads these; anything unset matches no org row. */
export interface Scope {
  orgId?: string | null;
  userId?: string | null;
  /** Installation-level reads (the tenant list) for platform roles. */
  platform?: boolean;
}

/** Raw access on one connection inside one owner transaction: multi-statement SQL scripts (migrations). */
export interface ScriptRunner {
  exec(script: string): Promise<void>;
  query<T>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface Database {
  readonly kind: "pglite" | "postgres";
  /** Runs `fn` in one owner transaction on a single connection, for SQL scripts. */
  script<T>(fn: (run: ScriptRunner) => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction as the application role, with `scope` bound for row-level security. */
  tx<T>(scope: Scope, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs `fn` as the connection's owner role, bypassing row-level security: migrations and operator commands only. */
  owner<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
