import { bigint, json, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/** Monthly compliance reports kept for each finished month (migration 0002_audit.sql): written once, never changed. */
export const complianceReports = pgTable(
  "compliance_reports",
  {
    orgId: text("org_id").notNull(),
    month: text("month").notNull(),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull(),
    lastHash: text("last_hash").notNull(),
    // The report as the JSON text it is answered with (migration 0018).
    report: json("report").$type<Record<string, unknown>>().notNull(),
    generatedAt: timestamp("generated_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.month] })],
);
