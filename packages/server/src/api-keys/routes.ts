import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, OrgParams, Timestamp } from "../http/schemas.ts";
import { orgContext, requireSession } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { listKeys, mintKey, revokeKey, rotateKey } from "./service.ts";

const KeyParams = Type.Object({ orgId: Id, id: Id });

const CreatedKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: "The 8 characters after `rk_`; lists show them so a key can be recognised." }),
  secret: Type.String({
    description: "The whole key (`rk_<prefix>_<secret>`), for `Authorization: Bearer`. Shown only in this answer.",
  }),
  createdAt: Timestamp,
});

const KeyItem = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  memberId: Type.String({ description: "The member the key acts as." }),
  ownerName: Type.String(),
  permissions: Type.Union([Type.Array(Type.String()), Type.Null()], {
    description: "null: the member's whole current role; otherwise narrowed to these.",
  }),
  createdAt: Timestamp,
  rotatedAt: Nullable(Timestamp),
  lastUsedAt: Nullable(Timestamp),
  revokedAt: Nullable(Timestamp),
});

export async function apiKeyRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/api-keys",
    {
      config: { org: true },
      schema: {
        tags: ["api-keys"],
        operationId: "listApiKeys",
        summary: "List API keys",
        description:
          "The org's keys the caller may see (a scoped reader: the keys of the members in their reach), newest first, revoked ones included (with `revokedAt`). Never a secret. Needs `api_key:read`.",
        params: OrgParams,
        response: {
          200: Type.Object({ data: Type.Array(KeyItem), nextCursor: Type.Null() }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => ({ data: await listKeys(deps, orgContext(req)), nextCursor: null }),
  );

  r.post(
    "/v1/orgs/:orgId/api-keys",
    {
      config: { org: true },
      schema: {
        tags: ["api-keys"],
        operationId: "createApiKey",
        summary: "Mint an API key",
        description:
          "Creates a key that acts as the caller's own membership, with that member's current role on every request, optionally narrowed to `permissions` (each one the caller holds). The secret is shown once. Needs `api_key:create` and a signed-in user. Audited as `api_key.created`.",
        params: OrgParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100, pattern: "\\S" }),
            permissions: Type.Optional(
              Type.Array(Type.String({ minLength: 3, maxLength: 100 }), {
                maxItems: 100,
                description: 'e.g. ["invoice:read", "order:read@store"]',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedKey, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      requireSession(req);
      return reply.code(201).send(await mintKey(deps, ctx, req.body, requestMeta(req)));
    },
  );

  r.post(
    "/v1/orgs/:orgId/api-keys/:id/rotate",
    {
      config: { org: true },
      schema: {
        tags: ["api-keys"],
        operationId: "rotateApiKey",
        summary: "Rotate an API key",
        description:
          "Gives the key a new secret, shown once; the old secret stops working at once. Only the key's own member may rotate it (the new secret acts as them); others with `api_key:revoke` can revoke it. Needs `api_key:rotate` and a signed-in user. Audited as `api_key.rotated`.",
        params: KeyParams,
        response: { 200: CreatedKey, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const ctx = orgContext(req);
      requireSession(req);
      return rotateKey(deps, ctx, req.params.id, requestMeta(req));
    },
  );

  r.delete(
    "/v1/orgs/:orgId/api-keys/:id",
    {
      config: { org: true },
      schema: {
        tags: ["api-keys"],
        operationId: "revokeApiKey",
        summary: "Revoke an API key",
        description:
          "The key fails from its next request. Needs `api_key:revoke` and a signed-in user. Revoking a revoked key answers 204 again. Audited as `api_key.revoked`.",
        params: KeyParams,
        response: { 204: Type.Null({ description: "Revoked." }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      requireSession(req);
      await revokeKey(deps, ctx, req.params.id, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
