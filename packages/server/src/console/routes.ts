import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import fastifyStatic from "@fastify/static";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors } from "../http/schemas.ts";
import { hasDevMailbox } from "../mail/routes.ts";

/** Where `npm run build -w @roster/console` writes the console (also run by `npm ci` through `prepare`). */
export const CONSOLE_DIST = fileURLToPath(new URL("../../../console/dist", import.meta.url));

/**
 * The console's client-side routes. Each is listed instead of a catch-all so that every other path (/v1/*,
 * /docs, /openapi.json, /healthz, /readyz, /metrics) keeps its own answer, including the API's JSON 404.
 */
export const CONSOLE_PATHS = [
  "/",
  "/sign-in",
  "/accept-invitation",
  "/forgot-password",
  "/reset-password",
  "/mfa/*",
  "/account",
  "/platform",
  "/platform/*",
  "/mailbox",
  "/orgs/*",
  "/interaction/*",
] as const;

// Mantine sets inline styles and injects its CSS variables, hence style-src 'unsafe-inline'; scripts stay 'self' only.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CSP)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "same-origin")
    .header("x-frame-options", "DENY")
    .header("cache-control", "no-cache");
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Roster console not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#f1f3f5;padding:2px 6px;border-radius:4px}</style></head>
<body><h1>The Roster console is not built yet</h1>
<p>The API is running (see <a href="/docs">/docs</a>). To serve the admin console here, build it once from the repository root:</p>
<p><code>npm run build -w @roster/console</code></p>
<p>then restart the server. <code>npm ci</code> builds it automatically.</p></body></html>`;

/** Serves the built console at `/` with a fallback to index.html for the console's own routes. */
export async function registerConsole(app: FastifyInstance, distDir: string): Promise<void> {
  await app.register(async (scope) => {
    // The console's files are public; the API behind them does its own authentication.
    scope.addHook("onRoute", (r) => {
      r.config = { ...(r.config ?? {}), auth: "none" };
      r.schema = { ...(r.schema ?? {}), hide: true };
    });
    const built = existsSync(join(distDir, "index.html"));
    if (built) {
      await scope.register(fastifyStatic, {
        root: distDir,
        prefix: "/",
        wildcard: false,
        index: false,
        cacheControl: false,
        setHeaders: (reply, path) => {
          // Vite puts a content hash in every asset name, so those never change.
          void reply.header(
            "cache-control",
            path.startsWith(join(distDir, "assets")) ? "public, max-age=31536000, immutable" : "no-cache",
          );
          void reply.header("x-content-type-options", "nosniff");
        },
      });
    }
    for (const url of CONSOLE_PATHS) {
      scope.get(url, async (_req, reply) => {
        if (!built) return pageHeaders(reply).code(503).type("text/html; charset=utf-8").send(NOT_BUILT);
        return pageHeaders(reply).sendFile("index.html", distDir);
      });
    }
  });
}

const Capabilities = Type.Object(
  {
    devMailbox: Type.Boolean({
      description:
        "Whether `GET /v1/dev/mailbox` exists: true when no SMTP_URL is configured (mail stays in the installation), false when mail goes out through SMTP.",
    }),
  },
  { additionalProperties: false },
);

/**
 * What this installation offers where that depends on its configuration rather than on its version, so the
 * console asks at run time instead of trusting the API list it was built with.
 */
export async function capabilityRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    "/v1/capabilities",
    {
      schema: {
        operationId: "getCapabilities",
        tags: ["operations"],
        summary: "Installation capabilities",
        description:
          "The parts of the API that this installation's configuration turns on or off, for clients such as the console: `devMailbox` is true when `GET /v1/dev/mailbox` exists (no SMTP_URL). Needs a signed-in user.",
        response: { 200: Capabilities, ...errors(401, 403) },
      },
    },
    async () => ({ devMailbox: hasDevMailbox(deps.config) }),
  );
}

export async function consoleRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await capabilityRoutes(app, deps);
  await registerConsole(app, CONSOLE_DIST);
}
