import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { can } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { errors, Id } from "../http/schemas.ts";
import { authorize, loadOrgContext, orgMembership, requirePrincipal, subjectOf } from "../http/context.ts";
import { notFound } from "../http/errors.ts";

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
            subject: Type.Optional(
              Type.Object(
                { userId: Id },
                {
                  additionalProperties: false,
                  description:
                    "Ask about this member instead of the caller. Needs `authorize:any_member` (an integration API key, or a member holding it). Unknown or removed members answer 404; suspended ones are not allowed.",
                },
              ),
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
      const { orgId, action, resource, subject } = req.body;
      const ctx = await loadOrgContext(deps, requirePrincipal(req), orgId);
      if (!subject || subject.userId === ctx.member.userId) {
        const d = can(ctx.policy, ctx.subject, action, resource);
        return { allowed: d.allowed, reason: d.reason, requiredPermission: d.requiredPermission };
      }
      authorize(ctx, "any_member", { type: "authorize" });
      // The same cached membership the member's own requests are decided from, dropped on every change to it.
      const found = await orgMembership(deps, orgId, subject.userId);
      if (!found || found.member.status === "removed") throw notFound("Member");
      const d = can(ctx.policy, subjectOf(found.member), action, resource);
      if (found.member.status === "inactive") {
        return {
          allowed: false,
          reason: "The member's access to this organization is suspended.",
          requiredPermission: d.requiredPermission,
        };
      }
      return { allowed: d.allowed, reason: d.reason, requiredPermission: d.requiredPermission };
    },
  );
}
