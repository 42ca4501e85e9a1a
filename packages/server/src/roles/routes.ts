import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { MAX_CUSTOM_ROLE_KEY_LENGTH } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { errors, Id } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { NO_CONTROL_CHARS } from "../members/rules.ts";
import { createRole, deleteRole, listRoles, updateRole } from "./service.ts";

const RoleKey = Type.String({ minLength: 1, maxLength: MAX_CUSTOM_ROLE_KEY_LENGTH, pattern: "^[a-z][a-z0-9_]*$" });
const RoleParams = Type.Object({ orgId: Id, key: Type.String({ minLength: 1, maxLength: 64 }) });
const Title = Type.String({ minLength: 1, maxLength: 80, pattern: NO_CONTROL_CHARS });
const Description = Type.String({ maxLength: 500, pattern: NO_CONTROL_CHARS });
const Rank = Type.Number({
  exclusiveMinimum: 0,
  maximum: 1000,
  description: "Higher is more senior. Strictly below the caller's role; may fall between two roles (1.5).",
});
const Permissions = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 200,
  description:
    'Grants from the preset\'s vocabulary, e.g. ["invoice:read", "customer:read"], "plan:*", "lead:update@own", "order:read@store", "contract_builder:use@department".',
});

const Role = Type.Object({
  key: Type.String(),
  title: Type.String(),
  description: Type.String(),
  rank: Type.Number(),
  permissions: Type.Array(Type.String()),
  builtIn: Type.Boolean({ description: "A role of the preset (true) or the organization's own (false)." }),
  memberCount: Type.Integer({
    description: "Active and inactive members holding the role, among the members the caller may read.",
  }),
});

const RULES =
  "The key is lower_snake and not a role of the preset; every permission comes from the preset's vocabulary (scoped grants and modules included) and the caller must hold it in the same or a wider scope; the rank is above 0 and strictly below the caller's role; no custom role holds `owner:promote`, `owner:demote` or `organization:delete`.";

export async function roleRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/roles",
    {
      config: { org: true },
      schema: {
        tags: ["roles"],
        operationId: "listRoles",
        summary: "List the organization's roles",
        description:
          "The preset's roles (`builtIn: true`), then the organization's own, each highest rank first, with their permissions and member counts. Any member may read them: they are the org's policy, which `GET /v1/orgs/{orgId}/policy` serves too.",
        params: Type.Object({ orgId: Id }),
        response: { 200: Type.Object({ data: Type.Array(Role) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => ({ data: await listRoles(deps, orgContext(req)) }),
  );

  r.post(
    "/v1/orgs/:orgId/roles",
    {
      config: { org: true },
      schema: {
        tags: ["roles"],
        operationId: "createRole",
        summary: "Create a custom role",
        description: `Needs \`role:manage\`. ${RULES} It applies at once on every instance: invite members with it or give it to them like any role. Audited as \`role.created\`.`,
        params: Type.Object({ orgId: Id }),
        body: Type.Object(
          {
            key: RoleKey,
            title: Title,
            description: Type.Optional(Description),
            rank: Rank,
            permissions: Permissions,
          },
          { additionalProperties: false },
        ),
        response: { 201: Role, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const role = await createRole(deps, orgContext(req), req.body, requestMeta(req));
      return reply.code(201).send(role);
    },
  );

  r.patch(
    "/v1/orgs/:orgId/roles/:key",
    {
      config: { org: true },
      schema: {
        tags: ["roles"],
        operationId: "updateRole",
        summary: "Change a custom role",
        description: `Needs \`role:manage\` and a role ranked strictly below the caller's; the preset's roles cannot be changed. The role as changed must pass the creation rules: ${RULES} Holders get the new permissions on their next request, on every instance. Audited as \`role.updated\` with the permissions before and after.`,
        params: RoleParams,
        body: Type.Object(
          {
            title: Type.Optional(Title),
            description: Type.Optional(Description),
            rank: Type.Optional(Rank),
            permissions: Type.Optional(Permissions),
          },
          { additionalProperties: false },
        ),
        response: { 200: Role, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      const { title, description, rank, permissions } = req.body;
      return updateRole(
        deps,
        orgContext(req),
        req.params.key,
        {
          ...(title !== undefined ? { title } : {}),
          ...(description !== undefined ? { description } : {}),
          ...(rank !== undefined ? { rank } : {}),
          ...(permissions !== undefined ? { permissions } : {}),
        },
        requestMeta(req),
      );
    },
  );

  r.delete(
    "/v1/orgs/:orgId/roles/:key",
    {
      config: { org: true },
      schema: {
        tags: ["roles"],
        operationId: "deleteRole",
        summary: "Delete a custom role",
        description:
          "Needs `role:manage` and a role ranked strictly below the caller's. Refused with 409 `role_in_use` while any member (removed members too, until they are purged) or pending invitation holds the role. Audited as `role.deleted`.",
        params: RoleParams,
        response: { 204: Type.Null({ description: "Deleted." }), ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      await deleteRole(deps, orgContext(req), req.params.key, requestMeta(req));
      return reply.code(204).send(null);
    },
  );
}
