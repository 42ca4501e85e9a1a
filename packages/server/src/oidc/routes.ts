import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable } from "../http/schemas.ts";
import { requirePrincipal } from "../http/context.ts";
import { oidcHostFor } from "./host.ts";
import { abortInteraction, completeInteraction, describeInteraction } from "./interactions.ts";

const Uid = Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9_-]+$" });
const Redirect = Type.Object({ redirectTo: Type.String() });

/** The OpenID Provider under /oidc, and the API its sign-in pages (console, /interaction/{uid}) call. */
export async function oidcRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const host = await oidcHostFor(deps);

  await app.register(async (scope) => {
    // The provider reads its own bodies (form-encoded, JSON); Fastify hands over the untouched stream.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null));
    const handler = async (req: { raw: IncomingMessage }, reply: { hijack(): void; raw: ServerResponse }) => {
      const provider = await host.provider();
      reply.hijack();
      const raw = req.raw as IncomingMessage & { originalUrl?: string };
      raw.originalUrl = raw.url;
      raw.url = (raw.url ?? "").slice("/oidc".length) || "/";
      void provider.callback()(raw, reply.raw);
    };
    // The provider answers CORS for its own endpoints (clientBasedCORS in provider.ts).
    const config = { auth: "none" as const, cors: false as const };
    const schema = { hide: true };
    scope.all("/oidc", { config, schema }, handler);
    scope.all("/oidc/*", { config, schema }, handler);
  });

  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const Params = Type.Object({ uid: Uid });
  const Org = Type.Object({
    id: Type.String(),
    name: Type.String(),
    role: Type.String(),
    roleTitle: Nullable(
      Type.String({
        description:
          "The role's title in the org: the preset's, or the org's own for a custom role; null for a role the org no longer defines.",
      }),
    ),
  });

  r.get(
    "/v1/oidc/interactions/:uid",
    {
      config: { auth: "optional" },
      schema: {
        tags: ["oidc"],
        operationId: "getOidcInteraction",
        summary: "A sign-in request from an application",
        description:
          "What the sign-in page shows: the application, whether it is first-party (no consent step), the scopes it asks for, whether it asks for an organization, and, once signed in, the person's active organizations to pick from.",
        params: Params,
        response: {
          200: Type.Object({
            uid: Type.String(),
            application: Type.Object({ clientId: Type.String(), name: Type.String(), firstParty: Type.Boolean() }),
            scopes: Type.Array(Type.String()),
            organization: Type.Object({ requested: Type.Boolean(), orgId: Nullable(Type.String()) }),
            user: Nullable(Type.Object({ id: Type.String(), email: Type.String(), name: Type.String() })),
            organizations: Type.Array(Org),
          }),
          ...errors(404),
        },
      },
    },
    async (req) => describeInteraction(deps, await host.provider(), req.params.uid, req.principal),
  );

  r.post(
    "/v1/oidc/interactions/:uid/complete",
    {
      schema: {
        tags: ["oidc"],
        operationId: "completeOidcInteraction",
        summary: "Finish signing in to an application",
        description:
          "As the signed-in person: grants the application what it asked for (`consent: true` is needed for third-party applications) and, when it asked for an organization, the one picked (`orgId`). Answers where the browser goes next.",
        params: Params,
        body: Type.Object(
          { orgId: Type.Optional(Id), consent: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: Redirect, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => completeInteraction(deps, await host.provider(), req.params.uid, requirePrincipal(req), req.body),
  );

  r.post(
    "/v1/oidc/interactions/:uid/abort",
    {
      config: { auth: "optional" },
      schema: {
        tags: ["oidc"],
        operationId: "abortOidcInteraction",
        summary: "Decline signing in to an application",
        description: "The application receives `access_denied`.",
        params: Params,
        response: { 200: Redirect, ...errors(404) },
      },
    },
    async (req) => abortInteraction(await host.provider(), req.params.uid),
  );
}
