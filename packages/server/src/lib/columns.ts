import { timestamp } from "drizzle-orm/pg-core";

/** A `timestamptz` column read and written as a `Date`: the one timestamp column type of every table. */
export const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
