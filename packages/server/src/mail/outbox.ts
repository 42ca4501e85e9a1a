import { sql } from "drizzle-orm";
import type { Tx } from "../db/database.ts";
import { newId } from "../lib/ids.ts";
import { open, seal } from "../lib/crypto.ts";
import { outbox, type MailKind, type OutboxRow } from "./tables.ts";
import type { MailContent } from "./templates.ts";

/** Bodies are sealed with the row id as associated data, so a payload copied to another row does not open. */
const aad = (id: string) => `outbox:${id}`;

export function sealPayload(secretKey: Buffer, id: string, content: MailContent): string {
  return seal(secretKey, JSON.stringify(content), aad(id));
}

export function openPayload(
  secretKey: Buffer | readonly Buffer[],
  row: Pick<OutboxRow, "id" | "payload">,
): MailContent | null {
  if (row.payload === null) return null;
  return JSON.parse(open(secretKey, row.payload, aad(row.id))) as MailContent;
}

export interface EnqueueInput {
  orgId: string | null;
  kind: MailKind;
  to: string;
  causedBy: string | null;
  content: MailContent;
}

/**
 * Queues a message in the caller's transaction: it is sent if and only if the change that caused it commits.
 * The row id doubles as the delivery's idempotency key (the Message-ID).
 */
export async function enqueueMail(tx: Tx, secretKey: Buffer, now: Date, input: EnqueueInput): Promise<string> {
  const id = newId("msg");
  await tx.insert(outbox).values({
    id,
    orgId: input.orgId,
    kind: input.kind,
    toAddress: input.to,
    causedBy: input.causedBy,
    payload: sealPayload(secretKey, id, input.content),
    status: "pending",
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
  });
  return id;
}

/** Opens the worker's view of the outbox for this transaction: every org's queued mail. */
export async function bindOutboxScope(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT set_config('roster.outbox', 'on', true)`);
}
