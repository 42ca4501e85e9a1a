import { pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

export const apiKeys = pgTable(
  "api_keys",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    memberId: text("member_id").notNull(),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull(),
    /** null: the member's whole role; otherwise the key is narrowed to these grants. */
    permissions: text("permissions").array(),
    createdBy: text("created_by").notNull(),
    createdAt: ts("created_at").notNull(),
    rotatedAt: ts("rotated_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
    revokedReason: text("revoked_reason"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
