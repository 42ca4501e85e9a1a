import type { FastifyInstance } from "fastify";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors } from "../http/schemas.ts";

/**
 * Prometheus metrics per app instance (its own registry, so several apps in one process do not clash).
 * Labels use the route pattern, never the raw URL, so no ids or tokens end up in metrics.
 */
export async function metricsRoutes(app: FastifyInstance, _deps: AppDeps): Promise<void> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "roster_" });
  const requests = new Counter({
    name: "roster_http_requests_total",
    help: "HTTP requests by route pattern and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "roster_http_request_duration_seconds",
    help: "HTTP request duration by route pattern",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.get(
    "/metrics",
    {
      config: { auth: "none" },
      schema: {
        tags: ["operations"],
        operationId: "getMetrics",
        summary: "Prometheus metrics",
        description:
          "Request counts and durations by route pattern, and process metrics, in the Prometheus text format. Holds no tenant data; keep it on the internal network all the same.",
        security: [],
        response: { 200: Type.String({ description: "Prometheus text exposition format." }), ...errors() },
      },
    },
    async (_req, reply) => {
      void reply.header("content-type", registry.contentType);
      return registry.metrics();
    },
  );
}
