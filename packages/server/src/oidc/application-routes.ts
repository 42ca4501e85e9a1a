import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, page, Timestamp } from "../http/schemas.ts";
import { requireSession } from "../http/context.ts";
import {
  assertOperator,
  createApplication,
  deleteApplication,
  getApplication,
  listApplications,
  rotateApplicationSecret,
  updateApplication,
} from "./applications.ts";

const AppType = Type.Union([Type.Literal("web"), Type.Literal("spa"), Type.Literal("native"), Type.Literal("machine")]);
const Uri = Type.String({ minLength: 1, maxLength: 2000 });
const Uris = Type.Array(Uri, { maxItems: 20 });
const Application = Type.Object({
  id: Type.String(),
  clientId: Type.String(),
  name: Type.String(),
  type: AppType,
  firstParty: Type.Boolean(),
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  backchannelLogoutUri: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
const WithSecret = Type.Intersect([Application, Type.Object({ clientSecret: Type.Optional(Type.String()) })]);
const Params = Type.Object({ id: Id });

/** OIDC clients of the installation, for its operators (platform_settings:manage). */
export async function applicationRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const operator = (req: Parameters<typeof requireSession>[0]) => {
    const p = requireSession(req);
    assertOperator(p.user.platformRole);
    return p;
  };

  r.post(
    "/v1/platform/applications",
    {
      schema: {
        tags: ["platform"],
        operationId: "createApplication",
        summary: "Register an application",
        description:
          "Registers an OIDC client that signs people in through Roster. `web` and `machine` applications get a `clientSecret`, shown in this response only; `spa` and `native` ones are public clients and must use PKCE. Needs `platform_settings:manage`.",
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            type: AppType,
            redirectUris: Type.Optional(Uris),
            postLogoutRedirectUris: Type.Optional(Uris),
            backchannelLogoutUri: Type.Optional(Nullable(Uri)),
            firstParty: Type.Optional(Type.Boolean({ description: "First-party applications skip the consent step." })),
          },
          { additionalProperties: false },
        ),
        response: { 201: WithSecret, ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const p = operator(req);
      return reply.code(201).send(await createApplication(deps, req.body, p.user.id));
    },
  );

  r.get(
    "/v1/platform/applications",
    {
      schema: {
        tags: ["platform"],
        operationId: "listApplications",
        summary: "List applications",
        description: "The installation's OIDC clients, without secrets. Needs `platform_settings:manage`.",
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 100 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Application), ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      operator(req);
      return listApplications(deps, req.query.cursor, req.query.limit);
    },
  );

  r.get(
    "/v1/platform/applications/:id",
    {
      schema: {
        tags: ["platform"],
        operationId: "getApplication",
        summary: "Get an application",
        description: "One OIDC client, without its secret. Needs `platform_settings:manage`.",
        params: Params,
        response: { 200: Application, ...errors(401, 403, 404) },
      },
    },
    async (req) => {
      operator(req);
      return getApplication(deps, req.params.id);
    },
  );

  r.patch(
    "/v1/platform/applications/:id",
    {
      schema: {
        tags: ["platform"],
        operationId: "updateApplication",
        summary: "Change an application",
        description:
          "Name, redirect URIs, post-logout redirect URIs, back-channel logout URI, first-party flag. The type cannot change. Needs `platform_settings:manage`.",
        params: Params,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            redirectUris: Type.Optional(Uris),
            postLogoutRedirectUris: Type.Optional(Uris),
            backchannelLogoutUri: Type.Optional(Nullable(Uri)),
            firstParty: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Application, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      operator(req);
      return updateApplication(deps, req.params.id, req.body);
    },
  );

  r.delete(
    "/v1/platform/applications/:id",
    {
      schema: {
        tags: ["platform"],
        operationId: "deleteApplication",
        summary: "Delete an application",
        description: "The client can no longer sign anyone in or refresh tokens. Needs `platform_settings:manage`.",
        params: Params,
        response: { 204: Type.Null(), ...errors(401, 403, 404) },
      },
    },
    async (req, reply) => {
      operator(req);
      await deleteApplication(deps, req.params.id);
      return reply.code(204).send(null);
    },
  );

  r.post(
    "/v1/platform/applications/:id/rotate-secret",
    {
      schema: {
        tags: ["platform"],
        operationId: "rotateApplicationSecret",
        summary: "Replace an application's secret",
        description:
          "The old secret stops working at once; the new one is shown in this response only. Needs `platform_settings:manage`.",
        params: Params,
        response: { 200: WithSecret, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      operator(req);
      return rotateApplicationSecret(deps, req.params.id);
    },
  );
}
