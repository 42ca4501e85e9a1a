import { bigint, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

/** Signed `{orgId, seq, hash}` statements (migration 0002_audit.sql): append-only for the application role. */
export const auditCheckpoints = pgTable(
  "audit_checkpoints",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    hash: text("hash").notNull(),
    keyId: text("key_id").notNull(),
    signature: text("signature").notNull(),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);
export type CheckpointRow = typeof auditCheckpoints.$inferSelect;
