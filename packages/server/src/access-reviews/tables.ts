import { bigint, boolean, integer, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

/** What a campaign was started over (all optional; absent means every member). */
export interface CampaignScope {
  roles?: string[] | undefined;
  departments?: string[] | undefined;
  storeIds?: string[] | undefined;
  dormantDays?: number | undefined;
}

/** Access review campaigns (migration 0012_access_reviews.sql). */
export const accessReviews = pgTable(
  "access_reviews",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    name: text("name").notNull(),
    status: text("status").$type<"open" | "completed">().notNull(),
    scope: jsonb("scope").$type<CampaignScope>().notNull(),
    dormantDays: integer("dormant_days").notNull(),
    dueAt: ts("due_at").notNull(),
    createdBy: text("created_by"),
    schedulePeriod: text("schedule_period"),
    createdAt: ts("created_at").notNull(),
    startedSeq: bigint("started_seq", { mode: "number" }),
    remindedAt: ts("reminded_at"),
    completedAt: ts("completed_at"),
    completedBy: text("completed_by"),
    appliedFromSeq: bigint("applied_from_seq", { mode: "number" }),
    completedSeq: bigint("completed_seq", { mode: "number" }),
    completedHash: text("completed_hash"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);
export type AccessReviewRow = typeof accessReviews.$inferSelect;

export type Decision = "keep" | "revoke" | "change_role";
export type Outcome = "applied" | "unchanged" | "not_decided" | "failed";

/** One member under review, frozen as they were when the campaign started. */
export const accessReviewItems = pgTable(
  "access_review_items",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    reviewId: text("review_id").notNull(),
    memberId: text("member_id").notNull(),
    userId: text("user_id").notNull(),
    email: text("email").notNull(),
    name: text("name").notNull(),
    role: text("role").notNull(),
    status: text("status").$type<"active" | "inactive" | "removed">().notNull(),
    department: text("department"),
    storeIds: text("store_ids").array().notNull(),
    lastLoginAt: ts("last_login_at"),
    dormant: boolean("dormant").notNull(),
    apiKeys: integer("api_keys").notNull(),
    reviewerId: text("reviewer_id"),
    decision: text("decision").$type<Decision>(),
    newRole: text("new_role"),
    note: text("note"),
    decidedBy: text("decided_by"),
    decidedAt: ts("decided_at"),
    outcome: text("outcome").$type<Outcome>(),
    outcomeDetail: text("outcome_detail"),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);
export type AccessReviewItemRow = typeof accessReviewItems.$inferSelect;
