import { openingKeys } from "../config.ts";
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf, type Tx } from "../db/database.ts";
import { bindOutboxScope, openPayload } from "./outbox.ts";
import { outbox } from "./tables.ts";

export interface OutboxWorkerOptions {
  /** How often an idle worker looks for due mail. Default 1 s. */
  pollMs?: number;
  /** Messages claimed per round trip. Default 10. */
  batchSize?: number;
  /** How long a claim holds; after that another worker may take the message over (the first one died). */
  leaseSeconds?: number;
  /** Attempts before a message is marked failed. Default 8 (about 2 hours of backoff). */
  maxAttempts?: number;
  /** Erase subject and bodies after delivery. Default: when SMTP is configured (the dev mailbox needs them otherwise). */
  eraseAfterSend?: boolean;
  owner?: string;
  log?: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

export interface OutboxWorker {
  /** One round: claims due messages and delivers them. Answers how many were delivered and how many failed. */
  runOnce(): Promise<{ sent: number; failed: number }>;
  /** Polls until stopped. */
  start(): void;
  /** Stops claiming, lets the message being sent finish, and hands the rest of its claim back. */
  stop(): Promise<void>;
  readonly owner: string;
}

type Claimed = { id: string; to_address: string; payload: string | null; attempts: number };

/** Exponential backoff: 30 s, 1 min, 2 min … capped at 1 h. */
export const backoffMs = (attempts: number) => Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);

export function outboxWorker(deps: AppDeps, opts: OutboxWorkerOptions = {}): OutboxWorker {
  const owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const batchSize = opts.batchSize ?? 10;
  const leaseMs = (opts.leaseSeconds ?? 120) * 1000;
  const maxAttempts = opts.maxAttempts ?? 8;
  const erase = opts.eraseAfterSend ?? Boolean(deps.config.smtpUrl);
  const pollMs = opts.pollMs ?? 1000;
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> = Promise.resolve();

  const inScope = <T>(fn: (tx: Tx) => Promise<T>) =>
    deps.db.tx({}, async (tx) => {
      await bindOutboxScope(tx);
      return fn(tx);
    });

  async function claim(): Promise<Claimed[]> {
    const now = deps.clock.now();
    const lease = new Date(now.getTime() + leaseMs);
    return inScope(async (tx) =>
      rowsOf<Claimed>(
        await tx.execute(sql`
          UPDATE outbox SET status = 'sending', locked_until = ${lease}, locked_by = ${owner}, attempts = attempts + 1
          WHERE id IN (
            SELECT id FROM outbox
            WHERE status IN ('pending', 'sending') AND next_attempt_at <= ${now} AND (locked_until IS NULL OR locked_until < ${now})
            ORDER BY next_attempt_at, id
            LIMIT ${batchSize}
            FOR UPDATE SKIP LOCKED)
          RETURNING id, to_address, payload, attempts`),
      ).sort((a, b) => (a.id < b.id ? -1 : 1)),
    );
  }

  async function release(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await inScope((tx) =>
      tx
        .update(outbox)
        .set({
          status: "pending",
          lockedUntil: null,
          lockedBy: null,
          attempts: sql`greatest(${outbox.attempts} - 1, 0)`,
        })
        .where(and(eq(outbox.lockedBy, owner), eq(outbox.status, "sending"), inArray(outbox.id, ids))),
    );
  }

  async function deliver(m: Claimed): Promise<boolean> {
    let content;
    try {
      content = openPayload(openingKeys(deps.config), { id: m.id, payload: m.payload });
    } catch (err) {
      opts.log?.error({ err, id: m.id }, "outbox message cannot be opened (was ROSTER_SECRET_KEY changed?)");
      await inScope((tx) =>
        tx
          .update(outbox)
          .set({ status: "failed", lastError: "payload cannot be opened", lockedUntil: null })
          .where(and(eq(outbox.id, m.id), eq(outbox.lockedBy, owner))),
      );
      return false;
    }
    if (!content) return false;
    try {
      await deps.mailer.send({
        to: m.to_address,
        subject: content.subject,
        text: content.text,
        html: content.html,
        idempotencyKey: m.id,
      });
    } catch (err) {
      const now = deps.clock.now();
      const failed = m.attempts >= maxAttempts;
      const reason = (err instanceof Error ? err.message : String(err)).slice(0, 500);
      opts.log?.warn(
        { id: m.id, attempts: m.attempts, reason },
        failed ? "email failed for good" : "email delivery failed; will retry",
      );
      await inScope((tx) =>
        tx
          .update(outbox)
          .set({
            status: failed ? "failed" : "pending",
            lastError: reason,
            lockedUntil: null,
            lockedBy: null,
            nextAttemptAt: new Date(now.getTime() + backoffMs(m.attempts)),
          })
          .where(and(eq(outbox.id, m.id), eq(outbox.lockedBy, owner))),
      );
      return false;
    }
    // Marked at once, in its own short transaction: the only window in which a crash causes a second
    // delivery is between the server's acceptance and this commit.
    await inScope((tx) =>
      tx
        .update(outbox)
        .set({
          status: "sent",
          sentAt: deps.clock.now(),
          lockedUntil: null,
          lastError: null,
          ...(erase ? { payload: null } : {}),
        })
        .where(and(eq(outbox.id, m.id), eq(outbox.lockedBy, owner), eq(outbox.status, "sending"))),
    );
    return true;
  }

  async function runOnce(): Promise<{ sent: number; failed: number }> {
    let sent = 0;
    let failed = 0;
    if (stopping) return { sent, failed };
    const batch = await claim();
    for (let i = 0; i < batch.length; i++) {
      if (stopping) {
        await release(batch.slice(i).map((m) => m.id));
        break;
      }
      if (await deliver(batch[i]!)) sent++;
      else failed++;
    }
    return { sent, failed };
  }

  const loop = () => {
    timer = null;
    if (stopping) return;
    const round = (async () => {
      let more = true;
      // Drain while there is due mail; then sleep.
      while (more && !stopping) {
        const r = await runOnce();
        more = r.sent + r.failed >= batchSize;
      }
    })();
    running = round
      .catch((err: unknown) => opts.log?.error({ err }, "outbox round failed"))
      .finally(() => {
        if (!stopping) timer = setTimeout(loop, pollMs);
      });
  };

  return {
    owner,
    runOnce,
    start() {
      stopping = false;
      if (!timer) timer = setTimeout(loop, 0);
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
