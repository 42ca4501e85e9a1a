import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, OrgParams, page } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { auditExport, listAuditEvents, verifyAuditLog } from "./feed.ts";
import { AUDIT_ACTIONS } from "./record.ts";

const Json = Type.Record(Type.String(), Type.Unknown());

/** The families of the actions (`team`, `auth`, …): the entity types events are recorded with. */
const ENTITY_TYPES = [...new Set(AUDIT_ACTIONS.map((a) => a.split(".")[0]!))];

export const AuditEvent = Type.Object(
  {
    orgId: Type.String(),
    seq: Type.Integer({ minimum: 1, description: "Gapless per org, starting at 1." }),
    id: Type.String(),
    action: Type.String({
      description: "Event name, e.g. `team.role_changed`; see the audit events in the integrator guide.",
    }),
    actorId: Nullable(Type.String({ description: "The user who acted; null for the system (scheduled jobs)." })),
    targetId: Nullable(
      Type.String({ description: "What was acted on: a member, user, invitation, API key or org id." }),
    ),
    entityType: Type.String({ description: `The action's family: ${ENTITY_TYPES.join(", ")}.` }),
    before: Nullable(Json),
    after: Nullable(Json),
    ip: Nullable(Type.String()),
    userAgent: Nullable(Type.String()),
    createdAt: Type.String({ format: "date-time" }),
    prevHash: Type.String({ description: "The hash of seq-1 (64 zeros for seq 1)." }),
    hash: Type.String({
      description: "hex SHA-256(prevHash ‖ canonical(event)); docs/audit.md gives the canonical form.",
    }),
  },
  { $id: "AuditEvent", title: "AuditEvent" },
);

const Filters = {
  action: Type.Optional(Type.String({ maxLength: 64, description: "Exact event name." })),
  actorId: Type.Optional(Id),
  targetId: Type.Optional(Id),
  entityType: Type.Optional(Type.String({ maxLength: 64 })),
  from: Type.Optional(Type.String({ maxLength: 40, description: "ISO 8601; events at or after." })),
  to: Type.Optional(Type.String({ maxLength: 40, description: "ISO 8601; events at or before." })),
};

const CheckpointInfo = Nullable(
  Type.Object(
    {
      seq: Type.Integer(),
      hash: Type.String(),
      keyId: Type.String(),
      createdAt: Type.String({ format: "date-time" }),
    },
    { description: "The newest checkpoint whose signature verifies; the chain is checked against every checkpoint." },
  ),
);

export const VerifyResult = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    lastSeq: Type.Integer({ description: "0 for an empty chain." }),
    lastHash: Type.String(),
    eventsVerified: Type.Integer(),
    checkpoint: CheckpointInfo,
  }),
  Type.Object({
    ok: Type.Literal(false),
    brokenAtSeq: Type.Integer({
      description: "The first seq at which the stored chain differs from what was written.",
    }),
    reason: Type.Union([
      Type.Literal("edited"),
      Type.Literal("missing"),
      Type.Literal("reordered"),
      Type.Literal("inserted"),
      Type.Literal("truncated"),
      Type.Literal("checkpoint_forged"),
    ]),
    detail: Type.String(),
    eventsVerified: Type.Integer(),
    checkpoint: CheckpointInfo,
  }),
]);

export async function auditRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(AuditEvent);

  r.get(
    "/v1/orgs/:orgId/audit-events",
    {
      config: { org: true },
      schema: {
        tags: ["audit"],
        operationId: "listAuditEvents",
        summary: "List audit events",
        description:
          "The org's hash-chained audit log, newest first, with filters (action, actorId, targetId, entityType, from/to time range) and cursor pages (`nextCursor` is null on the last page). Needs `audit_log:read`; a scoped reader (department, own, stores) sees the events whose actor or target is one of the people, invitations or API keys in their reach.",
        params: OrgParams,
        querystring: Type.Object(
          {
            ...Filters,
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Type.Ref(AuditEvent)), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => listAuditEvents(deps, orgContext(req), req.query),
  );

  r.get(
    "/v1/orgs/:orgId/audit-events/export",
    {
      config: { org: true },
      schema: {
        tags: ["audit"],
        operationId: "exportAuditEvents",
        summary: "Export audit events as CSV or JSONL",
        description:
          "Streams the org's events in seq order (oldest first), with the same filters as the list. `jsonl` has one event per line with exactly the hashed fields plus `prevHash` and `hash`, so `docs/audit/verify_audit.py` can re-verify it offline. In `csv`, cells a spreadsheet would run as a formula are prefixed with an apostrophe and `before`/`after` are JSON text. Needs `audit_log:export`.",
        params: OrgParams,
        querystring: Type.Object(
          {
            format: Type.Union([Type.Literal("csv"), Type.Literal("jsonl")], { default: "jsonl" }),
            ...Filters,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<Readable>({
            description: "The file, streamed.",
            content: {
              "text/csv": { schema: { type: "string" } },
              "application/x-ndjson": { schema: { type: "string" } },
            },
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      const { format, ...filters } = req.query;
      const file = auditExport(deps, ctx, format, filters);
      const stamp = deps.clock.now().toISOString().slice(0, 10);
      void reply
        .header("content-disposition", `attachment; filename="audit-${ctx.org.id}-${stamp}.${format}"`)
        .header("cache-control", "no-store");
      return reply
        .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8")
        .send(file);
    },
  );

  r.get(
    "/v1/orgs/:orgId/audit-events/verify",
    {
      config: { org: true },
      schema: {
        tags: ["audit"],
        operationId: "verifyAuditChain",
        summary: "Verify the audit chain",
        description:
          "Recomputes every hash and link of the org's chain, compares it with every signed checkpoint (which also catches the newest events being cut off) and with the head, and answers `{ok: true, lastSeq, lastHash}` or `{ok: false, brokenAtSeq, reason}` where reason is edited, missing, reordered, inserted, truncated or checkpoint_forged. Needs `audit_log:read`.",
        params: OrgParams,
        response: { 200: VerifyResult, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => verifyAuditLog(deps, orgContext(req)),
  );
}
