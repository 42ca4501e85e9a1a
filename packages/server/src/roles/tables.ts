import { sql } from "drizzle-orm";
import { doublePrecision, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

/** An organization's own roles (migration 0009); the preset's roles are code, never rows. */
export const orgRoles = pgTable(
  "org_roles",
  {
    orgId: text("org_id").notNull(),
    key: text("key").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    rank: doublePrecision("rank").notNull(),
    permissions: text("permissions")
      .array()
      .notNull()
      .default(sql`'{}'`),
    version: integer("version").notNull().default(1),
    createdBy: text("created_by"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.key] })],
);

export type OrgRoleRow = typeof orgRoles.$inferSelect;
