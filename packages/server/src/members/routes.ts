import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { Email, errors, Id, Nullable, OrgParams, Timestamp } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { Member, memberOut } from "./shape.ts";
import { NO_CONTROL_CHARS } from "./rules.ts";
import {
  getMember,
  listMembers,
  removeMember,
  restoreMember,
  sendMemberPasswordReset,
  updateMember,
} from "./service.ts";
import { memberExport } from "./export.ts";

const Status = Type.Union(
  [Type.Literal("active"), Type.Literal("inactive"), Type.Literal("removed"), Type.Literal("all")],
  { description: "Default: active and inactive." },
);

const DormantDays = Type.Integer({
  minimum: 1,
  maximum: 36_500,
  description:
    "Dormant members only: the last sign-in is more than this many days ago, or the member never signed in and joined more than this many days ago.",
});

export const MemberListQuery = Type.Object(
  {
    role: Type.Optional(Type.String({ maxLength: 64, pattern: NO_CONTROL_CHARS })),
    status: Type.Optional(Status),
    department: Type.Optional(Type.String({ maxLength: 64, pattern: NO_CONTROL_CHARS })),
    store: Type.Optional(Type.String({ maxLength: 64, pattern: NO_CONTROL_CHARS })),
    q: Type.Optional(Type.String({ maxLength: 200, pattern: NO_CONTROL_CHARS, description: "Matches name or email." })),
    dormantDays: Type.Optional(DormantDays),
    sort: Type.Optional(
      Type.String({
        maxLength: 20,
        description: "name, email, role, status, lastLoginAt, createdAt; prefix - for descending.",
      }),
    ),
    cursor: Type.Optional(Type.String({ maxLength: 500, pattern: NO_CONTROL_CHARS })),
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  },
  { additionalProperties: false },
);

const MemberPage = Type.Object({
  data: Type.Array(Member),
  nextCursor: Nullable(Type.String({ description: "Pass as `cursor` for the next page; null on the last page." })),
  total: Type.Integer({
    description:
      "How many members match the filters (all pages). Exact when `totalExact` is true; otherwise the database's estimate.",
  }),
  totalExact: Type.Boolean({
    description:
      "true: `total` is exact (the first page holds every match; or kept counts when only status, role and store filter; or few enough matches to count). false: the other filters (text, department, dormantDays) match many members and `total` is the database's estimate; show it as approximate.",
  }),
});

const MemberParams = Type.Object({ orgId: Id, memberId: Id });
const Dimension = Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL_CHARS });

export async function memberRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/members",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "listMembers",
        summary: "List members",
        description:
          "Members of this org with filters (role, status, department, store, text on name/email, `dormantDays`), sorting by any of name, email, role, status, lastLoginAt, createdAt in either direction (`sort=-lastLoginAt`; ties by member id; members who never signed in sort last either way), keyset cursor pages (a member added or removed between pages never shifts a page) and a `total` flagged exact or estimated (`totalExact`). Needs `member:read` (department admins see their department). `lastLoginAt` is the start of the member's most recent session; removed members (status=removed) are the former members kept for 30 days.",
        params: OrgParams,
        querystring: MemberListQuery,
        response: { 200: MemberPage, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const result = await listMembers(deps, orgContext(req), req.query);
      return {
        data: result.rows,
        nextCursor: result.nextCursor,
        total: result.total,
        totalExact: result.totalExact,
      };
    },
  );

  r.get(
    "/v1/orgs/:orgId/members/export",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "exportMembers",
        summary: "Export members as CSV or XLSX",
        description:
          "Streams the caller's org's members (same filters as the list; default active and inactive) with the columns name, email, role, status, lastLoginAt, createdAt, department, stores. Cells a spreadsheet would run as a formula are prefixed with an apostrophe. Needs `member:export`.",
        params: OrgParams,
        querystring: Type.Object(
          {
            format: Type.Union([Type.Literal("csv"), Type.Literal("xlsx")], { default: "csv" }),
            role: Type.Optional(Type.String({ maxLength: 64, pattern: NO_CONTROL_CHARS })),
            status: Type.Optional(Status),
            department: Type.Optional(Type.String({ maxLength: 64, pattern: NO_CONTROL_CHARS })),
            store: Type.Optional(Type.String({ maxLength: 64, pattern: NO_CONTROL_CHARS })),
            q: Type.Optional(Type.String({ maxLength: 200, pattern: NO_CONTROL_CHARS })),
            dormantDays: Type.Optional(DormantDays),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<Readable>({
            description: "The file, streamed.",
            content: {
              "text/csv": { schema: { type: "string" } },
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                schema: { type: "string", format: "binary" },
              },
            },
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      const { format, ...filters } = req.query;
      const file = memberExport(deps, ctx, format, filters);
      const stamp = deps.clock.now().toISOString().slice(0, 10);
      const filename = `members-${stamp}.${format}`;
      void reply
        .header("content-disposition", `attachment; filename="${filename}"`)
        .header("cache-control", "no-store");
      if (format === "xlsx") {
        return reply.type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet").send(file);
      }
      return reply.type("text/csv; charset=utf-8").send(file);
    },
  );

  r.get(
    "/v1/orgs/:orgId/members/:memberId",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "getMember",
        summary: "Get a member",
        description:
          "One member with status, role, dimensions and `lastLoginAt`. Removed members stay readable (status `removed`, `removedAt`) until they are purged 30 days later. Another org's id answers 404.",
        params: MemberParams,
        response: { 200: Member, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { member, user } = await getMember(deps, orgContext(req), req.params.memberId);
      return memberOut(member, user);
    },
  );

  r.patch(
    "/v1/orgs/:orgId/members/:memberId",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "updateMember",
        summary: "Change a member",
        description:
          "Any of role, status (active | inactive), name, department, storeIds, hiddenModules, each decided by the policy (rank rules, department jurisdiction, role granting) and recorded as its own audit event with before/after: `team.role_changed`, `team.deactivated` / `team.reactivated`, `team.name_changed`, `team.department_changed`, `team.store_access_changed`, `team.module_visibility_changed`. All or nothing. Deactivation ends the member's sessions at once; a role change applies on the member's next request. The last active top-role member cannot be demoted or deactivated (409 `last_top_role`). `secondaryEmail` cannot be changed (422).",
        params: MemberParams,
        body: Type.Object(
          {
            role: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL_CHARS })),
            status: Type.Optional(
              Type.Union([Type.Literal("active"), Type.Literal("inactive"), Type.Literal("removed")]),
            ),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARS })),
            department: Type.Optional(Nullable(Dimension)),
            storeIds: Type.Optional(Type.Array(Dimension, { maxItems: 200 })),
            hiddenModules: Type.Optional(Type.Array(Dimension, { maxItems: 100 })),
            secondaryEmail: Type.Optional(Nullable(Email)),
          },
          { additionalProperties: false },
        ),
        response: { 200: Member, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) => {
      const { member, user } = await updateMember(
        deps,
        orgContext(req),
        req.params.memberId,
        req.body,
        requestMeta(req),
      );
      return memberOut(member, user);
    },
  );

  r.delete(
    "/v1/orgs/:orgId/members/:memberId",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "removeMember",
        summary: "Remove a member",
        description:
          "Soft removal: status becomes `removed`; every session of the person and their API keys in this org end before the response; their history stays attributed to them as a former member; a notice is emailed. Restorable for 30 days, then purged. Needs the policy's remove permission (`member:delete` in `billing`, where only owners may). The last active top-role member cannot be removed (409 `last_top_role`). Audited as `team.removed`.",
        params: MemberParams,
        response: { 200: Member, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { member, user } = await removeMember(deps, orgContext(req), req.params.memberId, requestMeta(req));
      return memberOut(member, user);
    },
  );

  r.post(
    "/v1/orgs/:orgId/members/:memberId/restore",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "restoreMember",
        summary: "Restore a removed member",
        description:
          "Within 30 days of removal: the member is active again with the role, department and stores they had (revoked API keys stay revoked). After that, 409 `restore_window_passed`. Needs `member:restore`. Audited as `team.restored`.",
        params: MemberParams,
        response: { 200: Member, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const { member, user } = await restoreMember(deps, orgContext(req), req.params.memberId, requestMeta(req));
      return memberOut(member, user);
    },
  );

  r.post(
    "/v1/orgs/:orgId/members/:memberId/password-reset",
    {
      config: { org: true },
      schema: {
        tags: ["members"],
        operationId: "sendMemberPasswordReset",
        summary: "Email a member a password reset link",
        description:
          "Sends an active member a single-use link valid for 60 minutes. The caller never sees the token or the password; completing the reset ends all the member's sessions and does not bypass MFA. Needs `member:reset_password`. Audited as `team.password_reset_requested`.",
        params: MemberParams,
        response: {
          202: Type.Object({ message: Type.String(), expiresAt: Timestamp }),
          ...errors(400, 401, 403, 404, 409),
        },
      },
    },
    async (req: FastifyRequest<{ Params: { orgId: string; memberId: string } }>, reply) => {
      const { expiresAt } = await sendMemberPasswordReset(deps, orgContext(req), req.params.memberId, requestMeta(req));
      return reply.code(202).send({ message: "A password reset link was emailed to the member.", expiresAt });
    },
  );
}
