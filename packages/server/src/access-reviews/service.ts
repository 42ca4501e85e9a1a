import { and, asc, eq, gt, inArray, isNull, sql, type SQL } from "drizzle-orm";
import { can, decideMemberAction, filterFor, type Policy } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { apiKeys } from "../api-keys/tables.ts";
import { auditHeads, members, users, type MemberRow, type OrgRow } from "../db/schema.ts";
import { AppError, invalid, notFound } from "../http/errors.ts";
import { authorize, subjectOf, type OrgContext } from "../http/context.ts";
import { accessReviewItemScope, memberScope } from "../http/scope.ts";
import { decodeCursor, encodeCursor } from "../http/cursor.ts";
import { record, type RequestMeta } from "../audit/record.ts";
import { newId } from "../lib/ids.ts";
import { assertAllowed, assertDepartment, assertKnownRole, assertStores } from "../members/rules.ts";
import { applyMemberPatch } from "../members/service.ts";
import { dormantWhere, isDormant } from "../members/dormant.ts";
import { assignReviewers, mayReview } from "./assign.ts";
import {
  accessReviewItems,
  accessReviews,
  type AccessReviewItemRow,
  type AccessReviewRow,
  type CampaignScope,
  type Decision,
  type Outcome,
} from "./tables.ts";

/** Without `scope.dormantDays`, items are flagged dormant after this many days without a sign-in. */
export const DEFAULT_DORMANT_DAYS = 90;
const DAY_MS = 86_400_000;
const INSERT_CHUNK = 500;

const scopeOf = (ctx: OrgContext) => ({ orgId: ctx.org.id, userId: ctx.member.userId });
const NOT_FOUND = "Access review";

export interface StartInput {
  name: string;
  dueAt: string;
  scope?: CampaignScope | undefined;
  reviewerIds?: string[] | undefined;
}

export interface Progress {
  total: number;
  decided: number;
  pending: number;
  keep: number;
  revoke: number;
  changeRole: number;
  dormant: number;
  unassigned: number;
}

export interface ReviewerProgress {
  reviewerId: string | null;
  name: string | null;
  email: string | null;
  total: number;
  decided: number;
}

export type Campaign = AccessReviewRow & { progress: Progress };

/** Who started the campaign: a person (with their org context), or the org's schedule. */
type Starter = { kind: "member"; ctx: OrgContext } | { kind: "schedule" };

// ---------- starting ----------

function checkScope(policy: Policy, scope: CampaignScope): void {
  for (const role of scope.roles ?? []) assertKnownRole(policy, role);
  for (const d of scope.departments ?? []) assertDepartment(policy, d);
  assertStores(policy, scope.storeIds);
}

/** The members a campaign covers: active and inactive members of the org matching the scope's filters. */
function scopeConditions(orgId: string, scope: CampaignScope, now: Date, reach: SQL | undefined): SQL {
  const conds: Array<SQL | undefined> = [
    eq(members.orgId, orgId),
    inArray(members.status, ["active", "inactive"]),
    reach,
  ];
  if (scope.roles?.length) conds.push(inArray(members.role, scope.roles));
  if (scope.departments?.length) conds.push(inArray(members.department, scope.departments));
  if (scope.storeIds?.length) {
    const stores = sql`ARRAY[${sql.join(
      scope.storeIds.map((s) => sql`${s}`),
      sql`, `,
    )}]::text[]`;
    conds.push(sql`(cardinality(${members.storeIds}) = 0 OR ${members.storeIds} && ${stores})`);
  }
  if (scope.dormantDays !== undefined) {
    conds.push(dormantWhere(users.lastLoginAt, members.createdAt, scope.dormantDays, now));
  }
  return and(...conds)!;
}

async function activeTopRoleCount(tx: Tx, orgId: string, policy: Policy): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(members)
    .where(and(eq(members.orgId, orgId), eq(members.role, policy.topRole), eq(members.status, "active")));
  return row?.n ?? 0;
}

/** How many members the scope covers now (the console's live count while a campaign is being set up). */
export async function countInScope(deps: AppDeps, ctx: OrgContext, scope: CampaignScope): Promise<number> {
  authorize(ctx, "manage", { type: "access_review" });
  checkScope(ctx.policy, scope);
  const now = deps.clock.now();
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(members)
      .innerJoin(users, eq(users.id, members.userId))
      .where(scopeConditions(ctx.org.id, scope, now, memberScope(ctx, "read")));
    return row?.n ?? 0;
  });
}

/**
 * Creates the campaign and one item per member in scope, each frozen as the member is now and assigned a
 * reviewer, with its `access_review.started` event; all in the caller's transaction. Answers null when a
 * scheduled campaign for this period exists already (another instance was first).
 */
async function createCampaign(
  tx: Tx,
  deps: AppDeps,
  org: OrgRow,
  policy: Policy,
  starter: Starter,
  input: { name: string; dueAt: Date; scope: CampaignScope; reviewerIds?: string[] | undefined },
  meta: RequestMeta,
  schedulePeriod: string | null = null,
): Promise<AccessReviewRow | null> {
  const now = deps.clock.now();
  const dormantDays = input.scope.dormantDays ?? DEFAULT_DORMANT_DAYS;
  const id = newId("arv");
  const inserted = await tx
    .insert(accessReviews)
    .values({
      orgId: org.id,
      id,
      name: input.name,
      status: "open",
      scope: input.scope,
      dormantDays,
      dueAt: input.dueAt,
      createdBy: starter.kind === "member" ? starter.ctx.member.userId : null,
      schedulePeriod,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning();
  const campaign = inserted[0];
  if (!campaign) return null;

  const reach = starter.kind === "member" ? memberScope(starter.ctx, "read") : undefined;
  const targets = await tx
    .select({ member: members, user: users })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(scopeConditions(org.id, input.scope, now, reach))
    .orderBy(asc(members.id));
  const keyCounts = new Map(
    (
      await tx
        .select({ memberId: apiKeys.memberId, n: sql<number>`count(*)::int` })
        .from(apiKeys)
        .where(and(eq(apiKeys.orgId, org.id), isNull(apiKeys.revokedAt)))
        .groupBy(apiKeys.memberId)
    ).map((r) => [r.memberId, r.n]),
  );
  const active = await tx
    .select()
    .from(members)
    .where(and(eq(members.orgId, org.id), eq(members.status, "active")))
    .orderBy(asc(members.id));
  const candidates = (
    input.reviewerIds?.length ? active.filter((m) => input.reviewerIds!.includes(m.id)) : active
  ).filter((m) => filterFor(policy, subjectOf(m), "decide", "access_review").kind !== "none");
  const topRoleCount = active.filter((m) => m.role === policy.topRole).length;
  const assigned = assignReviewers(
    policy,
    targets.map((t) => t.member),
    candidates,
    topRoleCount,
  );

  const rows = targets.map(({ member: m, user: u }) => ({
    orgId: org.id,
    id: newId("ari"),
    reviewId: id,
    memberId: m.id,
    userId: m.userId,
    email: u.email,
    name: u.name,
    role: m.role,
    status: m.status,
    department: m.department,
    storeIds: m.storeIds,
    lastLoginAt: u.lastLoginAt,
    dormant: isDormant(u.lastLoginAt, m.createdAt, dormantDays, now),
    apiKeys: keyCounts.get(m.id) ?? 0,
    reviewerId: assigned.get(m.id) ?? null,
  }));
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await tx.insert(accessReviewItems).values(rows.slice(i, i + INSERT_CHUNK));
  }
  const started = await record(tx, org.id, now, {
    action: "access_review.started",
    actorId: starter.kind === "member" ? starter.ctx.member.userId : null,
    targetId: id,
    entityType: "access_review",
    after: {
      name: input.name,
      dueAt: input.dueAt.toISOString(),
      scope: { ...input.scope },
      dormantDays,
      items: rows.length,
      dormant: rows.filter((r) => r.dormant).length,
      unassigned: rows.filter((r) => r.reviewerId === null).length,
      scheduled: schedulePeriod !== null,
    },
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
  const [done] = await tx
    .update(accessReviews)
    .set({ startedSeq: started.seq })
    .where(and(eq(accessReviews.orgId, org.id), eq(accessReviews.id, id)))
    .returning();
  return done!;
}

/** POST …/access-reviews: needs `access_review:manage`; covers the members the caller may read. */
export async function startCampaign(
  deps: AppDeps,
  ctx: OrgContext,
  input: StartInput,
  meta: RequestMeta,
): Promise<Campaign> {
  authorize(ctx, "manage", { type: "access_review" });
  const name = input.name.trim();
  if (name.length === 0) throw invalid("name", "`name` cannot be blank.");
  const dueAt = new Date(input.dueAt);
  const now = deps.clock.now();
  if (Number.isNaN(dueAt.getTime())) throw invalid("dueAt", "`dueAt` must be an ISO 8601 date-time.");
  if (dueAt.getTime() <= now.getTime()) throw invalid("dueAt", "`dueAt` must be in the future.");
  if (dueAt.getTime() > now.getTime() + 366 * DAY_MS) throw invalid("dueAt", "`dueAt` must be within a year.");
  const scope: CampaignScope = {};
  if (input.scope?.roles?.length) scope.roles = [...new Set(input.scope.roles)];
  if (input.scope?.departments?.length) scope.departments = [...new Set(input.scope.departments)];
  if (input.scope?.storeIds?.length) scope.storeIds = [...new Set(input.scope.storeIds)];
  if (input.scope?.dormantDays !== undefined) scope.dormantDays = input.scope.dormantDays;
  checkScope(ctx.policy, scope);
  const reviewerIds = input.reviewerIds?.length ? [...new Set(input.reviewerIds)] : undefined;

  const campaign = await deps.db.tx(scopeOf(ctx), async (tx) => {
    if (reviewerIds) {
      const found = await tx
        .select()
        .from(members)
        .where(and(eq(members.orgId, ctx.org.id), inArray(members.id, reviewerIds), eq(members.status, "active")));
      const bad = reviewerIds.find((rid) => {
        const m = found.find((f) => f.id === rid);
        return !m || filterFor(ctx.policy, subjectOf(m), "decide", "access_review").kind === "none";
      });
      if (bad !== undefined)
        throw invalid(
          "reviewerIds",
          `"${bad}" is not an active member of this organization who may decide access reviews (\`access_review:decide\`).`,
        );
    }
    return createCampaign(
      tx,
      deps,
      ctx.org,
      ctx.policy,
      { kind: "member", ctx },
      { name, dueAt, scope, reviewerIds },
      meta,
    );
  });
  return (await getCampaign(deps, ctx, campaign!.id)).campaign;
}

// ---------- reading ----------

/** Who may look at campaigns: anyone holding `access_review:manage` or `access_review:decide` in some scope. */
function assertReviewAccess(ctx: OrgContext): void {
  if (filterFor(ctx.policy, ctx.subject, "decide", "access_review").kind !== "none") return;
  authorize(ctx, "manage", { type: "access_review" });
}

async function progressOf(tx: Tx, orgId: string, reviewIds: string[], reach: SQL): Promise<Map<string, Progress>> {
  const out = new Map<string, Progress>();
  if (reviewIds.length === 0) return out;
  const rows = await tx
    .select({
      reviewId: accessReviewItems.reviewId,
      total: sql<number>`count(*)::int`,
      decided: sql<number>`count(${accessReviewItems.decision})::int`,
      keep: sql<number>`count(*) FILTER (WHERE ${accessReviewItems.decision} = 'keep')::int`,
      revoke: sql<number>`count(*) FILTER (WHERE ${accessReviewItems.decision} = 'revoke')::int`,
      changeRole: sql<number>`count(*) FILTER (WHERE ${accessReviewItems.decision} = 'change_role')::int`,
      dormant: sql<number>`count(*) FILTER (WHERE ${accessReviewItems.dormant})::int`,
      unassigned: sql<number>`count(*) FILTER (WHERE ${accessReviewItems.reviewerId} IS NULL)::int`,
    })
    .from(accessReviewItems)
    .where(and(eq(accessReviewItems.orgId, orgId), inArray(accessReviewItems.reviewId, reviewIds), reach))
    .groupBy(accessReviewItems.reviewId);
  for (const r of rows) out.set(r.reviewId, { ...r, pending: r.total - r.decided });
  return out;
}

const EMPTY: Progress = {
  total: 0,
  decided: 0,
  pending: 0,
  keep: 0,
  revoke: 0,
  changeRole: 0,
  dormant: 0,
  unassigned: 0,
};

/** Campaigns, newest first, each with the progress of the items the caller may see. */
export async function listCampaigns(
  deps: AppDeps,
  ctx: OrgContext,
  q: { cursor?: string | undefined; limit: number; status?: "open" | "completed" | undefined },
): Promise<{ data: Campaign[]; nextCursor: string | null }> {
  assertReviewAccess(ctx);
  const reach = accessReviewItemScope(ctx);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const conds: Array<SQL | undefined> = [eq(accessReviews.orgId, ctx.org.id)];
    if (q.status) conds.push(eq(accessReviews.status, q.status));
    if (q.cursor) {
      const [id] = decodeCursor(q.cursor, ["string"]);
      conds.push(sql`${accessReviews.id} < ${id}`);
    }
    const rows = await tx
      .select()
      .from(accessReviews)
      .where(and(...conds))
      .orderBy(sql`${accessReviews.id} DESC`)
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const progress = await progressOf(
      tx,
      ctx.org.id,
      page.map((r) => r.id),
      reach,
    );
    const last = page[page.length - 1];
    return {
      data: page.map((r) => ({ ...r, progress: progress.get(r.id) ?? EMPTY })),
      nextCursor: rows.length > q.limit && last ? encodeCursor([last.id]) : null,
    };
  });
}

async function loadCampaign(tx: Tx, orgId: string, id: string, lock: "update" | "share" | null = null) {
  const q = tx
    .select()
    .from(accessReviews)
    .where(and(eq(accessReviews.orgId, orgId), eq(accessReviews.id, id)));
  const [row] = lock ? await q.for(lock) : await q;
  if (!row) throw notFound(NOT_FOUND);
  return row;
}

/** One campaign with its progress and the progress of each reviewer. */
export async function getCampaign(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
): Promise<{ campaign: Campaign; reviewers: ReviewerProgress[] }> {
  assertReviewAccess(ctx);
  const reach = accessReviewItemScope(ctx);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const row = await loadCampaign(tx, ctx.org.id, id);
    const progress = (await progressOf(tx, ctx.org.id, [id], reach)).get(id) ?? EMPTY;
    const reviewers = await tx
      .select({
        reviewerId: accessReviewItems.reviewerId,
        name: users.name,
        email: users.email,
        total: sql<number>`count(*)::int`,
        decided: sql<number>`count(${accessReviewItems.decision})::int`,
      })
      .from(accessReviewItems)
      .leftJoin(members, and(eq(members.orgId, accessReviewItems.orgId), eq(members.id, accessReviewItems.reviewerId)))
      .leftJoin(users, eq(users.id, members.userId))
      .where(and(eq(accessReviewItems.orgId, ctx.org.id), eq(accessReviewItems.reviewId, id), reach))
      .groupBy(accessReviewItems.reviewerId, users.name, users.email)
      .orderBy(sql`${users.name} NULLS LAST`);
    return { campaign: { ...row, progress }, reviewers };
  });
}

export interface ItemQuery {
  decision?: Decision | "pending" | undefined;
  reviewerId?: string | undefined;
  dormant?: boolean | undefined;
  role?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

function itemFilters(ctx: OrgContext, reviewId: string, q: Omit<ItemQuery, "limit" | "cursor">): SQL {
  const conds: Array<SQL | undefined> = [
    eq(accessReviewItems.orgId, ctx.org.id),
    eq(accessReviewItems.reviewId, reviewId),
    accessReviewItemScope(ctx),
  ];
  if (q.decision === "pending") conds.push(isNull(accessReviewItems.decision));
  else if (q.decision) conds.push(eq(accessReviewItems.decision, q.decision));
  if (q.reviewerId) conds.push(eq(accessReviewItems.reviewerId, q.reviewerId === "me" ? ctx.member.id : q.reviewerId));
  if (q.dormant !== undefined) conds.push(eq(accessReviewItems.dormant, q.dormant));
  if (q.role) conds.push(eq(accessReviewItems.role, q.role));
  return and(...conds)!;
}

/** A page of a campaign's items the caller may see, in a stable order. */
export async function listItems(
  deps: AppDeps,
  ctx: OrgContext,
  reviewId: string,
  q: ItemQuery,
): Promise<{ data: AccessReviewItemRow[]; nextCursor: string | null }> {
  assertReviewAccess(ctx);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    await loadCampaign(tx, ctx.org.id, reviewId);
    const conds = [itemFilters(ctx, reviewId, q)];
    if (q.cursor) {
      const [after] = decodeCursor(q.cursor, ["string"]);
      conds.push(gt(accessReviewItems.id, after));
    }
    const rows = await tx
      .select()
      .from(accessReviewItems)
      .where(and(...conds))
      .orderBy(asc(accessReviewItems.id))
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { data: page, nextCursor: rows.length > q.limit && last ? encodeCursor([last.id]) : null };
  });
}

// ---------- deciding ----------

export interface DecisionInput {
  decision: Decision;
  role?: string | undefined;
  note?: string | undefined;
}

function checkDecision(policy: Policy, input: DecisionInput): void {
  if (input.decision === "change_role") {
    if (!input.role) throw invalid("role", "`role` is required with `change_role`: the role the member should have.");
    assertKnownRole(policy, input.role);
  } else if (input.role !== undefined) {
    throw invalid("role", "`role` goes with `change_role` only.");
  }
}

/**
 * The rules for one item, against the member as they are now: never one's own item; the assigned reviewer,
 * or someone who manages reviews; and only what the caller could do themself (revoke = deactivate,
 * change_role = the role change with its hierarchy rules). Throws the contract's error.
 */
function assertMayDecide(
  ctx: OrgContext,
  item: AccessReviewItemRow,
  target: MemberRow,
  input: DecisionInput,
  topRoleCount: number,
): void {
  if (item.memberId === ctx.member.id)
    throw new AppError("permission_denied", "You cannot decide your own access review item.", {
      requiredPermission: "access_review:decide",
    });
  if (item.reviewerId !== ctx.member.id && !can(ctx.policy, ctx.subject, "manage", { type: "access_review" }).allowed) {
    throw new AppError(
      "permission_denied",
      "This item is assigned to another reviewer; only someone who manages access reviews may decide it instead.",
      { requiredPermission: "access_review:manage" },
    );
  }
  const ref = { role: target.role, userId: target.userId, department: target.department, status: target.status };
  if (input.decision === "keep") {
    assertAllowed(mayReview(ctx.policy, { id: ctx.member.id, subject: ctx.subject }, target, topRoleCount));
  } else if (input.decision === "revoke") {
    assertAllowed(mayReview(ctx.policy, { id: ctx.member.id, subject: ctx.subject }, target, topRoleCount));
  } else {
    assertAllowed(
      can(ctx.policy, ctx.subject, "decide", {
        type: "access_review",
        ...(target.department != null ? { department: target.department } : {}),
      }),
    );
    assertAllowed(
      decideMemberAction(ctx.policy, ctx.subject, ref, "change_role", { newRole: input.role!, topRoleCount }),
    );
  }
}

async function decideOne(
  tx: Tx,
  deps: AppDeps,
  ctx: OrgContext,
  campaign: AccessReviewRow,
  item: AccessReviewItemRow,
  input: DecisionInput,
  topRoleCount: number,
  meta: RequestMeta,
): Promise<AccessReviewItemRow> {
  const [target] = await tx
    .select()
    .from(members)
    .where(and(eq(members.orgId, ctx.org.id), eq(members.id, item.memberId)));
  if (!target || target.status === "removed")
    throw new AppError("conflict", "This member was removed since the campaign started; there is nothing to decide.");
  assertMayDecide(ctx, item, target, input, topRoleCount);
  if (input.decision === "change_role" && input.role === target.role)
    throw invalid("role", `The member already has the role "${input.role}".`);
  const now = deps.clock.now();
  const note = input.note?.trim() || null;
  const [updated] = await tx
    .update(accessReviewItems)
    .set({
      decision: input.decision,
      newRole: input.decision === "change_role" ? input.role! : null,
      note,
      decidedBy: ctx.member.userId,
      decidedAt: now,
    })
    .where(and(eq(accessReviewItems.orgId, ctx.org.id), eq(accessReviewItems.id, item.id)))
    .returning();
  await record(tx, ctx.org.id, now, {
    action: "access_review.decided",
    actorId: ctx.member.userId,
    targetId: item.memberId,
    entityType: "access_review",
    before: item.decision ? { decision: item.decision, role: item.newRole, note: item.note } : null,
    after: {
      accessReviewId: campaign.id,
      accessReviewItemId: item.id,
      decision: input.decision,
      role: input.decision === "change_role" ? input.role! : null,
      note,
    },
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
  return updated!;
}

function assertOpen(c: AccessReviewRow): void {
  if (c.status !== "open")
    throw new AppError(
      "access_review_completed",
      "This access review is completed: its decisions were applied and it is sealed. Start a new campaign to review again.",
    );
}

/** Records (or changes) the decision on one item while the campaign is open. */
export async function decideItem(
  deps: AppDeps,
  ctx: OrgContext,
  reviewId: string,
  itemId: string,
  input: DecisionInput,
  meta: RequestMeta,
): Promise<AccessReviewItemRow> {
  assertReviewAccess(ctx);
  checkDecision(ctx.policy, input);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    // Shared lock: decisions run side by side, but not while the campaign is being completed.
    const campaign = await loadCampaign(tx, ctx.org.id, reviewId, "share");
    assertOpen(campaign);
    const [item] = await tx
      .select()
      .from(accessReviewItems)
      .where(
        and(
          eq(accessReviewItems.orgId, ctx.org.id),
          eq(accessReviewItems.reviewId, reviewId),
          eq(accessReviewItems.id, itemId),
          accessReviewItemScope(ctx),
        ),
      )
      .for("update");
    if (!item) throw notFound("Access review item");
    const topRoleCount = await activeTopRoleCount(tx, ctx.org.id, ctx.policy);
    return decideOne(tx, deps, ctx, campaign, item, input, topRoleCount, meta);
  });
}

export interface BulkInput extends DecisionInput {
  filter: Omit<ItemQuery, "limit" | "cursor">;
}

export interface BulkResult {
  decided: number;
  skipped: Array<{ itemId: string; memberId: string; code: string; reason: string }>;
}

/**
 * One decision for every item matching a filter ("revoke all dormant read_only"), in one transaction. An item
 * the caller may not decide that way is skipped with its reason instead of failing the rest.
 */
export async function decideBulk(
  deps: AppDeps,
  ctx: OrgContext,
  reviewId: string,
  input: BulkInput,
  meta: RequestMeta,
): Promise<BulkResult> {
  assertReviewAccess(ctx);
  checkDecision(ctx.policy, input);
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const campaign = await loadCampaign(tx, ctx.org.id, reviewId, "share");
    assertOpen(campaign);
    const items = await tx
      .select()
      .from(accessReviewItems)
      .where(itemFilters(ctx, reviewId, input.filter))
      .orderBy(asc(accessReviewItems.id))
      .for("update");
    const topRoleCount = await activeTopRoleCount(tx, ctx.org.id, ctx.policy);
    const result: BulkResult = { decided: 0, skipped: [] };
    for (const item of items) {
      try {
        await tx.transaction((sp) => decideOne(sp, deps, ctx, campaign, item, input, topRoleCount, meta));
        result.decided++;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        result.skipped.push({ itemId: item.id, memberId: item.memberId, code: err.code, reason: err.message });
      }
    }
    return result;
  });
}

// ---------- completing ----------

/** The member who decided, as an actor now: null if they are no longer an active member. */
async function deciderContext(tx: Tx, ctx: OrgContext, userId: string): Promise<OrgContext | null> {
  const [m] = await tx
    .select()
    .from(members)
    .where(and(eq(members.orgId, ctx.org.id), eq(members.userId, userId)));
  if (!m || m.status !== "active") return null;
  return { org: ctx.org, policy: ctx.policy, member: m, subject: subjectOf(m) };
}

export interface CompletionSummary {
  applied: number;
  unchanged: number;
  failed: number;
  notDecided: number;
}

/**
 * Applies every decision through the member service, one change per member, each as the reviewer who decided
 * it (so the hierarchy is theirs, and each change has its own `team.*` event naming the campaign), then seals
 * the campaign with `access_review.completed`. One transaction holding the campaign's row lock: a second
 * completion, concurrent or later, finds it completed and gets 409. A decision that can no longer be applied
 * (the member was removed, the reviewer lost the right) is recorded as failed with its reason, not applied.
 */
export async function completeCampaign(
  deps: AppDeps,
  ctx: OrgContext,
  reviewId: string,
  meta: RequestMeta,
): Promise<{ campaign: Campaign; summary: CompletionSummary }> {
  authorize(ctx, "manage", { type: "access_review" });
  const summary = await deps.db.tx(scopeOf(ctx), async (tx) => {
    const campaign = await loadCampaign(tx, ctx.org.id, reviewId, "update");
    assertOpen(campaign);
    const now = deps.clock.now();
    const [head] = await tx
      .select({ lastSeq: auditHeads.lastSeq })
      .from(auditHeads)
      .where(eq(auditHeads.orgId, ctx.org.id));
    const fromSeq = (head?.lastSeq ?? 0) + 1;
    const items = await tx
      .select()
      .from(accessReviewItems)
      .where(and(eq(accessReviewItems.orgId, ctx.org.id), eq(accessReviewItems.reviewId, reviewId)))
      .orderBy(asc(accessReviewItems.id));
    const deciders = new Map<string, OrgContext | null>();
    const counts: CompletionSummary = { applied: 0, unchanged: 0, failed: 0, notDecided: 0 };
    for (const item of items) {
      let outcome: Outcome;
      let detail: string | null = null;
      if (!item.decision || !item.decidedBy) outcome = "not_decided";
      else if (item.decision === "keep") outcome = "unchanged";
      else {
        if (!deciders.has(item.decidedBy)) deciders.set(item.decidedBy, await deciderContext(tx, ctx, item.decidedBy));
        const actor = deciders.get(item.decidedBy);
        if (!actor) {
          outcome = "failed";
          detail = "The reviewer who decided this is no longer an active member, so it was not applied.";
        } else {
          const patch = item.decision === "revoke" ? { status: "inactive" as const } : { role: item.newRole! };
          const link = { accessReviewId: campaign.id, accessReviewItemId: item.id };
          try {
            const r = await tx.transaction((sp) => applyMemberPatch(sp, deps, actor, item.memberId, patch, meta, link));
            outcome = r.changed ? "applied" : "unchanged";
          } catch (err) {
            if (!(err instanceof AppError)) throw err;
            outcome = "failed";
            detail = err.message;
          }
        }
      }
      counts[outcome === "not_decided" ? "notDecided" : outcome]++;
      await tx
        .update(accessReviewItems)
        .set({ outcome, outcomeDetail: detail })
        .where(and(eq(accessReviewItems.orgId, ctx.org.id), eq(accessReviewItems.id, item.id)));
    }
    const sealed = await record(tx, ctx.org.id, now, {
      action: "access_review.completed",
      actorId: ctx.member.userId,
      targetId: campaign.id,
      entityType: "access_review",
      before: { status: "open" },
      after: { status: "completed", name: campaign.name, ...counts, fromSeq: campaign.startedSeq ?? fromSeq },
      ip: meta.ip,
      userAgent: meta.userAgent,
    });
    await tx
      .update(accessReviews)
      .set({
        status: "completed",
        completedAt: now,
        completedBy: ctx.member.userId,
        appliedFromSeq: fromSeq,
        completedSeq: sealed.seq,
        completedHash: sealed.hash,
      })
      .where(and(eq(accessReviews.orgId, ctx.org.id), eq(accessReviews.id, reviewId)));
    return counts;
  });
  return { campaign: (await getCampaign(deps, ctx, reviewId)).campaign, summary };
}

// ---------- scheduled campaigns and reminders (the job) ----------

/** A scheduled campaign's due date: two weeks, or the period if shorter. */
export function scheduledDueAt(now: Date, everyDays: number): Date {
  return new Date(now.getTime() + Math.min(14, everyDays) * DAY_MS);
}

/**
 * The period `now` falls in, for an org reviewing every `everyDays` days counted from `anchor` (the org's
 * creation). The key names the interval too: changing the setting starts a new series of periods.
 */
export function schedulePeriod(now: Date, everyDays: number, anchor: Date): string {
  return `every-${everyDays}d-${Math.floor((now.getTime() - anchor.getTime()) / (everyDays * DAY_MS))}`;
}

/** Starts the period's campaign for one org unless one exists; answers whether this call started it. */
export async function startScheduledCampaign(
  deps: AppDeps,
  org: OrgRow,
  policy: Policy,
  everyDays: number,
): Promise<boolean> {
  const now = deps.clock.now();
  const period = schedulePeriod(now, everyDays, org.createdAt);
  const created = await deps.db.tx({ orgId: org.id }, (tx) =>
    createCampaign(
      tx,
      deps,
      org,
      policy,
      { kind: "schedule" },
      {
        name: `Scheduled access review ${now.toISOString().slice(0, 10)}`,
        dueAt: scheduledDueAt(now, everyDays),
        scope: {},
      },
      { ip: null, userAgent: null },
      period,
    ),
  );
  return created !== null;
}
