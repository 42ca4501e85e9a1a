import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, OrgParams, Timestamp } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { NO_CONTROL_CHARS } from "../members/rules.ts";
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  retryDelivery,
  rotateSecret,
  sendTestEvent,
  updateEndpoint,
} from "./service.ts";

const EndpointParams = Type.Object({ orgId: Id, id: Id });
const DeliveryParams = Type.Object({
  orgId: Id,
  id: Id,
  deliveryId: Type.String({ minLength: 1, maxLength: 128, pattern: "^[A-Za-z0-9_-]+$" }),
});

const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description:
    "Where events are POSTed: https, on a public address (http and private addresses only when the operator sets ROSTER_WEBHOOK_ALLOW_PRIVATE=true).",
});
const Events = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  minItems: 1,
  maxItems: 100,
  description: "Audit actions (`team.deactivated`), prefixes (`team.*`), or `*` for every event.",
});
const Description = Type.String({ maxLength: 500, pattern: NO_CONTROL_CHARS });

const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  description: Nullable(Type.String()),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  disabledReason: Nullable(
    Type.String({ description: "Why the endpoint is disabled: by an administrator, or after 5 days of failures." }),
  ),
  failingSince: Nullable(Timestamp),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const DeliveryStatus = Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("failed")], {
  description:
    "`pending`: waiting for its first attempt, or for its next one after a failure (`attempts` > 0); `delivered`: answered 2xx; `failed`: every attempt failed (retry it by hand).",
});

const ListedEndpoint = Type.Composite([
  Endpoint,
  Type.Object({
    lastDelivery: Nullable(
      Type.Object(
        {
          id: Type.String(),
          eventType: Type.String(),
          status: DeliveryStatus,
          attempts: Type.Integer(),
          responseStatus: Nullable(Type.Integer()),
          lastAttemptAt: Nullable(Timestamp),
          nextAttemptAt: Nullable(Timestamp),
          createdAt: Timestamp,
        },
        { description: "The endpoint's newest delivery; null before its first." },
      ),
    ),
  }),
]);

const WithSecret = Type.Composite([
  Endpoint,
  Type.Object({
    secret: Type.String({
      description:
        "The signing secret (`whsec_…`) for the `webhook-signature` header (Standard Webhooks). Shown only in this answer.",
    }),
  }),
]);

const Attempt = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  startedAt: Timestamp,
  durationMs: Type.Integer(),
  responseStatus: Nullable(Type.Integer()),
  responseBody: Nullable(Type.String({ description: "The first 1 KB of the answer." })),
  error: Nullable(Type.String({ description: "Timeout, connection error or refused address; null when answered." })),
});

const Delivery = Type.Object({
  id: Type.String({ description: "The `webhook-id` every attempt of this delivery carries." }),
  endpointId: Type.String(),
  eventType: Type.String({ description: "The audit action, or `webhook.test`." }),
  eventSeq: Nullable(Type.Integer({ description: "The event's place in the org's audit chain; null for tests." })),
  status: DeliveryStatus,
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Timestamp),
  lastAttemptAt: Nullable(Timestamp),
  responseStatus: Nullable(Type.Integer()),
  responseBody: Nullable(Type.String({ description: "The first 1 KB of the last answer." })),
  lastError: Nullable(Type.String()),
  createdAt: Timestamp,
  deliveredAt: Nullable(Timestamp),
  log: Type.Array(Attempt, { description: "Every attempt, oldest first." }),
});

const MANAGE = "Needs `webhook:manage`.";

export async function webhookRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/webhooks",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "listWebhooks",
        summary: "List webhook endpoints",
        description: `The org's webhook endpoints, newest first, each with its newest delivery, never with a secret. ${MANAGE}`,
        params: OrgParams,
        response: {
          200: Type.Object({ data: Type.Array(ListedEndpoint), nextCursor: Type.Null() }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => ({ data: await listEndpoints(deps, orgContext(req)), nextCursor: null }),
  );

  r.post(
    "/v1/orgs/:orgId/webhooks",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "createWebhook",
        summary: "Create a webhook endpoint",
        description: `Every audit event of the org that matches \`events\` is POSTed to \`url\`, signed per Standard Webhooks with the secret in this answer (shown once), in seq order, retried with backoff for about a day. The URL is refused (422 \`webhook_url_refused\`) unless it is https on a public address. ${MANAGE} Audited as \`webhook.created\`.`,
        params: OrgParams,
        body: Type.Object(
          { url: Url, events: Events, description: Type.Optional(Description) },
          { additionalProperties: false },
        ),
        response: { 201: WithSecret, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => reply.code(201).send(await createEndpoint(deps, orgContext(req), req.body, requestMeta(req))),
  );

  r.get(
    "/v1/orgs/:orgId/webhooks/:id",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "getWebhook",
        summary: "Get a webhook endpoint",
        description: `One endpoint, never with its secret. ${MANAGE}`,
        params: EndpointParams,
        response: { 200: Endpoint, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => getEndpoint(deps, orgContext(req), req.params.id),
  );

  r.patch(
    "/v1/orgs/:orgId/webhooks/:id",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "updateWebhook",
        summary: "Update a webhook endpoint",
        description: `Changes the URL (checked as on creation), the events, the description, or enables/disables it. While disabled, no events are queued for it; enabling it resumes its queue where it stopped. ${MANAGE} Audited as \`webhook.updated\`.`,
        params: EndpointParams,
        body: Type.Object(
          {
            url: Type.Optional(Url),
            events: Type.Optional(Events),
            enabled: Type.Optional(Type.Boolean()),
            description: Type.Optional(Nullable(Description)),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Endpoint, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => updateEndpoint(deps, orgContext(req), req.params.id, req.body, requestMeta(req)),
  );

  r.delete(
    "/v1/orgs/:orgId/webhooks/:id",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "deleteWebhook",
        summary: "Delete a webhook endpoint",
        description: `The endpoint, its queue and its delivery log are deleted. ${MANAGE} Audited as \`webhook.deleted\`.`,
        params: EndpointParams,
        response: { 204: Type.Null({ description: "Deleted." }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      await deleteEndpoint(deps, orgContext(req), req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );

  r.post(
    "/v1/orgs/:orgId/webhooks/:id/rotate-secret",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "rotateWebhookSecret",
        summary: "Rotate a webhook signing secret",
        description: `A new secret, shown once. For 24 hours every delivery carries two signatures, one with each secret, so the receiver can switch without losing events; then the old one stops signing. ${MANAGE} Audited as \`webhook.secret_rotated\`.`,
        params: EndpointParams,
        response: { 200: WithSecret, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => rotateSecret(deps, orgContext(req), req.params.id, requestMeta(req)),
  );

  r.post(
    "/v1/orgs/:orgId/webhooks/:id/test",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "testWebhook",
        summary: "Send a test event",
        description: `Queues a \`webhook.test\` event for the endpoint (after anything already waiting); the delivery log shows its attempts. ${MANAGE}`,
        params: EndpointParams,
        response: { 202: Delivery, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => reply.code(202).send(await sendTestEvent(deps, orgContext(req), req.params.id)),
  );

  r.get(
    "/v1/orgs/:orgId/webhooks/:id/deliveries",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "listWebhookDeliveries",
        summary: "List an endpoint's deliveries",
        description: `Newest first, in cursor pages: the event, attempts, last status, next attempt, the response code and the first 1 KB of the body of every attempt. ${MANAGE}`,
        params: EndpointParams,
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 25 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ data: Type.Array(Delivery), nextCursor: Nullable(Type.String()) }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => listDeliveries(deps, orgContext(req), req.params.id, req.query),
  );

  r.post(
    "/v1/orgs/:orgId/webhooks/:id/deliveries/:deliveryId/retry",
    {
      config: { org: true },
      schema: {
        tags: ["webhooks"],
        operationId: "retryWebhookDelivery",
        summary: "Retry a delivery",
        description: `Sends the delivery again as soon as it is at the head of the endpoint's queue, with the same \`webhook-id\`: a failed one is queued again, a waiting one skips the rest of its backoff, a delivered one goes out once more. 409 while the endpoint is disabled. ${MANAGE}`,
        params: DeliveryParams,
        response: { 202: Delivery, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) =>
      reply.code(202).send(await retryDelivery(deps, orgContext(req), req.params.id, req.params.deliveryId)),
  );
}
