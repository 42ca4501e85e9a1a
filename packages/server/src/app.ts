import type { Socket } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import cookie from "@fastify/cookie";
import cors from "@fastify/cors";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { AppDeps } from "./deps.ts";
import { requestId as newRequestId } from "./lib/ids.ts";
import { AppError } from "./http/errors.ts";
import { findNul } from "./http/nul.ts";
import { ErrorBody, withStandardErrors } from "./http/schemas.ts";
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
    genReqId: () => newRequestId(),
    requestIdHeader: false,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: deps.config.trustProxy,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true, allErrors: false } },
    // The router's own refusals (a path segment over the length limit, malformed percent-encoding), the
    // connection's (not HTTP, headers too large, too slow) and the shutdown's 503 all answer in the contract.
    frameworkErrors: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
      const appErr = frameworkError(err);
      void reply.code(appErr.status).header("x-request-id", req.id).send(errorBody(req.id, appErr));
    },
    clientErrorHandler: onClientError,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });

  const routes: Array<{ method: string; re: RegExp }> = [];
  app.addHook("onRoute", (r) => {
    // The API reference's own assets are public.
    if (r.url.startsWith("/docs")) r.config = { ...(r.config ?? {}), auth: "none" };
    // Every operation declares the errors its kind of route can answer, beside the ones its handler adds.
    if (r.schema?.response && !r.schema.hide) {
      const kind = { method: r.method, auth: r.config?.auth, org: r.config?.org };
      r.schema = { ...r.schema, response: withStandardErrors(r.schema.response as Record<string, unknown>, kind) };
    }
    // The CORS plugin's catch-all preflight route is no endpoint: unknown paths still answer 404.
    if (r.url === "*") return;
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
  // Browser apps on the operator's listed origins (ROSTER_CORS_ORIGINS) call the API with a bearer token; cookies
  // never cross origins. Preflights are answered before authentication. The OpenID endpoints answer their own
  // (oidc/provider.ts, clientBasedCORS). Nothing is registered when no origin is listed.
  if (deps.config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: deps.config.corsOrigins,
      methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
      allowedHeaders: ["authorization", "content-type", "last-event-id"],
      exposedHeaders: ["x-request-id", "retry-after", "location"],
      credentials: false,
      maxAge: 600,
      // A bare OPTIONS (no Origin) gets an empty 204 rather than a plain-text 400 outside the contract.
      strictPreflight: false,
    });
  }
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
    if (closing) {
      void reply.header("connection", "close");
      throw new AppError("unavailable", "This instance is shutting down. Retry the request.");
    }
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

/** The router's refusals, before any route matched. */
function frameworkError(err: FastifyError): AppError {
  switch (err.code) {
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new AppError(
        "validation_failed",
        `A path segment is longer than ${MAX_PARAM_LENGTH} characters; ids have at most 64.`,
        { param: "path" },
      );
    case "FST_ERR_BAD_URL":
      return new AppError("validation_failed", "The path is not a valid URL (malformed percent-encoding).", {
        param: "path",
      });
    default:
      return toAppError(err) ?? internalError();
  }
}

const MAX_PARAM_LENGTH = 100;

function internalError(): AppError {
  return new AppError(
    "internal_error",
    "Something went wrong on our side. Quote the request id if you contact support.",
  );
}

/**
 * A connection that never made a request Fastify could route: not HTTP, headers over the size limit, or too slow
 * to send them. Answers in the contract (with a request id of its own) and closes, as Node does by default.
 */
function onClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const appErr =
    err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? new AppError("request_timeout", "The request took too long to arrive.")
      : err.code === "HPE_HEADER_OVERFLOW"
        ? new AppError("headers_too_large", "The request line and headers are too large.")
        : new AppError("validation_failed", "The request is not valid HTTP.");
  const requestId = newRequestId();
  const body = JSON.stringify(errorBody(requestId, appErr));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${appErr.status} ${STATUS_TEXT[appErr.status] ?? "Error"}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

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
