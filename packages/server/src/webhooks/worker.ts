import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { and, asc, eq, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { getPreset } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { rowsOf, type Tx } from "../db/database.ts";
import { auditEvents, members, organizations, users } from "../db/schema.ts";
import { openingKeys } from "../config.ts";
import { eventEnvelope } from "../events/envelope.ts";
import type { AuditEventRow } from "../db/schema.ts";
import { enqueueMail } from "../mail/outbox.ts";
import { webhookDisabledMail } from "../mail/templates.ts";
import type { EventSignals } from "../events/signals.ts";
import { openSecret, targetPolicy } from "./service.ts";
import { webhookSender, type AttemptResult, type Sender } from "./send.ts";
import { webhookDeliveries, webhookEndpoints, type WebhookDeliveryRow } from "./tables.ts";

/** Waits after failed attempts 1…7 (about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); the 8th failure gives up. */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];
/** An endpoint whose attempts have failed, without a success in between, for this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3_600_000;

export interface WebhookWorkerOptions {
  owner?: string;
  /** How often an idle worker looks for due deliveries when no notification woke it. Default 1 s. */
  pollMs?: number;
  /** Endpoints claimed per round (each delivered concurrently, its own queue in order). Default 10. */
  endpointsPerRound?: number;
  /** Deliveries sent per endpoint claim before it is handed back (fairness between instances). Default 200. */
  perClaim?: number;
  /** How long a claim holds; renewed after every attempt. Must exceed the attempt timeout (10 s). Default 60 s. */
  leaseSeconds?: number;
  retryScheduleMs?: readonly number[];
  sender?: Sender;
  /** Wake-ups on every committed event (events/signals.ts); without it, the poll alone. */
  signals?: EventSignals;
  log?: {
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
}

export interface WebhookWorker {
  /** One round: claims endpoints with a due head of queue and delivers them. Answers attempts made. */
  runOnce(): Promise<{ delivered: number; failed: number }>;
  start(): void;
  /** Stops claiming, lets attempts in flight finish and be recorded, and hands the claims back. */
  stop(): Promise<void>;
  readonly owner: string;
}

type Claimed = {
  org_id: string;
  id: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | string | null;
};

/**
 * Delivers the webhook queue (docs/decisions/0012-webhooks-and-event-stream.md). An endpoint's queue is
 * delivered by one instance at a time: the instance leases the endpoint (FOR UPDATE SKIP LOCKED, like the
 * mail outbox), sends its pending deliveries in queue order, renews the lease with every attempt's record, and
 * stops at the first failure: later events wait behind a retrying one, so a receiver sees them in seq order.
 * A result is recorded right after the answer; only a crash between the receiver's 2xx and that commit makes
 * the delivery go out again, with the same `webhook-id`.
 */
export function webhookWorker(deps: AppDeps, opts: WebhookWorkerOptions = {}): WebhookWorker {
  const owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const pollMs = opts.pollMs ?? 1000;
  const perRound = opts.endpointsPerRound ?? 10;
  const perClaim = opts.perClaim ?? 200;
  const leaseMs = (opts.leaseSeconds ?? 60) * 1000;
  const schedule = opts.retryScheduleMs ?? RETRY_SCHEDULE_MS;
  const sender = opts.sender ?? webhookSender(targetPolicy(deps));
  let stopping = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let wakeAgain = false;
  let unsubscribe: (() => void) | null = null;

  const across = <T>(fn: (tx: Tx) => Promise<T>) =>
    deps.db.tx({}, async (tx) => {
      await tx.execute(sql`SELECT set_config('roster.webhooks', 'on', true)`);
      return fn(tx);
    });

  async function claim(): Promise<Claimed[]> {
    const now = deps.clock.now();
    const lease = new Date(now.getTime() + leaseMs);
    return across(async (tx) =>
      rowsOf<Claimed>(
        await tx.execute(sql`
          UPDATE webhook_endpoints SET locked_by = ${owner}, locked_until = ${lease}
          WHERE (org_id, id) IN (
            SELECT e.org_id, e.id FROM webhook_endpoints e
            WHERE e.enabled AND (e.locked_until IS NULL OR e.locked_until < ${now})
              AND (SELECT d.next_attempt_at FROM webhook_deliveries d
                    WHERE d.org_id = e.org_id AND d.endpoint_id = e.id AND d.status = 'pending'
                    ORDER BY d.position LIMIT 1) <= ${now}
            LIMIT ${perRound}
            FOR UPDATE OF e SKIP LOCKED)
          RETURNING org_id, id, url, secret, previous_secret, previous_secret_expires_at`),
      ),
    );
  }

  async function release(e: Claimed): Promise<void> {
    await deps.db.tx({ orgId: e.org_id }, (tx) =>
      tx
        .update(webhookEndpoints)
        .set({ lockedBy: null, lockedUntil: null })
        .where(
          and(
            eq(webhookEndpoints.orgId, e.org_id),
            eq(webhookEndpoints.id, e.id),
            eq(webhookEndpoints.lockedBy, owner),
          ),
        ),
    );
  }

  /** The head of the endpoint's queue, with each audit event as the feed shows it. */
  async function nextBatch(e: Claimed) {
    return deps.db.tx({ orgId: e.org_id }, (tx) =>
      tx
        .select({ d: webhookDeliveries, event: auditEvents })
        .from(webhookDeliveries)
        .leftJoin(
          auditEvents,
          and(eq(auditEvents.orgId, webhookDeliveries.orgId), eq(auditEvents.seq, webhookDeliveries.eventSeq)),
        )
        .where(
          and(
            eq(webhookDeliveries.orgId, e.org_id),
            eq(webhookDeliveries.endpointId, e.id),
            eq(webhookDeliveries.status, "pending"),
          ),
        )
        .orderBy(asc(webhookDeliveries.position))
        .limit(20),
    );
  }

  function signingSecrets(e: Claimed): string[] {
    const keys = openingKeys(deps.config);
    const out = [openSecret(keys, e.id, e.secret)];
    const expires = e.previous_secret_expires_at === null ? null : new Date(e.previous_secret_expires_at);
    if (e.previous_secret && expires && expires > deps.clock.now()) out.push(openSecret(keys, e.id, e.previous_secret));
    return out;
  }

  async function attempt(e: Claimed, d: WebhookDeliveryRow, event: AuditEventRow | null): Promise<AttemptResult> {
    let body: string;
    if (d.payload !== null) body = d.payload;
    else if (event) body = JSON.stringify(eventEnvelope(event));
    else return { status: null, body: null, error: "the audit event is gone (purged)", durationMs: 0 };
    let secrets: string[];
    try {
      secrets = signingSecrets(e);
    } catch {
      return {
        status: null,
        body: null,
        error: "the signing secret cannot be opened (was ROSTER_SECRET_KEY changed?)",
        durationMs: 0,
      };
    }
    // The receiver compares webhook-timestamp with its own clock, so it is the wall clock's, not the scheduler's.
    const at = new Date();
    const signature = secrets.map((s) => new Webhook(s).sign(d.id, at, body)).join(" ");
    return sender.post(
      e.url,
      {
        "webhook-id": d.id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body,
    );
  }

  /** Records an attempt; answers whether to go on with the queue (delivered, and the claim still ours). */
  async function recordAttempt(e: Claimed, d: WebhookDeliveryRow, r: AttemptResult): Promise<boolean> {
    const now = deps.clock.now();
    const ok = r.status !== null && r.status >= 200 && r.status < 300;
    const n = d.attempts + 1;
    const givesUp = !ok && n > schedule.length;
    const startedAt = new Date(now.getTime() - r.durationMs);
    const status = ok ? "delivered" : givesUp ? "failed" : "pending";
    const nextAttemptAt = !ok && !givesUp ? new Date(now.getTime() + schedule[n - 1]!) : null;
    const lease = new Date(now.getTime() + leaseMs);
    return deps.db.tx({ orgId: e.org_id }, async (tx) => {
      // One statement (one round trip): the delivery's state, the attempt's log row, and the endpoint's lease
      // and failure clock, each only if the one before it applied (the delivery is still queued, the claim ours).
      const [endpoint] = rowsOf<{ failing_since: Date | string | null; enabled: boolean }>(
        await tx.execute(sql`
          WITH d AS (
            UPDATE webhook_deliveries SET status = ${status}, attempts = ${n}, last_attempt_at = ${startedAt}::timestamptz,
                   response_status = ${r.status}::int, response_body = ${r.body}::text, last_error = ${r.error}::text,
                   delivered_at = CASE WHEN ${ok}::boolean THEN ${now}::timestamptz ELSE delivered_at END,
                   next_attempt_at = coalesce(${nextAttemptAt}::timestamptz, next_attempt_at)
             WHERE org_id = ${e.org_id} AND id = ${d.id} AND status = 'pending'
            RETURNING id
          ), a AS (
            INSERT INTO webhook_attempts (org_id, delivery_id, attempt, started_at, duration_ms, response_status, response_body, error)
            SELECT ${e.org_id}, id, ${n}, ${startedAt}::timestamptz, ${r.durationMs}, ${r.status}::int, ${r.body}::text, ${r.error}::text FROM d
          )
          UPDATE webhook_endpoints
             SET locked_until = ${lease}::timestamptz,
                 failing_since = CASE WHEN ${ok}::boolean THEN NULL ELSE coalesce(failing_since, ${now}::timestamptz) END
           WHERE org_id = ${e.org_id} AND id = ${e.id} AND locked_by = ${owner} AND EXISTS (SELECT 1 FROM d)
          RETURNING failing_since, enabled`),
      );
      // Nothing applied: the delivery was deleted with its endpoint, or the claim is no longer ours.
      if (!endpoint) return false;
      const failingSince = endpoint.failing_since === null ? null : new Date(endpoint.failing_since);
      if (!ok && failingSince && now.getTime() - failingSince.getTime() >= DISABLE_AFTER_MS) {
        await disable(tx, e, now);
        return false;
      }
      return ok && endpoint.enabled;
    });
  }

  /** Failing for 5 days: disabled, and the org's top-role members are told by email (same transaction). */
  async function disable(tx: Tx, e: Claimed, now: Date): Promise<void> {
    await tx
      .update(webhookEndpoints)
      .set({
        enabled: false,
        disabledReason: "Every attempt failed for 5 days.",
        lockedBy: null,
        lockedUntil: null,
        updatedAt: now,
      })
      .where(and(eq(webhookEndpoints.orgId, e.org_id), eq(webhookEndpoints.id, e.id)));
    const [org] = await tx.select().from(organizations).where(eq(organizations.id, e.org_id));
    const top = org ? getPreset(org.policy)?.topRole : undefined;
    if (!org || !top) return;
    const owners = await tx
      .select({ email: users.email, userId: users.id })
      .from(members)
      .innerJoin(users, eq(users.id, members.userId))
      .where(and(eq(members.orgId, e.org_id), eq(members.role, top), eq(members.status, "active")));
    const content = webhookDisabledMail({
      orgName: org.name,
      url: e.url,
      failingDays: DISABLE_AFTER_MS / 86_400_000,
      consoleUrl: `${deps.config.publicUrl}/orgs/${encodeURIComponent(e.org_id)}/webhooks`,
    });
    for (const o of owners)
      await enqueueMail(tx, deps.config.secretKey, now, {
        orgId: e.org_id,
        kind: "webhook_disabled",
        to: o.email,
        causedBy: null,
        content,
      });
    opts.log?.warn({ orgId: e.org_id, endpointId: e.id }, "webhook endpoint disabled after 5 days of failures");
  }

  async function drain(e: Claimed): Promise<{ delivered: number; failed: number }> {
    let delivered = 0;
    let failed = 0;
    try {
      outer: while (!stopping && delivered < perClaim) {
        const batch = await nextBatch(e);
        if (batch.length === 0) break;
        for (const { d, event } of batch) {
          if (stopping || d.nextAttemptAt > deps.clock.now()) break outer;
          const result = await attempt(e, d, event);
          const goOn = await recordAttempt(e, d, result);
          const ok = result.status !== null && result.status >= 200 && result.status < 300;
          if (ok) delivered++;
          else failed++;
          if (!goOn) break outer;
        }
      }
    } finally {
      await release(e).catch((err: unknown) => opts.log?.error({ err }, "webhook claim release failed"));
    }
    return { delivered, failed };
  }

  async function runOnce(): Promise<{ delivered: number; failed: number }> {
    if (stopping) return { delivered: 0, failed: 0 };
    const claimed = await claim();
    const results = await Promise.all(claimed.map(drain));
    return results.reduce((a, b) => ({ delivered: a.delivered + b.delivered, failed: a.failed + b.failed }), {
      delivered: 0,
      failed: 0,
    });
  }

  const loop = () => {
    timer = null;
    if (stopping || running) return;
    wakeAgain = false;
    running = (async () => {
      let more = true;
      while (more && !stopping) {
        const r = await runOnce();
        more = r.delivered + r.failed > 0 || wakeAgain;
        wakeAgain = false;
      }
    })()
      .catch((err: unknown) => opts.log?.error({ err }, "webhook round failed"))
      .finally(() => {
        running = null;
        if (!stopping) timer = setTimeout(loop, pollMs);
      });
  };

  /** A notification: run a round now (or right after the one in progress). */
  const wake = () => {
    if (stopping) return;
    if (running) {
      wakeAgain = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = setTimeout(loop, 0);
  };

  return {
    owner,
    runOnce,
    start() {
      stopping = false;
      if (opts.signals && !unsubscribe) unsubscribe = opts.signals.subscribe(wake);
      if (!timer && !running) timer = setTimeout(loop, 0);
    },
    async stop() {
      stopping = true;
      unsubscribe?.();
      unsubscribe = null;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
      if (!opts.sender) sender.close();
    },
  };
}
