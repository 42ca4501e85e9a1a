import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, OrgParams } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { EventSignals } from "./signals.ts";
import { openStream } from "./stream.ts";

export async function eventStreamRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const signals = new EventSignals(deps);
  const open = new Set<() => void>();
  // Streams never finish on their own: they are ended before the server waits for its connections.
  app.addHook("preClose", async () => {
    for (const end of open) end();
    await signals.close();
  });

  r.get(
    "/v1/orgs/:orgId/events/stream",
    {
      config: { org: true },
      schema: {
        tags: ["events"],
        operationId: "streamEvents",
        summary: "Live events (server-sent events)",
        description:
          "The org's audit events as they commit, as `text/event-stream`: each message has `id` = the event's seq, `event` = its action and `data` = the same JSON as a webhook delivery (`{id, type, orgId, createdAt, data}`). Send `Last-Event-ID` (a seq) to resume after it; without it the stream starts at the newest event. A comment line is sent every 15 s. The stream ends when an event concerns the caller's own membership or key, and after 10 minutes, so that the caller is authenticated again on reconnect. Needs `audit_log:read`; a scoped reader sees the events of the people in their reach. Used by the SDK's `RosterClient.subscribe` to drop cached enforcers.",
        params: OrgParams,
        headers: Type.Object({
          "last-event-id": Type.Optional(Type.String({ maxLength: 20, pattern: "^[0-9]+$" })),
        }),
        response: {
          200: Type.Unsafe<string>({
            description: "The stream.",
            content: { "text/event-stream": { schema: { type: "string" } } },
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      const lastEventId = req.headers["last-event-id"];
      const principal = req.principal;
      const own = new Set([ctx.member.id, ctx.member.userId]);
      if (principal?.kind === "api_key") own.add(principal.keyId);
      // Everything that can refuse (permission, a bad id) happens before the first byte.
      const stream = await openStream(deps, ctx, {
        after: lastEventId === undefined ? null : Number(lastEventId),
        signals,
        own,
      });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
        "x-accel-buffering": "no",
        "x-request-id": req.id,
      });
      const end = () => {
        stream.stop();
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      req.raw.on("close", end);
      stream.run((chunk) => res.write(chunk), end);
    },
  );
}
