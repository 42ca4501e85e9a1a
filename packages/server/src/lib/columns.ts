import { sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { timestamp } from "drizzle-orm/pg-core";

/** A `timestamptz` column read and written as a `Date`: the one timestamp column type of every table. */
export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** A timestamp as ISO 8601 text in UTC with milliseconds, as Date#toISOString writes it, made by the database. */
export const isoText = (column: SQLWrapper): SQL<string> =>
  sql<string>`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
