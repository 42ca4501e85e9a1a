import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { asc, gt, sql } from "drizzle-orm";
import { canPlatform, presets } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { errors, page, Timestamp } from "../http/schemas.ts";
import { requirePrincipal } from "../http/context.ts";
import { organizations } from "../db/schema.ts";
import { AppError } from "../http/errors.ts";

/** Platform roles are declared by the crm preset (developer < developer_staff < developer_admin). */
const platformPolicy = presets.crm;

export async function platformRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/platform/orgs",
    {
      schema: {
        tags: ["platform"],
        operationId: "listPlatformOrgs",
        summary: "Tenant list",
        description:
          "Every organization of this installation with its member count, for the host company's staff. Needs a platform role with `tenant:read`; it shows no org's members or data.",
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 100 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: page(
            Type.Object({
              id: Type.String(),
              name: Type.String(),
              policy: Type.String(),
              createdAt: Timestamp,
              memberCount: Type.Integer(),
            }),
          ),
          ...errors(400, 401, 403),
        },
      },
    },
    async (req) => {
      const p = requirePrincipal(req);
      const decision = p.user.platformRole ? canPlatform(platformPolicy, p.user.platformRole, "read", "tenant") : null;
      if (!decision?.allowed) {
        throw new AppError("permission_denied", decision?.reason ?? "Only platform staff can list tenants.", {
          requiredPermission: "tenant:read",
        });
      }
      const { cursor, limit } = req.query;
      const rows = await deps.db.tx({ platform: true }, (tx) =>
        tx
          .select({
            id: organizations.id,
            name: organizations.name,
            policy: organizations.policy,
            createdAt: organizations.createdAt,
            // Counted by a definer function: the platform scope cannot read member rows themselves.
            memberCount: sql<number>`roster_member_count(${organizations.id})`,
          })
          .from(organizations)
          .where(cursor ? gt(organizations.id, cursor) : undefined)
          .orderBy(asc(organizations.id))
          .limit(limit + 1),
      );
      const more = rows.length > limit;
      const data = rows.slice(0, limit).map((o) => ({ ...o, memberCount: Number(o.memberCount) }));
      return { data, nextCursor: more ? (data[data.length - 1]?.id ?? null) : null };
    },
  );
}
