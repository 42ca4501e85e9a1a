import { sql } from "drizzle-orm";
import { bigint, customType, integer, jsonb, pgTable, primaryKey, text, unique } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";
import { canonicalJson, parseEventObject } from "../audit/chain.ts";

/**
 * An audit event's before/after: an object in the process, its RFC 8785 canonical JSON text in the database
 * (what the chain hashes, and what the generated `computed_hash` column hashes verbatim; migrations 0005, 0017).
 * Text that is not JSON can only come from editing the table by hand: it reads back as `{ unreadable }`.
 */
const canonicalObject = customType<{ data: Record<string, unknown>; driverData: string }>({
  dataType: () => "text",
  toDriver: (value) => canonicalJson(value),
  fromDriver: (value) => parseEventObject(value) ?? { unreadable: value },
});

export const users = pgTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull(),
  name: text("name").notNull(),
  passwordHash: text("password_hash"),
  platformRole: text("platform_role"),
  /** Start of the most recent session: a fact about the person, shown on each of their memberships. */
  lastLoginAt: ts("last_login_at"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

export const organizations = pgTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  policy: text("policy").notNull(),
  settings: jsonb("settings")
    .$type<Record<string, unknown>>()
    .notNull()
    .default(sql`'{}'::jsonb`),
  createdBy: text("created_by"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});

export const members = pgTable(
  "members",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    userId: text("user_id").notNull(),
    role: text("role").notNull(),
    status: text("status").$type<MemberStatus>().notNull().default("active"),
    department: text("department"),
    secondaryEmail: text("secondary_email"),
    storeIds: text("store_ids")
      .array()
      .notNull()
      .default(sql`'{}'`),
    hiddenModules: text("hidden_modules")
      .array()
      .notNull()
      .default(sql`'{}'`),
    invitedBy: text("invited_by"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
    removedAt: ts("removed_at"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] }), unique().on(t.orgId, t.userId)],
);
export type MemberStatus = "active" | "inactive" | "removed";

/**
 * One row per member and store granted, with the member's sort keys (migration 0013): filled by triggers on
 * members, never written by application code, read by the member list's store filter.
 */
export const memberStores = pgTable(
  "member_stores",
  {
    orgId: text("org_id").notNull(),
    store: text("store").notNull(),
    memberId: text("member_id").notNull(),
    nameKey: text("name_key").notNull(),
    emailKey: text("email_key").notNull(),
    role: text("role").notNull(),
    status: text("status").notNull(),
    lastLoginAt: ts("last_login_at"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.store, t.memberId] })],
);

export const sessions = pgTable("sessions", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  ip: text("ip"),
  userAgent: text("user_agent"),
  createdAt: ts("created_at").notNull(),
  lastSeenAt: ts("last_seen_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
  revokedAt: ts("revoked_at"),
  revokedReason: text("revoked_reason"),
  /** When a second factor was verified for this session (an MFA sign-in, or a factor confirmed in it). */
  mfaVerifiedAt: ts("mfa_verified_at"),
});

export const rateLimits = pgTable("rate_limits", {
  key: text("key").primaryKey(),
  windowStart: ts("window_start").notNull(),
  count: integer("count").notNull(),
});

export const auditHeads = pgTable("audit_heads", {
  orgId: text("org_id").primaryKey(),
  lastSeq: bigint("last_seq", { mode: "number" }).notNull(),
  lastHash: text("last_hash").notNull(),
});

export const auditEvents = pgTable(
  "audit_events",
  {
    orgId: text("org_id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    id: text("id").notNull(),
    action: text("action").notNull(),
    actorId: text("actor_id"),
    targetId: text("target_id"),
    entityType: text("entity_type").notNull(),
    before: canonicalObject("before"),
    after: canonicalObject("after"),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: ts("created_at").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.seq] })],
);

export type UserRow = typeof users.$inferSelect;
export type OrgRow = typeof organizations.$inferSelect;
export type MemberRow = typeof members.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;
