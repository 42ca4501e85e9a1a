import { bigint, boolean, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

/** Migration 0010. */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    url: text("url").notNull(),
    description: text("description"),
    events: text("events").array().notNull(),
    enabled: boolean("enabled").notNull(),
    /** Sealed `whsec_…` (lib/crypto.ts, associated data `webhook:<id>`). */
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: ts("previous_secret_expires_at"),
    failingSince: ts("failing_since"),
    disabledReason: text("disabled_reason"),
    createdBy: text("created_by"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    lockedBy: text("locked_by"),
    lockedUntil: ts("locked_until"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);
export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    position: bigint("position", { mode: "number" }).generatedAlwaysAsIdentity(),
    eventType: text("event_type").notNull(),
    eventSeq: bigint("event_seq", { mode: "number" }),
    payload: text("payload"),
    status: text("status").$type<"pending" | "delivered" | "failed">().notNull(),
    attempts: integer("attempts").notNull(),
    nextAttemptAt: ts("next_attempt_at").notNull(),
    lastAttemptAt: ts("last_attempt_at"),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    lastError: text("last_error"),
    createdAt: ts("created_at").notNull(),
    deliveredAt: ts("delivered_at"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    orgId: text("org_id").notNull(),
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    startedAt: ts("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.deliveryId, t.attempt] })],
);
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
