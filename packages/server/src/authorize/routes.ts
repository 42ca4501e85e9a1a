import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { can } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { errors, Id } from "../http/schemas.ts";
import { loadOrgContext, requirePrincipal } from "../http/context.ts";

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-z][a-z0-9_]*$" });

export async function authorizeRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/authorize",
    {
      schema: {
        tags: ["authorize"],
        operationId: "authorize",
        summary: "Ask whether the caller may act on a host-app record",
        description:
          "The host app's check for its own records (`plan:create`, `invoice:void`, `lead:update` with `ownerId`, `order:read` with `storeId`), decided by the same policy engine Roster uses for itself, as the calling member with its current role, stores, department and hidden modules. Unknown actions or resource types are simply not allowed.",
        body: Type.Object(
          {
            orgId: Id,
            action: Name,
            resource: Type.Object(
              {
                type: Name,
                id: Type.Optional(Type.String({ maxLength: 200 })),
                ownerId: Type.Optional(
                  Type.String({ maxLength: 200, description: "The owning user's id (for `@own` grants)." }),
                ),
                storeId: Type.Optional(Type.String({ maxLength: 200 })),
                department: Type.Optional(Type.String({ maxLength: 64 })),
                module: Type.Optional(Type.String({ maxLength: 64 })),
              },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ allowed: Type.Boolean(), reason: Type.String(), requiredPermission: Type.String() }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const ctx = await loadOrgContext(deps, requirePrincipal(req), req.body.orgId);
      const d = can(ctx.policy, ctx.subject, req.body.action, req.body.resource);
      return { allowed: d.allowed, reason: d.reason, requiredPermission: d.requiredPermission };
    },
  );
}
