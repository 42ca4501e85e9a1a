import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AppDeps } from "./deps.ts";
import { newId } from "./lib/ids.ts";
import { AppError } from "./http/errors.ts";
import { findNul } from "./http/nul.ts";
import { ErrorBody } from "./http/schemas.ts";
import { authenticate, bindOrg } from "./http/context.ts";
import { registerFeatures } from "./features.ts";

export type { AppDeps };

/** Builds the HTTP app from its dependencies; nothing here reads the environment or opens connections. */
export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? {
      level: deps.config.logLevel,
      redact: ["req.headers.authorization", "req.headers.cookie", 'req.headers["x-csrf-token"]'],
    },
    genReqId: () => newId("evt").replace("evt_", "req_"),
    requestIdHeader: false,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: deps.config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const routes: Array<{ method: string; re: RegExp }> = [];
  app.addHook("onRoute", (r) => {
    // The API reference's own assets are public.
    if (r.url.startsWith("/docs")) r.config = { ...(r.config ?? {}), auth: "none" };
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const re = new RegExp(
      "^" +
        r.url
          .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
          .replace(/:[A-Za-z0-9_]+/g, "[^/]+")
          .replace(/\\\*/g, ".*") +
        "/?$",
    );
    for (const m of methods) routes.push({ method: m, re });
  });

  // JSON only: other bodies answer 415 instead of reaching a handler as a string.
  app.removeContentTypeParser(["text/plain"]);
  app.addSchema(ErrorBody);
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Roster API",
        version: "1.0.0",
        description:
          "Team & access management for B2B SaaS products: members, roles, invitations, MFA, API keys, a hash-chained audit log.",
      },
      servers: [{ url: deps.config.publicUrl }],
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "A session token from sign-in, or an API key." },
          cookie: {
            type: "apiKey",
            in: "cookie",
            name: "roster_session",
            description: "Browser session; changes also need the x-csrf-token header.",
          },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });
  app.get("/openapi.json", { config: { auth: "none" }, schema: { hide: true } }, async () => app.swagger());

  app.addHook("onRequest", async (req, reply) => {
    void reply.header("x-request-id", req.id);
    await authenticate(deps, req);
  });
  // Before any handler can hand it to the database (which would fail with a 500): a clear 400 naming the field.
  app.addHook("preValidation", async (req) => {
    const param = findNul(req.params) ?? findNul(req.query) ?? findNul(req.body);
    if (param !== null)
      throw new AppError("validation_failed", `\`${param}\` contains a NUL character, which cannot be stored.`, {
        param,
      });
  });
  app.addHook("preHandler", async (req) => bindOrg(deps, req));
  app.decorateRequest("principal", null);
  app.decorateRequest("orgContext", null);

  app.setNotFoundHandler(async (req, reply) => {
    const path = req.url.split("?")[0] ?? "";
    const allowed = [...new Set(routes.filter((r) => r.re.test(path)).map((r) => r.method))];
    void reply.header("x-request-id", req.id);
    if (allowed.length > 0) {
      void reply.header("allow", allowed.join(", "));
      return reply
        .code(405)
        .send(
          errorBody(
            req.id,
            new AppError("method_not_allowed", `${req.method} is not allowed here. Allowed: ${allowed.join(", ")}.`),
          ),
        );
    }
    return reply
      .code(404)
      .send(errorBody(req.id, new AppError("route_not_found", `No endpoint ${req.method} ${path}.`)));
  });

  app.setErrorHandler(async (err: FastifyError | AppError | Error, req, reply) => {
    const appErr = toAppError(err);
    if (!appErr) {
      req.log.error({ err }, "unhandled error");
      return reply
        .code(500)
        .send(
          errorBody(
            req.id,
            new AppError(
              "internal_error",
              "Something went wrong on our side. Quote the request id if you contact support.",
            ),
          ),
        );
    }
    if (appErr.extras.retryAfterSeconds) void reply.header("retry-after", String(appErr.extras.retryAfterSeconds));
    if (appErr.status >= 500) req.log.error({ err }, "request failed");
    return reply.code(appErr.status).send(errorBody(req.id, appErr));
  });

  await registerFeatures(app, deps);
  return app;
}

function errorBody(requestId: string, e: AppError) {
  return {
    error: {
      type: e.type,
      code: e.code,
      message: e.message,
      ...(e.extras.param ? { param: e.extras.param } : {}),
      ...(e.extras.requiredPermission ? { requiredPermission: e.extras.requiredPermission } : {}),
      requestId,
    },
  };
}

/** Maps framework and driver errors that a caller can cause to the contract; everything else stays a 500. */
function toAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  const e = err as FastifyError & {
    validation?: Array<{ instancePath?: string; params?: Record<string, unknown>; message?: string }>;
    validationContext?: string;
  };
  if (e.validation && e.validation.length > 0) {
    const v = e.validation[0]!;
    const missing = typeof v.params?.missingProperty === "string" ? v.params.missingProperty : undefined;
    const extra = typeof v.params?.additionalProperty === "string" ? v.params.additionalProperty : undefined;
    const path = (v.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".");
    const param = [path, missing ?? extra].filter(Boolean).join(".") || e.validationContext || "body";
    const message = extra
      ? `Unknown field \`${param}\`.`
      : missing
        ? `\`${param}\` is required.`
        : `\`${param}\` ${v.message ?? "is invalid"}.`;
    return new AppError("validation_failed", message, { param });
  }
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("body_too_large", "The request body is too large.");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("unsupported_media_type", "Send the body as application/json.");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError("invalid_json", "The body is empty; send a JSON object.");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("invalid_json", "The Content-Length does not match the body.");
  }
  if (e instanceof SyntaxError || e.code === "FST_ERR_CTP_INVALID_JSON_BODY")
    return new AppError("invalid_json", "The body is not valid JSON.");
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError("validation_failed", "The request is malformed.");
  }
  return null;
}
