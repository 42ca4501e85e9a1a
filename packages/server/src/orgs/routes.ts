import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { assignableRoles } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { errors, Nullable, OrgParams, Timestamp } from "../http/schemas.ts";
import { orgContext, requirePrincipal, requireSession } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { createOrg, deleteOrg, readOrg, updateOrg } from "./service.ts";
import type { OrgRow } from "../db/schema.ts";

export const Org = Type.Object({
  id: Type.String(),
  name: Type.String(),
  policy: Type.String({ description: "The preset this org is bound to." }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const orgOut = (o: OrgRow) => ({
  id: o.id,
  name: o.name,
  policy: o.policy,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
});
const OrgName = Type.String({ minLength: 1, maxLength: 200, pattern: "\\S" });

export async function orgRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    "/v1/orgs",
    {
      schema: {
        tags: ["orgs"],
        operationId: "createOrg",
        summary: "Create an organization",
        description:
          "Creates an org bound to a policy preset (saas, billing, crm, departments, operations); the caller becomes its top role.",
        body: Type.Object(
          { name: OrgName, policy: Type.String({ minLength: 1, maxLength: 64 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ ...Org.properties, memberId: Type.String(), role: Type.String() }),
          ...errors(400, 401, 403, 422),
        },
      },
    },
    async (req, reply) => {
      const p = requirePrincipal(req);
      const { org, member } = await createOrg(
        deps,
        { name: req.body.name, policy: req.body.policy, ownerUserId: p.user.id },
        requestMeta(req),
      );
      return reply.code(201).send({ ...orgOut(org), memberId: member.id, role: member.role });
    },
  );

  r.get(
    "/v1/orgs/:orgId",
    {
      config: { org: true },
      schema: {
        tags: ["orgs"],
        operationId: "getOrg",
        summary: "Get an organization",
        description: "Any member may read the org they belong to. Another org's id answers 404.",
        params: OrgParams,
        response: { 200: Org, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const ctx = orgContext(req);
      return orgOut(readOrg(ctx));
    },
  );

  r.patch(
    "/v1/orgs/:orgId",
    {
      config: { org: true },
      schema: {
        tags: ["orgs"],
        operationId: "updateOrg",
        summary: "Rename an organization",
        description: "Needs `organization:update`. Audited as `organization.updated` with the before/after name.",
        params: OrgParams,
        body: Type.Object({ name: Type.Optional(OrgName) }, { additionalProperties: false }),
        response: { 200: Org, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const ctx = orgContext(req);
      return orgOut(await updateOrg(deps, ctx, req.body, requestMeta(req)));
    },
  );

  r.delete(
    "/v1/orgs/:orgId",
    {
      config: { org: true },
      schema: {
        tags: ["orgs"],
        operationId: "deleteOrg",
        summary: "Delete an organization",
        description:
          "Needs `organization:delete` (in the presets: the top role only) and a signed-in user (not an API key). Deletes the org with its members, invitations, API keys and audit log; users keep their accounts and other memberships. Irreversible.",
        params: OrgParams,
        response: { 204: Type.Null({ description: "Deleted." }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      // Irreversible: only a person signed in, never an integration's key, even one minted by the top role.
      requireSession(req);
      await deleteOrg(deps, ctx);
      req.log.warn({ orgId: ctx.org.id, byUserId: ctx.member.userId }, "organization deleted");
      return reply.code(204).send(null);
    },
  );

  r.get(
    "/v1/orgs/:orgId/policy",
    {
      config: { org: true },
      schema: {
        tags: ["orgs"],
        operationId: "getOrgPolicy",
        summary: "The org's policy",
        description:
          "Roles with ranks and permissions, resources, dimensions and modules, for UIs that render the matrix; plus the roles the caller may assign and the caller as a policy subject, so host apps (through the SDK) can decide many records locally with the very engine Roster uses.",
        params: OrgParams,
        response: {
          200: Type.Object({
            policy: Type.Unknown({ description: "The normalised policy (see @roster/policy `Policy`)." }),
            viewer: Type.Object({
              role: Type.String(),
              assignableRoles: Type.Array(Type.String()),
              subject: Type.Object(
                {
                  role: Type.String(),
                  userId: Type.String(),
                  department: Nullable(Type.String()),
                  storeIds: Type.Array(Type.String()),
                  hiddenModules: Type.Array(Type.String()),
                  narrowTo: Type.Optional(
                    Type.Array(Type.String(), { description: "Present for an API key narrowed to these permissions." }),
                  ),
                },
                {
                  description:
                    "The caller as the policy engine sees it: pass it with `policy` to `can` and `filterFor` of @roster/policy (or the SDK) to decide locally.",
                },
              ),
            }),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const ctx = orgContext(req);
      const s = ctx.subject;
      const subject = {
        role: s.role,
        userId: s.userId,
        department: s.department ?? null,
        storeIds: [...(s.storeIds ?? [])],
        hiddenModules: [...(s.hiddenModules ?? [])],
        ...(s.narrowTo ? { narrowTo: [...s.narrowTo] } : {}),
      };
      return {
        policy: ctx.policy,
        viewer: { role: ctx.member.role, assignableRoles: assignableRoles(ctx.policy, ctx.subject), subject },
      };
    },
  );
}
