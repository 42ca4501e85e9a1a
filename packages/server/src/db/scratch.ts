import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "./database.ts";

export interface ScratchDatabase {
  db: Database;
  /** The new database's URL (PostgreSQL only). */
  url?: string;
  /** Closes it and, on PostgreSQL, drops the database. */
  drop: () => Promise<void>;
}

/**
 * A freshly migrated, throw-away database for tests and benchmarks: in-memory PGlite without `baseUrl`,
 * else a new database on the PostgreSQL server `baseUrl` names, dropped again by `drop`.
 */
export async function scratchDatabase(
  baseUrl: string | undefined,
  options: { prefix: string; poolSize?: number; migrateUpTo?: string },
): Promise<ScratchDatabase> {
  if (!baseUrl) {
    const db = await openDatabase({ dataDir: "memory://", migrateUpTo: options.migrateUpTo });
    return { db, drop: () => db.close() };
  }
  const { url, drop } = await createScratchDatabase(baseUrl, options.prefix);
  const db = await openDatabase({
    databaseUrl: url,
    ...(options.poolSize ? { poolSize: options.poolSize } : {}),
    migrateUpTo: options.migrateUpTo,
  });
  return {
    db,
    url,
    drop: async () => {
      await db.close();
      await drop();
    },
  };
}

/**
 * Creates an empty database named `<prefix>_<random>` on the PostgreSQL server `baseUrl` names, for a process
 * that migrates and opens it itself (a spawned CLI, a benchmarked server). `drop` removes it, connections and all.
 */
export async function createScratchDatabase(
  baseUrl: string,
  prefix: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
