import { bigint, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";
import { users } from "../db/schema.ts";

/** One TOTP factor per user; see migrations/0004_security.sql for why last_used_step exists. */
export const mfaFactors = pgTable("mfa_factors", {
  id: text("id").primaryKey(),
  userId: text("user_id")
    .notNull()
    .references(() => users.id),
  kind: text("kind").$type<"totp">().notNull(),
  secretSealed: text("secret_sealed").notNull(),
  confirmedAt: ts("confirmed_at"),
  lastUsedStep: bigint("last_used_step", { mode: "number" }).notNull().default(-1),
  createdAt: ts("created_at").notNull(),
});

export const mfaRecoveryCodes = pgTable(
  "mfa_recovery_codes",
  {
    factorId: text("factor_id").notNull(),
    userId: text("user_id").notNull(),
    codeHash: text("code_hash").notNull(),
    usedAt: ts("used_at"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.factorId, t.codeHash] })],
);

export const mfaChallenges = pgTable("mfa_challenges", {
  idHash: text("id_hash").primaryKey(),
  userId: text("user_id").notNull(),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  attempts: integer("attempts").notNull().default(0),
  consumedAt: ts("consumed_at"),
  ip: text("ip"),
  userAgent: text("user_agent"),
});

export type MfaFactorRow = typeof mfaFactors.$inferSelect;
