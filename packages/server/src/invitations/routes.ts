import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { Email, errors, Id, Nullable, OrgParams, page, SessionGrant, Timestamp } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { grantSession } from "../auth/routes.ts";
import { PASSWORD_MAX } from "../auth/passwords.ts";
import { Member, memberOut } from "../members/shape.ts";
import { NO_CONTROL_CHARS } from "../members/rules.ts";
import {
  acceptInvitation,
  createInvitation,
  listInvitations,
  lookupInvitation,
  resendInvitation,
  revokeInvitation,
  statusOf,
} from "./service.ts";
import type { InvitationRow } from "./tables.ts";

const InvitationStatus = Type.Union([
  Type.Literal("pending"),
  Type.Literal("accepted"),
  Type.Literal("expired"),
  Type.Literal("revoked"),
]);

export const Invitation = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    secondaryEmail: Nullable(Type.String()),
    role: Type.String(),
    status: InvitationStatus,
    department: Nullable(Type.String()),
    storeIds: Type.Array(Type.String()),
    hiddenModules: Type.Array(Type.String()),
    createdAt: Timestamp,
    sentAt: Timestamp,
    expiresAt: Timestamp,
    acceptedAt: Nullable(Timestamp),
    revokedAt: Nullable(Timestamp),
    invitedBy: Nullable(Type.String({ description: "Member id of the inviter." })),
    invitedByName: Nullable(Type.String()),
  },
  { description: "Never carries the token: it exists only in the emailed link." },
);

const invitationOut = (row: InvitationRow & { inviterName?: string | null }, now: Date) => ({
  id: row.id,
  email: row.email,
  secondaryEmail: row.secondaryEmail,
  role: row.role,
  status: statusOf(row, now),
  department: row.department,
  storeIds: row.storeIds,
  hiddenModules: row.hiddenModules,
  createdAt: row.createdAt,
  sentAt: row.sentAt,
  expiresAt: row.expiresAt,
  acceptedAt: row.acceptedAt,
  revokedAt: row.revokedAt,
  invitedBy: row.invitedBy,
  invitedByName: row.inviterName ?? null,
});

const InvitationParams = Type.Object({ orgId: Id, invitationId: Id });
const TokenParams = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });
const Dimension = Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL_CHARS });

export async function invitationRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/invitations",
    {
      config: { org: true },
      schema: {
        tags: ["invitations"],
        operationId: "listInvitations",
        summary: "List invitations",
        description:
          "Every invitation of the org, newest first, with its status (pending, accepted, expired, revoked), sent date, expiry and inviter, so the history stays visible. Needs `invitation:read` (department admins see their department's).",
        params: OrgParams,
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([InvitationStatus, Type.Literal("all")], { description: "Default: all." }),
            ),
            cursor: Type.Optional(Type.String({ maxLength: 200, pattern: NO_CONTROL_CHARS })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: page(Invitation), ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const result = await listInvitations(deps, orgContext(req), req.query);
      return {
        data: result.rows.map((row) => invitationOut(row, result.now)),
        nextCursor: result.nextCursor,
        total: result.total,
      };
    },
  );

  r.post(
    "/v1/orgs/:orgId/invitations",
    {
      config: { org: true },
      schema: {
        tags: ["invitations"],
        operationId: "createInvitation",
        summary: "Invite someone",
        description:
          "Emails a single-use link (`{ROSTER_PUBLIC_URL}/accept-invitation?token=…`) valid for the org's invitation lifetime (72 h by default, 7 days in `operations`). `role` defaults to the policy's lowest role and must be one the caller may grant; department admins invite into their own department, and a missing department is inherited from the inviter where the policy says so. Audited as `team.invited`.",
        params: OrgParams,
        body: Type.Object(
          {
            email: Email,
            role: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL_CHARS })),
            secondaryEmail: Type.Optional(Nullable(Email)),
            department: Type.Optional(Nullable(Dimension)),
            storeIds: Type.Optional(Type.Array(Dimension, { maxItems: 200 })),
            hiddenModules: Type.Optional(Type.Array(Dimension, { maxItems: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Invitation, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req, reply) => {
      const row = await createInvitation(deps, orgContext(req), req.body, requestMeta(req));
      return reply.code(201).send(invitationOut(row, deps.clock.now()));
    },
  );

  r.post(
    "/v1/orgs/:orgId/invitations/:invitationId/resend",
    {
      config: { org: true },
      schema: {
        tags: ["invitations"],
        operationId: "resendInvitation",
        summary: "Resend an invitation",
        description:
          "Issues a new token and a new expiry and emails it; the previous link stops working at once. Works on pending and expired invitations. Needs `invitation:resend`. Audited as `team.invite_resent`.",
        params: InvitationParams,
        response: { 200: Invitation, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const row = await resendInvitation(deps, orgContext(req), req.params.invitationId, requestMeta(req));
      return invitationOut(row, deps.clock.now());
    },
  );

  r.post(
    "/v1/orgs/:orgId/invitations/:invitationId/revoke",
    {
      config: { org: true },
      schema: {
        tags: ["invitations"],
        operationId: "revokeInvitation",
        summary: "Revoke an invitation",
        description:
          "Invalidates the link at once; the invitation stays in the list as `revoked`. Needs `invitation:revoke`. Audited as `team.invite_revoked`.",
        params: InvitationParams,
        response: { 200: Invitation, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const row = await revokeInvitation(deps, orgContext(req), req.params.invitationId, requestMeta(req));
      return invitationOut(row, deps.clock.now());
    },
  );

  r.get(
    "/v1/invitations/:token",
    {
      config: { auth: "none" },
      schema: {
        tags: ["invitations"],
        operationId: "getInvitationByToken",
        summary: "Look up an invitation by its token",
        description:
          "Public: for the accept page. Answers the org's name, the invited email, the role and the expiry, nothing else. An unknown or replaced token is 404; an expired, revoked or accepted one is 409 `invitation_not_pending`.",
        security: [],
        params: TokenParams,
        response: {
          200: Type.Object({ orgName: Type.String(), email: Type.String(), role: Type.String(), expiresAt: Timestamp }),
          ...errors(400, 404, 409),
        },
      },
    },
    async (req) => lookupInvitation(deps, req.params.token),
  );

  r.post(
    "/v1/invitations/:token/accept",
    {
      config: { auth: "optional" },
      schema: {
        tags: ["invitations"],
        operationId: "acceptInvitation",
        summary: "Accept an invitation",
        description:
          "A new address sends `{name, password}` and gets an account. An address that already has an account must be signed in as it (Bearer or cookie); the body may then be empty. Creates the membership with the invited role, department, stores and hidden modules, signs in (session shape plus `member`, cookie set) and records `team.invite_accepted`. Single use: of concurrent accepts exactly one succeeds.",
        security: [],
        params: TokenParams,
        body: Type.Optional(
          Type.Object(
            {
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARS })),
              password: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX * 4 })),
            },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Object({ ...SessionGrant.properties, member: Member }),
          ...errors(400, 401, 403, 404, 409, 422, 429),
        },
      },
    },
    async (req, reply) => {
      const { issued, user, member } = await acceptInvitation(
        deps,
        req.params.token,
        req.body ?? {},
        req.principal,
        requestMeta(req),
      );
      return reply.send({ ...grantSession(deps, reply, issued, user), member: memberOut(member, user) });
    },
  );
}
