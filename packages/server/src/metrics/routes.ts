import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors } from "../http/schemas.ts";
import type { CacheName } from "../cache/hub.ts";

/** The request-path caches (cache/hub.ts), read from the database handle's counters at scrape time. */
function cacheMetrics(registry: Registry, deps: AppDeps): void {
  const stats = () => deps.db.cache.stats;
  const names: CacheName[] = ["session", "org_member", "api_key", "policy", "member_read", "my_memberships"];
  new Counter({
    name: "roster_cache_hits_total",
    help: "Request-path cache hits by cache",
    labelNames: ["cache"],
    registers: [registry],
    collect() {
      this.reset();
      for (const cache of names) this.inc({ cache }, stats().hits[cache]);
    },
  });
  new Counter({
    name: "roster_cache_misses_total",
    help: "Request-path cache misses by cache (read from the database)",
    labelNames: ["cache"],
    registers: [registry],
    collect() {
      this.reset();
      for (const cache of names) this.inc({ cache }, stats().misses[cache]);
    },
  });
  new Counter({
    name: "roster_cache_invalidations_total",
    help: "Change notifications received from the database",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().invalidations);
    },
  });
  new Counter({
    name: "roster_cache_listener_reconnects_total",
    help: "Times the listening connection was re-established after it was lost",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().reconnects);
    },
  });
  new Gauge({
    name: "roster_cache_listening",
    help: "1 while the instance listens for changes and may answer from its caches, 0 while it reads through",
    registers: [registry],
    collect() {
      this.set(deps.db.cache.trusted ? 1 : 0);
    },
  });
}

/**
 * Prometheus metrics per app instance (its own registry, so several apps in one process do not clash).
 * Labels use the route pattern, never the raw URL, so no ids or tokens end up in metrics.
 */
export async function metricsRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
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

  cacheMetrics(registry, deps);

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
