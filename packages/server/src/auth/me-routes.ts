import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, Timestamp } from "../http/schemas.ts";
import { requireSession } from "../http/context.ts";
import { changePassword } from "./password-change.ts";
import { PASSWORD_MAX } from "./passwords.ts";
import { members, organizations, sessions } from "../db/schema.ts";
import { notFound } from "../http/errors.ts";
import { Prebuilt } from "../db/prebuilt.ts";
import { tag } from "../cache/hub.ts";
import { listUserSessions, revokeSession, revokeUserSessions } from "./sessions.ts";
import { roleTitle } from "../roles/effective.ts";

const Membership = Type.Object({
  memberId: Type.String(),
  orgId: Type.String(),
  orgName: Type.String(),
  policy: Type.String(),
  role: Type.String(),
  roleTitle: Nullable(
    Type.String({
      description:
        "The role's title in the org: the preset's, or the org's own for a custom role; null for a role the org no longer defines.",
    }),
  ),
  status: Type.String(),
  department: Nullable(Type.String()),
  storeIds: Type.Array(Type.String()),
});

const SessionItem = Type.Object({
  id: Type.String(),
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  expiresAt: Timestamp,
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  current: Type.Boolean(),
});

/** The caller's memberships with their orgs' names and presets (GET /v1/me), built once (db/prebuilt.ts). */
const myMemberships = new Prebuilt("my_memberships", (tx) =>
  tx
    .select({ member: members, orgName: organizations.name, policy: organizations.policy })
    .from(members)
    .innerJoin(organizations, eq(organizations.id, members.orgId))
    .where(eq(members.userId, sql.placeholder("userId"))),
);
export async function meRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/me",
    {
      schema: {
        tags: ["me"],
        operationId: "getMe",
        summary: "The signed-in user and their memberships",
        description:
          "The user, any platform role, and each membership with its org, role (key and title) and status (removed memberships are left out).",
        response: {
          200: Type.Object({
            user: Type.Object({
              id: Type.String(),
              email: Type.String(),
              name: Type.String(),
              platformRole: Nullable(Type.String()),
            }),
            memberships: Type.Array(Membership),
          }),
          ...errors(401),
        },
      },
    },
    async (req) => {
      const p = requireSession(req);
      const userId = p.user.id;
      // Kept until a membership of this user or one of their orgs changes (cache/hub.ts).
      const { rows } =
        deps.db.cache.myMemberships.get(userId) ??
        (await deps.db.cache.myMemberships.load(userId, async () => {
          const found = await deps.db.read({ userId }, (tx) => myMemberships.run(tx, "all", { userId }));
          const tags = [tag.user(userId), ...found.map((r) => tag.org(r.member.orgId))];
          return { value: { rows: found }, tags };
        }))!;
      const memberships = [];
      for (const r of rows) {
        if (r.member.status === "removed") continue;
        memberships.push({
          memberId: r.member.id,
          orgId: r.member.orgId,
          orgName: r.orgName,
          policy: r.policy,
          role: r.member.role,
          // From the org's effective policy (the instance's cache), so a renamed custom role shows at once.
          roleTitle: await roleTitle(deps, { id: r.member.orgId, policy: r.policy }, r.member.role),
          status: r.member.status,
          department: r.member.department,
          storeIds: r.member.storeIds,
        });
      }
      return { user: p.user, memberships };
    },
  );

  r.get(
    "/v1/me/sessions",
    {
      schema: {
        tags: ["me"],
        operationId: "listMySessions",
        summary: "My active sessions",
        description:
          "Every live session of the signed-in user, newest first, with where it started and when it was last used.",
        response: { 200: Type.Object({ data: Type.Array(SessionItem), nextCursor: Type.Null() }), ...errors(401) },
      },
    },
    async (req) => {
      const p = requireSession(req);
      const rows = await listUserSessions(deps.db, p.user.id);
      return { data: rows.map((s) => ({ ...s, current: s.id === p.sessionId })), nextCursor: null };
    },
  );

  r.delete(
    "/v1/me/sessions",
    {
      schema: {
        tags: ["me"],
        operationId: "revokeMyOtherSessions",
        summary: "End all my other sessions",
        description:
          'Revokes every session of the signed-in user except the one making this request ("sign out everywhere else"). Answers how many ended.',
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }), ...errors(401, 403) },
      },
    },
    async (req) => {
      const p = requireSession(req);
      const sessionsEnded = await deps.db.tx({ userId: p.user.id }, (tx) =>
        revokeUserSessions(tx, p.user.id, deps.clock.now(), "ended_by_user", p.sessionId),
      );
      return { sessionsEnded };
    },
  );

  r.post(
    "/v1/me/password",
    {
      schema: {
        tags: ["me"],
        operationId: "changeMyPassword",
        summary: "Change my password",
        description:
          "Needs the current password. The new one follows the password policy (8 to 128 characters, not a common password). Every other session of the user ends; this one stays.",
        body: Type.Object(
          {
            currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX * 4 }),
            newPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX * 4 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }), ...errors(400, 401, 403, 422, 429) },
      },
    },
    async (req) => {
      const p = requireSession(req);
      return changePassword(deps, p.user.id, p.sessionId, req.body);
    },
  );

  r.delete(
    "/v1/me/sessions/:id",
    {
      schema: {
        tags: ["me"],
        operationId: "revokeMySession",
        summary: "End one of my sessions",
        description: "Revokes the session at once: its next request is refused. Another user's session id answers 404.",
        params: Type.Object({ id: Id }),
        response: { 204: Type.Null({ description: "Ended." }), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const p = requireSession(req);
      const ended = await deps.db.tx({ userId: p.user.id }, async (tx) => {
        const found = await tx
          .select({ id: sessions.id })
          .from(sessions)
          .where(and(eq(sessions.id, req.params.id), eq(sessions.userId, p.user.id), isNull(sessions.revokedAt)));
        if (found.length === 0) return false;
        await revokeSession(tx, req.params.id, deps.clock.now(), "ended_by_user");
        return true;
      });
      if (!ended) throw notFound("Session");
      return reply.code(204).send(null);
    },
  );
}
