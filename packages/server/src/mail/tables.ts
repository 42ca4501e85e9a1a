import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

export type OutboxStatus = "pending" | "sending" | "sent" | "failed";
export type MailKind =
  "invitation" | "password_reset" | "removal_notice" | "webhook_disabled" | "access_review_reminder";

export const outbox = pgTable("outbox", {
  id: text("id").primaryKey(),
  orgId: text("org_id"),
  kind: text("kind").$type<MailKind>().notNull(),
  toAddress: text("to_address").notNull(),
  causedBy: text("caused_by"),
  /** Sealed JSON {subject, text, html}; NULL once delivered over SMTP. */
  payload: text("payload"),
  status: text("status").$type<OutboxStatus>().notNull().default("pending"),
  attempts: integer("attempts").notNull().default(0),
  nextAttemptAt: ts("next_attempt_at").notNull(),
  lockedUntil: ts("locked_until"),
  lockedBy: text("locked_by"),
  lastError: text("last_error"),
  createdAt: ts("created_at").notNull(),
  sentAt: ts("sent_at"),
});

export type OutboxRow = typeof outbox.$inferSelect;
