import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Id, Nullable, OrgParams, Timestamp } from "../http/schemas.ts";
import { orgContext } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { NO_CONTROL_CHARS } from "../members/rules.ts";
import {
  completeCampaign,
  countInScope,
  decideBulk,
  decideItem,
  getCampaign,
  listCampaigns,
  listItems,
  startCampaign,
  type Campaign,
} from "./service.ts";
import { campaignReport, type CampaignReport } from "./report.ts";
import { reportXlsx } from "./xlsx.ts";
import type { AccessReviewItemRow } from "./tables.ts";

const Name = Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARS });
const Short = Type.String({ minLength: 1, maxLength: 64, pattern: NO_CONTROL_CHARS });
const DecisionValue = Type.Union([Type.Literal("keep"), Type.Literal("revoke"), Type.Literal("change_role")]);
const Note = Type.String({ maxLength: 2000, pattern: "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$" });

const Scope = Type.Object(
  {
    roles: Type.Optional(Type.Array(Short, { maxItems: 50 })),
    departments: Type.Optional(Type.Array(Short, { maxItems: 50 })),
    storeIds: Type.Optional(Type.Array(Short, { maxItems: 200 })),
    dormantDays: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 3650,
        description:
          "Only members whose last sign-in is older than this many days, or who never signed in; also the dormant flag's threshold (default 90).",
      }),
    ),
  },
  { additionalProperties: false },
);

const Progress = Type.Object({
  total: Type.Integer(),
  decided: Type.Integer(),
  pending: Type.Integer(),
  keep: Type.Integer(),
  revoke: Type.Integer(),
  changeRole: Type.Integer(),
  dormant: Type.Integer(),
  unassigned: Type.Integer({ description: "Items nobody in the campaign could review; a manager decides them." }),
});

const CampaignSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    status: Type.Union([Type.Literal("open"), Type.Literal("completed")]),
    scope: Scope,
    dormantDays: Type.Integer(),
    dueAt: Timestamp,
    createdBy: Nullable(Type.String({ description: "User id; null when the schedule started it." })),
    scheduled: Type.Boolean(),
    createdAt: Timestamp,
    completedAt: Nullable(Timestamp),
    completedBy: Nullable(Type.String()),
    startedSeq: Nullable(Type.Integer({ description: "Seq of the access_review.started event." })),
    completedSeq: Nullable(Type.Integer({ description: "Seq of the access_review.completed event." })),
    completedHash: Nullable(Type.String()),
    progress: Progress,
  },
  { $id: "AccessReview", title: "AccessReview" },
);

const ItemSchema = Type.Object(
  {
    id: Type.String(),
    memberId: Type.String(),
    email: Type.String(),
    name: Type.String(),
    role: Type.String(),
    status: Type.String({ description: "The member's status when the campaign started." }),
    department: Nullable(Type.String()),
    storeIds: Type.Array(Type.String()),
    lastLoginAt: Nullable(Timestamp),
    dormant: Type.Boolean(),
    apiKeys: Type.Integer({ description: "Active API keys of the member when the campaign started." }),
    reviewerId: Nullable(Type.String({ description: "The member assigned to review this one." })),
    decision: Nullable(DecisionValue),
    newRole: Nullable(Type.String()),
    note: Nullable(Type.String()),
    decidedBy: Nullable(Type.String({ description: "User id of who decided." })),
    decidedAt: Nullable(Timestamp),
    outcome: Nullable(
      Type.Union([
        Type.Literal("applied"),
        Type.Literal("unchanged"),
        Type.Literal("not_decided"),
        Type.Literal("failed"),
      ]),
    ),
    outcomeDetail: Nullable(Type.String()),
  },
  { $id: "AccessReviewItem", title: "AccessReviewItem" },
);

const ReviewParams = Type.Object({ orgId: Id, reviewId: Id });
const ItemParams = Type.Object({ orgId: Id, reviewId: Id, itemId: Id });

const ItemFilter = {
  decision: Type.Optional(
    Type.Union([DecisionValue, Type.Literal("pending")], { description: "`pending`: not decided yet." }),
  ),
  reviewerId: Type.Optional(Type.String({ maxLength: 64, pattern: "^[A-Za-z0-9_-]+$", description: "`me` for mine." })),
  dormant: Type.Optional(Type.Boolean()),
  role: Type.Optional(Short),
};

const campaignOut = (c: Campaign) => ({ ...c, scheduled: c.schedulePeriod !== null });
const itemOut = (i: AccessReviewItemRow) => i;

export async function accessReviewRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(CampaignSchema);
  app.addSchema(ItemSchema);
  const CampaignRef = Type.Ref(CampaignSchema);
  const ItemRef = Type.Ref(ItemSchema);

  r.post(
    "/v1/orgs/:orgId/access-reviews",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "startAccessReview",
        summary: "Start an access review campaign",
        description:
          "Freezes one item per member in scope (active and inactive members matching `scope`) with their role, status, stores, department, last sign-in, dormant flag and API key count, and assigns each a reviewer: by default the member's closest manager by hierarchy who may decide reviews and could deactivate them (never the member themself); with `reviewerIds`, only among those. Needs `access_review:manage`. Audited as `access_review.started`.",
        params: OrgParams,
        body: Type.Object(
          {
            name: Name,
            dueAt: Type.String({ format: "date-time", description: "When reviewers should be done (within a year)." }),
            scope: Type.Optional(Scope),
            reviewerIds: Type.Optional(Type.Array(Id, { maxItems: 200, description: "Member ids." })),
          },
          { additionalProperties: false },
        ),
        response: { 201: CampaignRef, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req, reply) => {
      const c = await startCampaign(deps, orgContext(req), req.body, requestMeta(req));
      return reply.code(201).send(campaignOut(c));
    },
  );

  r.post(
    "/v1/orgs/:orgId/access-reviews/preview",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "previewAccessReviewScope",
        summary: "Count the members a scope covers",
        description:
          "How many members a campaign with this scope would cover now (the console's live count). Changes nothing. Needs `access_review:manage`.",
        params: OrgParams,
        body: Type.Object({ scope: Type.Optional(Scope) }, { additionalProperties: false }),
        response: { 200: Type.Object({ members: Type.Integer() }), ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => ({ members: await countInScope(deps, orgContext(req), req.body.scope ?? {}) }),
  );

  r.get(
    "/v1/orgs/:orgId/access-reviews",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "listAccessReviews",
        summary: "List access review campaigns",
        description:
          "Newest first, each with its progress over the items the caller may see. Needs `access_review:manage` or `access_review:decide`.",
        params: OrgParams,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal("open"), Type.Literal("completed")])),
            cursor: Type.Optional(Type.String({ maxLength: 500, pattern: NO_CONTROL_CHARS })),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ data: Type.Array(CampaignRef), nextCursor: Nullable(Type.String()) }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const page = await listCampaigns(deps, orgContext(req), req.query);
      return { data: page.data.map(campaignOut), nextCursor: page.nextCursor };
    },
  );

  r.get(
    "/v1/orgs/:orgId/access-reviews/:reviewId",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "getAccessReview",
        summary: "Get an access review campaign",
        description:
          "The campaign with its progress and each reviewer's progress. Needs `access_review:manage` or `access_review:decide`.",
        params: ReviewParams,
        response: {
          200: Type.Object({
            campaign: CampaignRef,
            reviewers: Type.Array(
              Type.Object({
                reviewerId: Nullable(Type.String()),
                name: Nullable(Type.String()),
                email: Nullable(Type.String()),
                total: Type.Integer(),
                decided: Type.Integer(),
              }),
            ),
          }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const { campaign, reviewers } = await getCampaign(deps, orgContext(req), req.params.reviewId);
      return { campaign: campaignOut(campaign), reviewers };
    },
  );

  r.get(
    "/v1/orgs/:orgId/access-reviews/:reviewId/items",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "listAccessReviewItems",
        summary: "List a campaign's items",
        description:
          "The items the caller may see (department reviewers: their department), filtered by decision (`pending` for undecided), reviewer (`me`), dormant flag or role; cursor pages.",
        params: ReviewParams,
        querystring: Type.Object(
          {
            ...ItemFilter,
            cursor: Type.Optional(Type.String({ maxLength: 500, pattern: NO_CONTROL_CHARS })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ data: Type.Array(ItemRef), nextCursor: Nullable(Type.String()) }),
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const page = await listItems(deps, orgContext(req), req.params.reviewId, req.query);
      return { data: page.data.map(itemOut), nextCursor: page.nextCursor };
    },
  );

  r.post(
    "/v1/orgs/:orgId/access-reviews/:reviewId/items/:itemId/decision",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "decideAccessReviewItem",
        summary: "Decide one item",
        description:
          "`keep`, `revoke` (deactivate on completion) or `change_role` (with `role`). The item's reviewer, or someone with `access_review:manage`, decides; never their own item, and only what they could do themself (the hierarchy rules of deactivation and role changes). Can be changed until the campaign completes (409 `access_review_completed` after). Audited as `access_review.decided`.",
        params: ItemParams,
        body: Type.Object(
          { decision: DecisionValue, role: Type.Optional(Short), note: Type.Optional(Note) },
          { additionalProperties: false },
        ),
        response: { 200: ItemRef, ...errors(400, 401, 403, 404, 409, 422) },
      },
    },
    async (req) =>
      itemOut(
        await decideItem(deps, orgContext(req), req.params.reviewId, req.params.itemId, req.body, requestMeta(req)),
      ),
  );

  r.post(
    "/v1/orgs/:orgId/access-reviews/:reviewId/decisions",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "decideAccessReviewItems",
        summary: "Decide every item matching a filter",
        description:
          'One decision for all items matching `filter` (e.g. `{ "dormant": true, "role": "read_only", "decision": "pending" }` with `revoke`), under the same rules as one decision: items the caller may not decide that way are listed in `skipped` with the reason, the others are decided. One `access_review.decided` event per item.',
        params: ReviewParams,
        body: Type.Object(
          {
            filter: Type.Object(ItemFilter, { additionalProperties: false }),
            decision: DecisionValue,
            role: Type.Optional(Short),
            note: Type.Optional(Note),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            decided: Type.Integer(),
            skipped: Type.Array(
              Type.Object({
                itemId: Type.String(),
                memberId: Type.String(),
                code: Type.String(),
                reason: Type.String(),
              }),
            ),
          }),
          ...errors(400, 401, 403, 404, 409, 422),
        },
      },
    },
    async (req) => decideBulk(deps, orgContext(req), req.params.reviewId, req.body, requestMeta(req)),
  );

  r.post(
    "/v1/orgs/:orgId/access-reviews/:reviewId/complete",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "completeAccessReview",
        summary: "Apply the decisions and seal the campaign",
        description:
          "Applies each decision as one change per member through the member service, as the reviewer who decided it: `revoke` deactivates (sessions end; API keys follow the org's `suspendedMemberApiKeys`), `change_role` changes the role; each change has its `team.*` event naming the campaign. A decision that can no longer be applied is reported as failed with its reason. Then records `access_review.completed`. Completing twice, or concurrently, applies once: the second answers 409 `access_review_completed`. Needs `access_review:manage`.",
        params: ReviewParams,
        response: {
          200: Type.Object({
            campaign: CampaignRef,
            summary: Type.Object({
              applied: Type.Integer(),
              unchanged: Type.Integer(),
              failed: Type.Integer(),
              notDecided: Type.Integer(),
            }),
          }),
          ...errors(400, 401, 403, 404, 409),
        },
      },
    },
    async (req) => {
      const out = await completeCampaign(deps, orgContext(req), req.params.reviewId, requestMeta(req));
      return { campaign: campaignOut(out.campaign), summary: out.summary };
    },
  );

  r.get(
    "/v1/orgs/:orgId/access-reviews/:reviewId/report",
    {
      config: { org: true },
      schema: {
        tags: ["access reviews"],
        operationId: "getAccessReviewReport",
        summary: "The campaign's certification report",
        description:
          "Who reviewed whom, each decision with its note and time, what completion applied, and the audit chain range (`fromSeq`..`toSeq`, with the hash at `toSeq`) holding the campaign, with the chain's verification. `format=xlsx` answers a workbook (Cover and Items sheets). Needs `access_review:manage`.",
        params: ReviewParams,
        querystring: Type.Object(
          { format: Type.Union([Type.Literal("json"), Type.Literal("xlsx")], { default: "json" }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<Readable>({
            description: "The report.",
            content: {
              "application/json": { schema: { type: "object" } },
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
      const report: CampaignReport = await campaignReport(deps, ctx, req.params.reviewId);
      void reply.header("cache-control", "no-store");
      if (req.query.format === "xlsx") {
        return reply
          .header("content-disposition", `attachment; filename="access-review-${report.campaign.id}.xlsx"`)
          .type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
          .send(reportXlsx(report));
      }
      return reply.type("application/json; charset=utf-8").send(JSON.stringify(report));
    },
  );
}
