import { sql } from "drizzle-orm";
import { pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

export type StoredInvitationStatus = "pending" | "accepted" | "revoked" | "expired";

export const invitations = pgTable(
  "invitations",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    email: text("email").notNull(),
    secondaryEmail: text("secondary_email"),
    role: text("role").notNull(),
    department: text("department"),
    storeIds: text("store_ids")
      .array()
      .notNull()
      .default(sql`'{}'`),
    hiddenModules: text("hidden_modules")
      .array()
      .notNull()
      .default(sql`'{}'`),
    tokenHash: text("token_hash").notNull(),
    status: text("status").$type<StoredInvitationStatus>().notNull().default("pending"),
    invitedBy: text("invited_by"),
    invitedByUser: text("invited_by_user"),
    createdAt: ts("created_at").notNull(),
    sentAt: ts("sent_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    acceptedAt: ts("accepted_at"),
    acceptedMemberId: text("accepted_member_id"),
    revokedAt: ts("revoked_at"),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);

export type InvitationRow = typeof invitations.$inferSelect;
