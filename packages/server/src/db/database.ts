import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { sql } from "drizzle-orm";
import { drizzle as drizzlePglite, PgliteSession, PgliteTransaction } from "drizzle-orm/pglite";
import { drizzle as drizzlePg, NodePgSession, NodePgTransaction } from "drizzle-orm/node-postgres";
import type { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import * as schema from "./schema.ts";
import type { Database, Db, Scope, Tx } from "./types.ts";
import { migrate } from "./migrate.ts";
import { PgListener } from "./listener.ts";
import { EVENTS_CHANNEL, EventFeed } from "./event-feed.ts";
import { CACHE_CHANNEL, CacheHub } from "../cache/hub.ts";
import { LastSeen } from "../cache/last-seen.ts";
import { boundPgClient, boundPgliteClient, PGLITE_PARSERS } from "./bound-client.ts";

export type { Database, Db, Scope, ScriptRunner, Tx } from "./types.ts";

/** Rows of a raw `execute`, the same for both drivers. */
export function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** PGlite data directory; `memory://` keeps everything in memory (tests). */
  dataDir?: string | undefined;
  poolSize?: number;
  /** Stop migrating after this migration (tests that start from an older schema). */
  migrateUpTo?: string | undefined;
  /**
   * Where the listening connection connects, when it cannot go through `databaseUrl` (a transaction-mode
   * pooler does not carry LISTEN): the server itself or a session-mode pool. Default `databaseUrl`.
   */
  listenUrl?: string | undefined;
  /** How often session activity is written (milliseconds); default 5 s. */
  lastSeenFlushMs?: number;
}

const LAST_SEEN_FLUSH_MS = 5_000;
const SYNC_TIMEOUT_MS = 2_000;

/** Writes a batch of session activity (roster_touch_sessions, migration 0007). */
function lastSeenWriter(tx: Database["tx"]) {
  return async (seen: Record<string, string>) => {
    await tx({}, (t) => t.execute(sql`SELECT roster_touch_sessions(${JSON.stringify(seen)}::jsonb)`));
  };
}

/**
 * Waits for the marker `nonce` to come back on the listening connection. If it does not in time, the caches are
 * emptied instead: what they hold can no longer be vouched for.
 */
async function awaitMarker(hub: CacheHub, nonce: string, back: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), SYNC_TIMEOUT_MS);
  });
  try {
    if (await Promise.race([back.then(() => false), timedOut])) hub.invalidateAll();
  } finally {
    clearTimeout(timer);
    hub.dropSyncWaiter(nonce);
  }
}

/** Sends a marker through the database and waits for it to come back on the listening connection. */
async function syncThrough(hub: CacheHub, send: (payload: string) => Promise<unknown>): Promise<void> {
  if (!hub.trusted) return; // nothing is served from memory while not listening
  const nonce = hub.nextNonce();
  const back = hub.waitForSync(nonce);
  try {
    await send(`sync ${nonce}`);
  } catch (err) {
    hub.dropSyncWaiter(nonce);
    throw err;
  }
  await awaitMarker(hub, nonce, back);
}

/**
 * Run last in every application transaction: when a trigger of migration 0007 announced a change, a marker
 * follows the change's notifications (same transaction, so it is delivered right after them, at commit).
 */
function markerStatement(nonce: string): string {
  return (
    `SELECT current_setting('roster.notified', true) = 'on' AS notified, ` +
    `CASE WHEN current_setting('roster.notified', true) = 'on' THEN pg_notify('${CACHE_CHANNEL}', 'sync ${nonce}') END`
  );
}

/**
 * The statement that binds a transaction to the application role and a scope. set_config('role', …, true) is
 * SET LOCAL ROLE, so role and scope arrive together; values are literals (escaped by the driver) so that it can
 * travel in one simple-protocol message with BEGIN on PostgreSQL.
 */
function bindScopeStatement(scope: Scope): string {
  const lit = (v: string) => pg.escapeLiteral(v);
  return (
    `SELECT set_config('role', 'roster_app', true), set_config('roster.org_id', ${lit(scope.orgId ?? "")}, true), ` +
    `set_config('roster.user_id', ${lit(scope.userId ?? "")}, true), set_config('roster.platform', ${lit(scope.platform ? "on" : "")}, true)`
  );
}

/** The binding for a read outside a transaction: sent with every query, which it also makes read-only. */
function readBindStatement(scope: Scope): string {
  return `${bindScopeStatement(scope)}, set_config('transaction_read_only', 'on', true)`;
}

type SessionArgs = ConstructorParameters<typeof NodePgSession>;

/** What drizzle keeps on the database object it built (pg-core PgDatabase and its session). */
function drizzleParts(db: Db) {
  return db as unknown as { dialect: PgDialect; session: { schema: SessionArgs[2]; options: SessionArgs[3] } };
}

/** A drizzle transaction object whose queries go through `client` (a bound client of bound-client.ts). */
function pgTx(db: Db, client: unknown): Tx {
  const { dialect, session } = drizzleParts(db);
  return new NodePgTransaction(
    dialect,
    new NodePgSession(client as SessionArgs[0], dialect, session.schema, session.options),
    session.schema,
  ) as unknown as Tx;
}

function pgliteTx(db: Db, client: unknown): Tx {
  const { dialect, session } = drizzleParts(db);
  type Args = ConstructorParameters<typeof PgliteSession>;
  return new PgliteTransaction(
    dialect,
    new PgliteSession(client as Args[0], dialect, session.schema, session.options),
    session.schema,
  ) as unknown as Tx;
}

/**
 * A read on PostgreSQL: no transaction; each query travels in one message with the scope binding (a
 * multi-statement message is one implicit transaction, so the binding holds for the query and ends with it).
 * Under READ COMMITTED, statements of one transaction do not share a snapshot either, so nothing is lost.
 */
async function scopedPgRead<T>(pool: pg.Pool, db: Db, scope: Scope, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(pgTx(db, boundPgClient(client, readBindStatement(scope), true).client));
  } finally {
    client.release();
  }
}

/**
 * A transaction on PostgreSQL in which BEGIN and the scope binding travel with the first query, as one
 * simple-protocol message; every query is a prepared statement (bound-client.ts). Queries go through drizzle's
 * session on the checked-out client, as drizzle's transaction() would.
 */
async function scopedPgTransaction<T>(
  pool: pg.Pool,
  db: Db,
  hub: CacheHub,
  scope: Scope,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  const { bound, client: boundClient } = boundPgClient(client, `BEGIN; ${bindScopeStatement(scope)}`, false);
  const tx = pgTx(db, boundClient);
  let broken: Error | undefined;
  let released = false;
  // Registered before the marker can possibly arrive; dropped at once when the transaction changed nothing cached.
  const nonce = hub.trusted ? hub.nextNonce() : null;
  const back = nonce ? hub.waitForSync(nonce) : null;
  try {
    const result = await fn(tx);
    if (!bound.started) {
      // Nothing reached the database: there is nothing to commit and nothing changed.
      if (nonce) hub.dropSyncWaiter(nonce);
      return result;
    }
    if (!nonce || !back) {
      await client.query("COMMIT");
      return result;
    }
    // The marker check travels with COMMIT: no round trip more than a plain commit.
    const results = (await client.query(`${markerStatement(nonce)}; COMMIT`)) as unknown as pg.QueryResult[];
    const notified = (results[0]?.rows[0] as { notified?: boolean } | undefined)?.notified === true;
    client.release();
    released = true;
    // The change reached this instance's caches before its caller answers: its own next request sees it.
    if (notified) await awaitMarker(hub, nonce, back);
    else hub.dropSyncWaiter(nonce);
    return result;
  } catch (err) {
    if (nonce) hub.dropSyncWaiter(nonce);
    if (released || !bound.started) throw err;
    await client.query("ROLLBACK").catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    // A connection that could not even roll back is not given to the next request.
    if (!released) client.release(broken);
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
    // A broken idle connection must not crash the process; the next checkout reconnects.
    pool.on("error", () => undefined);
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    const hub = new CacheHub();
    const events = new EventFeed();
    const notify = (payload: string) => pool.query("SELECT pg_notify($1, $2)", [CACHE_CHANNEL, payload]);
    const listener = new PgListener(options.listenUrl || options.databaseUrl, hub, notify, events);
    const tx: Database["tx"] = (scope, fn) => scopedPgTransaction(pool, db, hub, scope, fn);
    const lastSeen = new LastSeen(lastSeenWriter(tx), options.lastSeenFlushMs ?? LAST_SEEN_FLUSH_MS);
    const database: Database = {
      kind: "postgres",
      tx,
      read: (scope, fn) => scopedPgRead(pool, db, scope, fn),
      cache: hub,
      events,
      lastSeen,
      cacheSync: () => syncThrough(hub, notify),
      listenerPid: () => listener.backendPid,
      owner: (fn) => fn(db),
      script: async (fn) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          const result = await fn({
            exec: async (text) => {
              await client.query(text);
            },
            query: async <T>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as T[],
          });
          await client.query("COMMIT");
          return result;
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      },
      ping: async () => {
        await db.execute(sql`SELECT 1`);
      },
      close: async () => {
        await lastSeen.close();
        await listener.close();
        await pool.end();
      },
    };
    await migrate(database, { upTo: options.migrateUpTo });
    await listener.start();
    return database;
  }
  const dataDir = options.dataDir ?? "./data";
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  // pg_trgm: member search reads trigram indexes here too (migrations 0008 and 0013).
  const client = new PGlite(dataDir, { parsers: PGLITE_PARSERS, extensions: { pg_trgm } });
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const hub = new CacheHub();
  const events = new EventFeed();
  const tx: Database["tx"] = async (scope, fn) => {
    const nonce = hub.trusted ? hub.nextNonce() : null;
    const back = nonce ? hub.waitForSync(nonce) : null;
    let notified = false;
    try {
      const result = await client.transaction(async (ptx) => {
        // PGlite has begun; the binding goes with the first query (bound-client.ts).
        const value = await fn(pgliteTx(db, boundPgliteClient(ptx, client, bindScopeStatement(scope), false).client));
        if (nonce) {
          const marker = await ptx.query<{ notified: boolean }>(markerStatement(nonce));
          notified = marker.rows[0]?.notified === true;
        }
        return value;
      });
      if (nonce && back && notified) await awaitMarker(hub, nonce, back);
      return result;
    } finally {
      if (nonce) hub.dropSyncWaiter(nonce);
    }
  };
  const lastSeen = new LastSeen(lastSeenWriter(tx), options.lastSeenFlushMs ?? LAST_SEEN_FLUSH_MS);
  const database: Database = {
    kind: "pglite",
    tx,
    // PGlite runs one message at a time (exec waits for any open transaction), so a read's binding and query
    // cannot interleave with anything else.
    read: (scope, fn) => fn(pgliteTx(db, boundPgliteClient(client, client, readBindStatement(scope), true).client)),
    cache: hub,
    events,
    lastSeen,
    cacheSync: () => syncThrough(hub, (payload) => client.query("SELECT pg_notify($1, $2)", [CACHE_CHANNEL, payload])),
    listenerPid: () => null,
    owner: (fn) => fn(db),
    script: (fn) =>
      client.transaction((tx) =>
        fn({
          exec: async (text) => {
            await tx.exec(text);
          },
          query: async <T>(text: string, params: unknown[] = []) => (await tx.query<T>(text, params)).rows,
        }),
      ),
    ping: async () => {
      await db.execute(sql`SELECT 1`);
    },
    close: async () => {
      await lastSeen.close();
      hub.setListening(false);
      await unlisten().catch(() => undefined);
      await unlistenEvents().catch(() => undefined);
      await client.close();
    },
  };
  await migrate(database, { upTo: options.migrateUpTo });
  // One process, one connection: the notification of a change arrives with its COMMIT.
  const unlisten = await client.listen(CACHE_CHANNEL, (payload) => hub.receive(payload));
  const unlistenEvents = await client.listen(EVENTS_CHANNEL, (payload) => events.emit(payload));
  hub.setListening(true);
  return database;
}
