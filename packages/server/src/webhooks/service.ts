import { randomBytes } from "node:crypto";
import { and, desc, eq, lt, sql } from "drizzle-orm";
import { can } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { AppError, invalid } from "../http/errors.ts";
import type { OrgContext } from "../http/principal.ts";
import { notYours } from "../http/scope.ts";
import { decodeCursor, encodeCursor } from "../http/cursor.ts";
import { rowsOf } from "../db/database.ts";
import { newId } from "../lib/ids.ts";
import { open, seal } from "../lib/crypto.ts";
import { openingKeys } from "../config.ts";
import { AUDIT_ACTIONS, record, type AuditAction, type RequestMeta } from "../audit/record.ts";
import { assertAllowed } from "../members/rules.ts";
import { checkWebhookUrl, systemResolver, type TargetPolicy } from "./target.ts";
import {
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  type WebhookAttemptRow,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from "./tables.ts";

/** How long a rotated-out secret keeps signing beside the new one. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;
export const TEST_EVENT = "webhook.test";

/** Where the org's webhooks may point: the operator's flag, and the resolver (tests pass their own names). */
export function targetPolicy(deps: AppDeps): TargetPolicy {
  return { allowPrivate: deps.config.webhookAllowPrivate, resolve: deps.resolveHost ?? systemResolver };
}

export const webhookSecretAad = (id: string) => `webhook:${id}`;
export const sealSecret = (key: Buffer, id: string, secret: string) => seal(key, secret, webhookSecretAad(id));
export const openSecret = (keys: readonly Buffer[], id: string, sealed: string) =>
  open(keys, sealed, webhookSecretAad(id));

/** `whsec_` + 192 random bits in base64, the form the Standard Webhooks libraries take. */
const newSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

function allowManage(ctx: OrgContext): void {
  assertAllowed(can(ctx.policy, ctx.subject, "manage", { type: "webhook" }));
}

/** Checks a subscription list: each entry an audit action, a `prefix.*` of one, or `*`. */
export function checkEvents(events: readonly string[]): string[] {
  const out = [...new Set(events)];
  if (out.length === 0) throw invalid("events", "`events` needs at least one event name, prefix (`team.*`) or `*`.");
  out.forEach((e, i) => {
    const known =
      e === "*" ||
      (AUDIT_ACTIONS as readonly string[]).includes(e) ||
      (e.endsWith(".*") && AUDIT_ACTIONS.some((a) => a.startsWith(e.slice(0, -1))));
    if (!known)
      throw invalid(
        `events.${i}`,
        `"${e}" is not an event Roster sends: use an audit action (e.g. team.deactivated), a prefix such as team.*, or *.`,
      );
  });
  return out;
}

export interface EndpointOut {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

const endpointOut = (r: WebhookEndpointRow): EndpointOut => ({
  id: r.id,
  url: r.url,
  description: r.description,
  events: r.events,
  enabled: r.enabled,
  disabledReason: r.disabledReason,
  failingSince: r.failingSince,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** What the audit log keeps of an endpoint: never its secret. */
const audited = (r: Pick<WebhookEndpointRow, "url" | "events" | "enabled" | "description">) => ({
  url: r.url,
  events: r.events,
  enabled: r.enabled,
  description: r.description,
});

const scopeOf = (ctx: OrgContext) => ({ orgId: ctx.org.id, userId: ctx.member.userId });

async function loadEndpoint(tx: Tx, orgId: string, id: string): Promise<WebhookEndpointRow> {
  const [row] = await tx
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.orgId, orgId), eq(webhookEndpoints.id, id)))
    .for("update");
  if (!row) throw notYours("Webhook endpoint");
  return row;
}

async function audit(
  tx: Tx,
  deps: AppDeps,
  ctx: OrgContext,
  action: AuditAction,
  id: string,
  meta: RequestMeta,
  before: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
): Promise<void> {
  await record(tx, ctx.org.id, deps.clock.now(), {
    action,
    actorId: ctx.member.userId,
    targetId: id,
    entityType: "webhook",
    before,
    after,
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
}

export async function createEndpoint(
  deps: AppDeps,
  ctx: OrgContext,
  input: { url: string; events: string[]; description?: string | undefined },
  meta: RequestMeta,
): Promise<EndpointOut & { secret: string }> {
  allowManage(ctx);
  const events = checkEvents(input.events);
  const url = await checkWebhookUrl(input.url, targetPolicy(deps));
  const now = deps.clock.now();
  const id = newId("whk");
  const secret = newSecret();
  const row: WebhookEndpointRow = {
    orgId: ctx.org.id,
    id,
    url,
    description: input.description?.trim() || null,
    events,
    enabled: true,
    secret: sealSecret(deps.config.secretKey, id, secret),
    previousSecret: null,
    previousSecretExpiresAt: null,
    failingSince: null,
    disabledReason: null,
    createdBy: ctx.member.userId,
    createdAt: now,
    updatedAt: now,
    lockedBy: null,
    lockedUntil: null,
  };
  await deps.db.tx(scopeOf(ctx), async (tx) => {
    await tx.insert(webhookEndpoints).values(row);
    await audit(tx, deps, ctx, "webhook.created", id, meta, null, audited(row));
  });
  return { ...endpointOut(row), secret };
}

/** The newest delivery of an endpoint, for the list: how it is doing at a glance. */
export interface LastDeliveryOut {
  id: string;
  eventType: string;
  status: WebhookDeliveryRow["status"];
  attempts: number;
  responseStatus: number | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
}

type LastDeliveryRow = {
  endpoint_id: string;
  id: string;
  event_type: string;
  status: WebhookDeliveryRow["status"];
  attempts: number;
  response_status: number | null;
  last_attempt_at: Date | string | null;
  next_attempt_at: Date | string;
  created_at: Date | string;
};

const when = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

export async function listEndpoints(
  deps: AppDeps,
  ctx: OrgContext,
): Promise<Array<EndpointOut & { lastDelivery: LastDeliveryOut | null }>> {
  allowManage(ctx);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const rows = await tx
      .select()
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.orgId, ctx.org.id))
      .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id));
    // One index probe per endpoint (webhook_deliveries_log), however long the logs are.
    const last = rowsOf<LastDeliveryRow>(
      await tx.execute(sql`
        SELECT e.id AS endpoint_id, d.id, d.event_type, d.status, d.attempts, d.response_status,
               d.last_attempt_at, d.next_attempt_at, d.created_at
          FROM webhook_endpoints e
          CROSS JOIN LATERAL (
            SELECT * FROM webhook_deliveries w
             WHERE w.org_id = e.org_id AND w.endpoint_id = e.id
             ORDER BY w.position DESC LIMIT 1) d
         WHERE e.org_id = ${ctx.org.id}`),
    );
    const byEndpoint = new Map(last.map((d) => [d.endpoint_id, d]));
    return rows.map((r) => {
      const d = byEndpoint.get(r.id);
      return {
        ...endpointOut(r),
        lastDelivery: d
          ? {
              id: d.id,
              eventType: d.event_type,
              status: d.status,
              attempts: Number(d.attempts),
              responseStatus: d.response_status,
              lastAttemptAt: when(d.last_attempt_at),
              nextAttemptAt: d.status === "pending" ? when(d.next_attempt_at) : null,
              createdAt: new Date(d.created_at),
            }
          : null,
      };
    });
  });
}

export async function getEndpoint(deps: AppDeps, ctx: OrgContext, id: string): Promise<EndpointOut> {
  allowManage(ctx);
  return endpointOut(await deps.db.tx(scopeOf(ctx), (tx) => loadEndpoint(tx, ctx.org.id, id)));
}

export async function updateEndpoint(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
  input: {
    url?: string | undefined;
    events?: string[] | undefined;
    enabled?: boolean | undefined;
    description?: string | null | undefined;
  },
  meta: RequestMeta,
): Promise<EndpointOut> {
  allowManage(ctx);
  const events = input.events === undefined ? undefined : checkEvents(input.events);
  const url = input.url === undefined ? undefined : await checkWebhookUrl(input.url, targetPolicy(deps));
  const now = deps.clock.now();
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const before = await loadEndpoint(tx, ctx.org.id, id);
    const next: WebhookEndpointRow = {
      ...before,
      ...(url !== undefined ? { url } : {}),
      ...(events !== undefined ? { events } : {}),
      ...(input.description !== undefined ? { description: input.description?.trim() || null } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
      updatedAt: now,
    };
    // Re-enabling starts the failure clock afresh; the queue kept while disabled is delivered from its head.
    if (input.enabled === true && !before.enabled) Object.assign(next, { failingSince: null, disabledReason: null });
    if (input.enabled === false && before.enabled) next.disabledReason = "Disabled by an administrator.";
    const changed = JSON.stringify(audited(before)) !== JSON.stringify(audited(next));
    if (!changed) return endpointOut(before);
    await tx
      .update(webhookEndpoints)
      .set({
        url: next.url,
        events: next.events,
        description: next.description,
        enabled: next.enabled,
        failingSince: next.failingSince,
        disabledReason: next.disabledReason,
        updatedAt: now,
      })
      .where(and(eq(webhookEndpoints.orgId, ctx.org.id), eq(webhookEndpoints.id, id)));
    await audit(tx, deps, ctx, "webhook.updated", id, meta, audited(before), audited(next));
    return endpointOut(next);
  });
}

export async function deleteEndpoint(deps: AppDeps, ctx: OrgContext, id: string, meta: RequestMeta): Promise<void> {
  allowManage(ctx);
  await deps.db.tx(scopeOf(ctx), async (tx) => {
    const before = await loadEndpoint(tx, ctx.org.id, id);
    await tx.delete(webhookEndpoints).where(and(eq(webhookEndpoints.orgId, ctx.org.id), eq(webhookEndpoints.id, id)));
    await audit(tx, deps, ctx, "webhook.deleted", id, meta, audited(before), null);
  });
}

/** A new secret, shown once; the old one keeps signing beside it for 24 hours so receivers can switch over. */
export async function rotateSecret(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
  meta: RequestMeta,
): Promise<EndpointOut & { secret: string }> {
  allowManage(ctx);
  const now = deps.clock.now();
  const secret = newSecret();
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const before = await loadEndpoint(tx, ctx.org.id, id);
    const expires = new Date(now.getTime() + PREVIOUS_SECRET_GRACE_MS);
    // Re-sealed under the current key: the old one may be a key of before a ROSTER_SECRET_KEY rotation.
    const previous = sealSecret(deps.config.secretKey, id, openSecret(openingKeys(deps.config), id, before.secret));
    await tx
      .update(webhookEndpoints)
      .set({
        secret: sealSecret(deps.config.secretKey, id, secret),
        previousSecret: previous,
        previousSecretExpiresAt: expires,
        updatedAt: now,
      })
      .where(and(eq(webhookEndpoints.orgId, ctx.org.id), eq(webhookEndpoints.id, id)));
    await audit(tx, deps, ctx, "webhook.secret_rotated", id, meta, null, {
      previousSecretExpiresAt: expires.toISOString(),
    });
    return { ...endpointOut({ ...before, updatedAt: now }), secret };
  });
}

export interface DeliveryOut {
  id: string;
  endpointId: string;
  eventType: string;
  eventSeq: number | null;
  status: WebhookDeliveryRow["status"];
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  responseStatus: number | null;
  responseBody: string | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  log: Array<
    Pick<WebhookAttemptRow, "attempt" | "startedAt" | "durationMs" | "responseStatus" | "responseBody" | "error">
  >;
}

const deliveryOut = (r: WebhookDeliveryRow, log: WebhookAttemptRow[]): DeliveryOut => ({
  id: r.id,
  endpointId: r.endpointId,
  eventType: r.eventType,
  eventSeq: r.eventSeq,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.status === "pending" ? r.nextAttemptAt : null,
  lastAttemptAt: r.lastAttemptAt,
  responseStatus: r.responseStatus,
  responseBody: r.responseBody,
  lastError: r.lastError,
  createdAt: r.createdAt,
  deliveredAt: r.deliveredAt,
  log: log
    .filter((a) => a.deliveryId === r.id)
    .sort((a, b) => a.attempt - b.attempt)
    .map(({ attempt, startedAt, durationMs, responseStatus, responseBody, error }) => ({
      attempt,
      startedAt,
      durationMs,
      responseStatus,
      responseBody,
      error,
    })),
});

/** Sends a `webhook.test` event through the endpoint's queue (after anything already waiting in it). */
export async function sendTestEvent(deps: AppDeps, ctx: OrgContext, id: string): Promise<DeliveryOut> {
  allowManage(ctx);
  const now = deps.clock.now();
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    await loadEndpoint(tx, ctx.org.id, id);
    const eventId = newId("evt");
    const payload = JSON.stringify({
      id: eventId,
      type: TEST_EVENT,
      orgId: ctx.org.id,
      createdAt: now.toISOString(),
      data: { endpointId: id, message: "A test event sent from Roster.", requestedBy: ctx.member.userId },
    });
    const [row] = await tx
      .insert(webhookDeliveries)
      .values({
        orgId: ctx.org.id,
        id: `msg_${eventId}_${id}`,
        endpointId: id,
        eventType: TEST_EVENT,
        eventSeq: null,
        payload,
        status: "pending",
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
      })
      .returning();
    // Wakes the delivery workers as an audit event would (the payload names the org only).
    await tx.execute(sql`SELECT pg_notify('roster_events', ${`${ctx.org.id} 0`})`);
    return deliveryOut(row!, []);
  });
}

/** The endpoint's deliveries, newest first, with every attempt; cursor pages. */
export async function listDeliveries(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
  q: { cursor?: string | undefined; limit: number },
): Promise<{ data: DeliveryOut[]; nextCursor: string | null }> {
  allowManage(ctx);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    await loadEndpoint(tx, ctx.org.id, id);
    const where = and(eq(webhookDeliveries.orgId, ctx.org.id), eq(webhookDeliveries.endpointId, id));
    const page = q.cursor ? and(where, lt(webhookDeliveries.position, decodeCursor(q.cursor, ["int"])[0])) : where;
    const rows = await tx
      .select()
      .from(webhookDeliveries)
      .where(page)
      .orderBy(desc(webhookDeliveries.position))
      .limit(q.limit + 1);
    const shown = rows.slice(0, q.limit);
    const ids = shown.map((r) => r.id);
    const log =
      ids.length === 0
        ? []
        : await tx
            .select()
            .from(webhookAttempts)
            .where(
              and(
                eq(webhookAttempts.orgId, ctx.org.id),
                sql`${webhookAttempts.deliveryId} = ANY(${sql`ARRAY[${sql.join(
                  ids.map((i) => sql`${i}`),
                  sql`, `,
                )}]::text[]`})`,
              ),
            );
    const last = shown[shown.length - 1];
    return {
      data: shown.map((r) => deliveryOut(r, log)),
      nextCursor: rows.length > q.limit && last ? encodeCursor([last.position]) : null,
    };
  });
}

/**
 * Sends a delivery again now, with the same `webhook-id` (receivers deduplicate): a failed one is queued at its
 * place again, a pending one skips the rest of its backoff, a delivered one is sent once more.
 */
export async function retryDelivery(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
  deliveryId: string,
): Promise<DeliveryOut> {
  allowManage(ctx);
  const now = deps.clock.now();
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const endpoint = await loadEndpoint(tx, ctx.org.id, id);
    if (!endpoint.enabled)
      throw new AppError("conflict", "This endpoint is disabled; enable it first, then retry.", { param: "id" });
    const [row] = await tx
      .update(webhookDeliveries)
      .set({ status: "pending", nextAttemptAt: now })
      .where(
        and(
          eq(webhookDeliveries.orgId, ctx.org.id),
          eq(webhookDeliveries.endpointId, id),
          eq(webhookDeliveries.id, deliveryId),
        ),
      )
      .returning();
    if (!row) throw notYours("Delivery");
    await tx.execute(sql`SELECT pg_notify('roster_events', ${`${ctx.org.id} 0`})`);
    const log = await tx
      .select()
      .from(webhookAttempts)
      .where(and(eq(webhookAttempts.orgId, ctx.org.id), eq(webhookAttempts.deliveryId, deliveryId)));
    return deliveryOut(row, log);
  });
}
