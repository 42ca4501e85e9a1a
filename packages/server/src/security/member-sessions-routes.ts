import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, Timestamp } from "../http/schemas.ts";
import { orgContext, requireSession } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { endMemberSessions, memberSessions } from "./member-sessions.ts";

const Params = Type.Object({ orgId: Id, memberId: Id });
const MemberSession = Type.Object({
  id: Type.String(),
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  expiresAt: Timestamp,
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
});

export async function memberSessionRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/members/:memberId/sessions",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "listMemberSessions",
        summary: "A member's sessions",
        description:
          "The member's live sessions (created, last seen, IP, user agent), newest first. Needs `session:read`. Sessions belong to the person, so ones used in other orgs are listed too.",
        params: Params,
        response: {
          200: Type.Object({ data: Type.Array(MemberSession), nextCursor: Type.Null() }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const rows = await memberSessions(deps, orgContext(req), req.params.memberId);
      return {
        data: rows.map(({ id, createdAt, lastSeenAt, expiresAt, ip, userAgent }) => ({
          id,
          createdAt,
          lastSeenAt,
          expiresAt,
          ip,
          userAgent,
        })),
        nextCursor: null,
      };
    },
  );

  r.delete(
    "/v1/orgs/:orgId/members/:memberId/sessions",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "revokeMemberSessions",
        summary: "End a member's sessions",
        description:
          "Signs the member out everywhere at once. Needs `session:revoke` and the policy's member rules (rank, peers, department). Audited as `team.sessions_revoked`. API keys are not affected.",
        params: Params,
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      requireSession(req);
      return { sessionsEnded: await endMemberSessions(deps, orgContext(req), req.params.memberId, requestMeta(req)) };
    },
  );
}
