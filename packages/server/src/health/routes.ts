import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { ErrorBody, errors } from "../http/schemas.ts";
import { AppError } from "../http/errors.ts";

export async function healthRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const Status = Type.Object({ status: Type.String() });

  r.get(
    "/healthz",
    {
      config: { auth: "none" },
      schema: {
        tags: ["operations"],
        operationId: "getLiveness",
        summary: "Liveness",
        description: "Answers while the process is up; checks nothing else.",
        security: [],
        response: { 200: Status, ...errors() },
      },
    },
    async () => ({ status: "ok" }),
  );

  r.get(
    "/readyz",
    {
      config: { auth: "none" },
      schema: {
        tags: ["operations"],
        operationId: "getReadiness",
        summary: "Readiness",
        description: "Answers 200 when the database answers, 503 otherwise.",
        security: [],
        response: { 200: Status, 503: Type.Ref(ErrorBody, { description: "Not ready." }), ...errors() },
      },
    },
    async () => {
      try {
        await deps.db.ping();
      } catch (err) {
        throw new AppError("unavailable", "The database is not reachable.", {}, { cause: err });
      }
      return { status: "ready" };
    },
  );
}
