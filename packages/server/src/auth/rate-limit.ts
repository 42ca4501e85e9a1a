import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../db/database.ts";

type Row = { count: number; window_start: Date | string };

export interface Limit {
  max: number;
  windowSeconds: number;
}

export interface LimitState {
  allowed: boolean;
  retryAfterSeconds: number;
}

/**
 * Fixed-window counter in the database, so every instance behind a load balancer shares it.
 * `peek` reads without counting; `hit` counts one and tells whether the limit is now exceeded.
 */
export async function hitLimit(db: Database, key: string, limit: Limit, now: Date): Promise<LimitState> {
  const windowStartCutoff = new Date(now.getTime() - limit.windowSeconds * 1000);
  const rows = await db.tx({}, (tx) =>
    tx.execute(sql`
      INSERT INTO rate_limits (key, window_start, count) VALUES (${key}, ${now}, 1)
      ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN rate_limits.window_start <= ${windowStartCutoff} THEN 1 ELSE rate_limits.count + 1 END,
        window_start = CASE WHEN rate_limits.window_start <= ${windowStartCutoff} THEN ${now} ELSE rate_limits.window_start END
      RETURNING count, window_start`),
  );
  return state(rowsOf<Row>(rows)[0], limit, now);
}

export async function peekLimit(db: Database, key: string, limit: Limit, now: Date): Promise<LimitState> {
  const rows = await db.tx({}, (tx) => tx.execute(sql`SELECT count, window_start FROM rate_limits WHERE key = ${key}`));
  const row = rowsOf<Row>(rows)[0];
  if (!row) return { allowed: true, retryAfterSeconds: 0 };
  if (new Date(row.window_start).getTime() + limit.windowSeconds * 1000 <= now.getTime())
    return { allowed: true, retryAfterSeconds: 0 };
  return state({ ...row, count: row.count + 1 }, limit, now);
}

export async function resetLimit(db: Database, key: string): Promise<void> {
  await db.tx({}, (tx) => tx.execute(sql`DELETE FROM rate_limits WHERE key = ${key}`));
}

function state(row: { count: number; window_start: Date | string } | undefined, limit: Limit, now: Date): LimitState {
  if (!row) return { allowed: true, retryAfterSeconds: 0 };
  const ends = new Date(row.window_start).getTime() + limit.windowSeconds * 1000;
  return {
    allowed: Number(row.count) <= limit.max,
    retryAfterSeconds: Math.max(1, Math.ceil((ends - now.getTime()) / 1000)),
  };
}
