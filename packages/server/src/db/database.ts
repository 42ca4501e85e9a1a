import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { sql, type SQL } from "drizzle-orm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { drizzle as drizzlePg, NodePgSession, NodePgTransaction } from "drizzle-orm/node-postgres";
import type { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import * as schema from "./schema.ts";
import type { Database, Db, Scope, Tx } from "./types.ts";
import { migrate } from "./migrate.ts";

export type { Database, Db, Scope, ScriptRunner, Tx } from "./types.ts";

/** Rows of a raw `execute`, the same for both drivers. */
export function rowsOf<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/**
 * Runs `query` as a named prepared statement: PostgreSQL parses and plans it once per connection instead of on
 * every call (the text must be the same every time; only the parameters vary). PGlite runs it as it is.
 * For the few statements on every hot path: the audit append.
 */
export async function executePrepared(tx: Tx, name: string, query: SQL): Promise<unknown> {
  // drizzle's own execute() is prepareQuery(sqlToQuery(q), …, no name).execute(); this passes the name.
  const { session, dialect } = tx as unknown as {
    dialect: PgDialect;
    session: {
      prepareQuery(
        q: ReturnType<PgDialect["sqlToQuery"]>,
        fields: undefined,
        name: string,
        arrayMode: boolean,
      ): { execute(): Promise<unknown> };
    };
  };
  return session.prepareQuery(dialect.sqlToQuery(query), undefined, name, false).execute();
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** PGlite data directory; `memory://` keeps everything in memory (tests). */
  dataDir?: string | undefined;
  poolSize?: number;
  /** Stop migrating after this migration (tests that start from an older schema). */
  migrateUpTo?: string | undefined;
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

/**
 * A transaction on PostgreSQL in which BEGIN and the scope binding travel as one simple-protocol message:
 * one round trip fewer than drizzle's own transaction() followed by the binding, on every request. Queries
 * inside go through drizzle's session on the checked-out client, as drizzle's transaction() would.
 */
async function scopedPgTransaction<T>(pool: pg.Pool, db: Db, scope: Scope, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  type SessionArgs = ConstructorParameters<typeof NodePgSession>;
  // drizzle keeps these on the database object it built (pg-core PgDatabase, node-postgres NodePgSession).
  const { dialect, session } = db as unknown as {
    dialect: PgDialect;
    session: { schema: SessionArgs[2]; options: SessionArgs[3] };
  };
  const tx = new NodePgTransaction(
    dialect,
    new NodePgSession(client, dialect, session.schema, session.options),
    session.schema,
  ) as unknown as Tx;
  let broken: Error | undefined;
  try {
    await client.query(`BEGIN; ${bindScopeStatement(scope)}`);
    const result = await fn(tx);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    // A connection that could not even roll back is not given to the next request.
    client.release(broken);
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
    // A broken idle connection must not crash the process; the next checkout reconnects.
    pool.on("error", () => undefined);
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    const database: Database = {
      kind: "postgres",
      tx: (scope, fn) => scopedPgTransaction(pool, db, scope, fn),
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
      close: () => pool.end(),
    };
    await migrate(database, { upTo: options.migrateUpTo });
    return database;
  }
  const dataDir = options.dataDir ?? "./data";
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  const database: Database = {
    kind: "pglite",
    tx: (scope, fn) =>
      db.transaction(async (tx) => {
        await tx.execute(sql.raw(bindScopeStatement(scope)));
        return fn(tx);
      }),
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
    close: () => client.close(),
  };
  await migrate(database, { upTo: options.migrateUpTo });
  return database;
}
