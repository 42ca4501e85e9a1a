import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type * as schema from "./schema.ts";
import type { CacheHub } from "../cache/hub.ts";
import type { LastSeen } from "../cache/last-seen.ts";
import type { EventFeed } from "./event-feed.ts";

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
  /**
   * Runs `fn`'s queries as the application role with `scope` bound, read-only and outside a transaction: each
   * query is one round trip, binding included. For handlers that only read (a write fails).
   */
  read<T>(scope: Scope, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs `fn` as the connection's owner role, bypassing row-level security: migrations and operator commands only. */
  owner<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  /** This instance's request-path caches, emptied by the database's change notifications (cache/hub.ts). */
  readonly cache: CacheHub;
  /** Committed events' notifications, from the same listening connection as the caches' (db/event-feed.ts). */
  readonly events: EventFeed;
  /** Session activity not yet written (auth/sessions.ts). */
  readonly lastSeen: LastSeen;
  /**
   * Resolves once every change committed before the call has been delivered to this instance's caches: a
   * marker sent through the database comes back after them (notifications arrive in commit order).
   */
  cacheSync(): Promise<void>;
  /** The server process id of the listening connection, or null (PGlite, or not listening now). */
  listenerPid(): number | null;
  /** Flushes session activity, stops listening and closes the connections. */
  close(): Promise<void>;
}
