import { eventOut } from "../audit/feed.ts";
import type { AuditEventRow } from "../db/schema.ts";

/**
 * One audit event as webhooks and the live stream carry it: `type` is the audit action and `data` the event as
 * the feed shows it, with its place in the chain (`seq`, `prevHash`, `hash`), so a receiver can check that it
 * missed nothing.
 */
export function eventEnvelope(row: AuditEventRow) {
  const data = eventOut(row);
  return { id: data.id, type: data.action, orgId: data.orgId, createdAt: data.createdAt, data };
}
export type EventEnvelope = ReturnType<typeof eventEnvelope>;
