import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Nullable, OrgParams } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { VerifyResult } from "../audit/routes.ts";
import { readComplianceReport, readComplianceReportJson } from "./service.ts";
import { complianceXlsx } from "./xlsx.ts";

const S = Type.String();
const NS = Nullable(Type.String());
const Counts = Type.Record(Type.String(), Type.Integer());

const ComplianceReportSchema = Type.Object(
  {
    cover: Type.Object({
      orgId: S,
      orgName: S,
      policy: S,
      month: S,
      periodStart: S,
      periodEnd: S,
      final: Type.Boolean({ description: "false while the month is still running." }),
      generatedAt: S,
      lastSeq: Type.Integer({ description: "The last event written before the month ended (0: none yet)." }),
      lastHash: Type.String({ description: "That event's hash: re-verify the chain up to it to check this report." }),
      eventsInMonth: Type.Integer(),
      verification: VerifyResult,
      scope: Type.String({ description: "`organization`, or `department <name>` for a department-scoped reader." }),
    }),
    members: Type.Array(
      Type.Object({
        memberId: S,
        userId: NS,
        name: NS,
        email: NS,
        role: NS,
        status: Type.Union([Type.Literal("active"), Type.Literal("inactive"), Type.Literal("removed")]),
        department: NS,
      }),
      { description: "Members as of the end of the month, with role and status." },
    ),
    roleChanges: Type.Array(
      Type.Object({
        seq: Type.Integer(),
        at: S,
        actorId: NS,
        actorName: NS,
        memberId: NS,
        memberName: NS,
        memberEmail: NS,
        fromRole: NS,
        toRole: NS,
        department: NS,
      }),
    ),
    roleDefinitionChanges: Type.Optional(
      Type.Array(
        Type.Object({
          seq: Type.Integer(),
          at: S,
          action: Type.Union([
            Type.Literal("role.created"),
            Type.Literal("role.updated"),
            Type.Literal("role.deleted"),
          ]),
          actorId: NS,
          actorName: NS,
          key: NS,
          title: NS,
          rankBefore: Nullable(Type.Number()),
          rankAfter: Nullable(Type.Number()),
          permissionsBefore: Nullable(Type.Array(Type.String())),
          permissionsAfter: Nullable(Type.Array(Type.String())),
        }),
        {
          description:
            "Custom roles created, changed (permissions before and after) or deleted in the month; organization-wide reports only.",
        },
      ),
    ),
    accessRevocations: Type.Array(
      Type.Object({
        seq: Type.Integer(),
        at: S,
        action: Type.Union([
          Type.Literal("team.deactivated"),
          Type.Literal("team.removed"),
          Type.Literal("team.invite_revoked"),
        ]),
        actorId: NS,
        actorName: NS,
        targetId: NS,
        subjectName: NS,
        subjectEmail: NS,
        detail: S,
        department: NS,
      }),
    ),
    signInFailures: Type.Object({
      total: Type.Integer(),
      byReason: Counts,
      byUser: Type.Array(
        Type.Object({
          userId: S,
          name: NS,
          email: NS,
          count: Type.Integer(),
          lastAt: S,
          reasons: Counts,
          department: NS,
        }),
      ),
    }),
    accessReviews: Type.Optional(
      Type.Array(
        Type.Object({
          seq: Type.Integer(),
          at: S,
          action: Type.Union([Type.Literal("access_review.started"), Type.Literal("access_review.completed")]),
          campaignId: NS,
          name: NS,
          actorId: NS,
          actorName: NS,
          detail: S,
        }),
        { description: "Access review campaigns started and completed in the month (organization scope only)." },
      ),
    ),
  },
  { $id: "ComplianceReport", title: "ComplianceReport" },
);

export async function reportRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ComplianceReportSchema);

  r.get(
    "/v1/orgs/:orgId/reports/compliance",
    {
      config: { org: true },
      schema: {
        tags: ["reports"],
        operationId: "getComplianceReport",
        summary: "Monthly compliance report",
        description:
          "For a month (`YYYY-MM`, UTC): members as of the month's end with role and status, every role change, every deactivation, removal and invitation revocation, and a summary of failed sign-ins, all built from the audit chain. The cover carries the chain's verification result and the month's last `seq` and hash, so the report is itself evidence. A finished month's report is generated once and kept (a scheduled job keeps every finished month); the running month is built on demand. `format=xlsx` answers a workbook with one sheet per section. Needs `report:read`; a department-scoped reader gets their department's part.",
        params: OrgParams,
        querystring: Type.Object(
          {
            month: Type.String({ pattern: "^[0-9]{4}-(0[1-9]|1[0-2])$", description: "YYYY-MM" }),
            format: Type.Union([Type.Literal("json"), Type.Literal("xlsx")], { default: "json" }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<Readable>({
            description: "The report.",
            content: {
              "application/json": { schema: Type.Ref(ComplianceReportSchema) },
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                schema: { type: "string", format: "binary" },
              },
            },
          }),
          ...errors(400, 401, 403, 404, 422),
        },
      },
    },
    async (req, reply) => {
      const ctx = orgContext(req);
      const { month, format } = req.query;
      if (format === "xlsx") {
        const report = await readComplianceReport(deps, ctx, month);
        return reply
          .header("cache-control", "no-store")
          .header("content-disposition", `attachment; filename="compliance-${ctx.org.id}-${month}.xlsx"`)
          .type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
          .send(complianceXlsx(report));
      }
      const text = await readComplianceReportJson(deps, ctx, month);
      return reply.header("cache-control", "no-store").type("application/json; charset=utf-8").send(text);
    },
  );
}
