import { and, asc, eq } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { auditEvents, members, users } from "../db/schema.ts";
import { notFound } from "../http/errors.ts";
import { authorize, type OrgContext } from "../http/context.ts";
import { verifyOrg } from "../audit/checkpoints.ts";
import type { VerifyResult } from "../audit/verify.ts";
import { accessReviewItems, accessReviews } from "./tables.ts";

export interface ReportItem {
  itemId: string;
  memberId: string;
  name: string;
  email: string;
  role: string;
  status: string;
  department: string | null;
  storeIds: string[];
  lastLoginAt: string | null;
  dormant: boolean;
  apiKeys: number;
  reviewerId: string | null;
  reviewerName: string | null;
  reviewerEmail: string | null;
  decision: string | null;
  newRole: string | null;
  note: string | null;
  decidedBy: string | null;
  decidedByName: string | null;
  decidedAt: string | null;
  outcome: string | null;
  outcomeDetail: string | null;
}

export interface CampaignReport {
  campaign: {
    id: string;
    name: string;
    status: "open" | "completed";
    orgId: string;
    orgName: string;
    scope: Record<string, unknown>;
    dormantDays: number;
    dueAt: string;
    createdAt: string;
    createdBy: string | null;
    completedAt: string | null;
    completedBy: string | null;
  };
  generatedAt: string;
  /** The audit chain range holding the campaign: from its start event to its completion event. */
  chain: {
    fromSeq: number | null;
    toSeq: number | null;
    toHash: string | null;
    /** The whole chain verified and still holds `toHash` at `toSeq`: the range is intact. */
    verified: boolean;
    verification: VerifyResult | null;
  };
  summary: {
    items: number;
    keep: number;
    revoke: number;
    changeRole: number;
    notDecided: number;
    applied: number;
    failed: number;
  };
  items: ReportItem[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The certification: every item with its reviewer, decision, note and what completion did, and the chain
 * range that holds it. A report of an open campaign is a progress report (no range yet).
 */
export async function campaignReport(deps: AppDeps, ctx: OrgContext, reviewId: string): Promise<CampaignReport> {
  authorize(ctx, "manage", { type: "access_review" });
  const orgId = ctx.org.id;
  const { campaign, rows, stored } = await deps.db.tx({ orgId, userId: ctx.member.userId }, async (tx) => {
    const [campaign] = await tx
      .select()
      .from(accessReviews)
      .where(and(eq(accessReviews.orgId, orgId), eq(accessReviews.id, reviewId)));
    if (!campaign) throw notFound("Access review");
    const rows = await tx
      .select({ item: accessReviewItems, reviewerName: users.name, reviewerEmail: users.email })
      .from(accessReviewItems)
      .leftJoin(members, and(eq(members.orgId, accessReviewItems.orgId), eq(members.id, accessReviewItems.reviewerId)))
      .leftJoin(users, eq(users.id, members.userId))
      .where(and(eq(accessReviewItems.orgId, orgId), eq(accessReviewItems.reviewId, reviewId)))
      .orderBy(asc(accessReviewItems.name), asc(accessReviewItems.id));
    const deciderIds = [...new Set(rows.map((r) => r.item.decidedBy).filter((x): x is string => x !== null))];
    const deciders = new Map<string, string>();
    for (const id of deciderIds) {
      const [u] = await tx.select({ name: users.name }).from(users).where(eq(users.id, id));
      if (u) deciders.set(id, u.name);
    }
    let stored: string | null = null;
    if (campaign.completedSeq !== null) {
      const [e] = await tx
        .select({ hash: auditEvents.hash })
        .from(auditEvents)
        .where(and(eq(auditEvents.orgId, orgId), eq(auditEvents.seq, campaign.completedSeq)));
      stored = e?.hash ?? null;
    }
    return {
      campaign,
      rows: rows.map((r) => ({ ...r, decidedByName: deciders.get(r.item.decidedBy ?? "") ?? null })),
      stored,
    };
  });
  const verification = campaign.completedSeq !== null ? await verifyOrg(deps, orgId) : null;
  const verified =
    verification !== null &&
    verification.ok &&
    campaign.completedSeq !== null &&
    verification.lastSeq >= campaign.completedSeq &&
    stored === campaign.completedHash;
  const items: ReportItem[] = rows.map(({ item: i, reviewerName, reviewerEmail, decidedByName }) => ({
    itemId: i.id,
    memberId: i.memberId,
    name: i.name,
    email: i.email,
    role: i.role,
    status: i.status,
    department: i.department,
    storeIds: i.storeIds,
    lastLoginAt: iso(i.lastLoginAt),
    dormant: i.dormant,
    apiKeys: i.apiKeys,
    reviewerId: i.reviewerId,
    reviewerName,
    reviewerEmail,
    decision: i.decision,
    newRole: i.newRole,
    note: i.note,
    decidedBy: i.decidedBy,
    decidedByName,
    decidedAt: iso(i.decidedAt),
    outcome: i.outcome,
    outcomeDetail: i.outcomeDetail,
  }));
  const count = (f: (i: ReportItem) => boolean) => items.filter(f).length;
  return {
    campaign: {
      id: campaign.id,
      name: campaign.name,
      status: campaign.status,
      orgId,
      orgName: ctx.org.name,
      scope: { ...campaign.scope },
      dormantDays: campaign.dormantDays,
      dueAt: campaign.dueAt.toISOString(),
      createdAt: campaign.createdAt.toISOString(),
      createdBy: campaign.createdBy,
      completedAt: iso(campaign.completedAt),
      completedBy: campaign.completedBy,
    },
    generatedAt: deps.clock.now().toISOString(),
    chain: {
      fromSeq: campaign.startedSeq,
      toSeq: campaign.completedSeq,
      toHash: campaign.completedHash,
      verified,
      verification,
    },
    summary: {
      items: items.length,
      keep: count((i) => i.decision === "keep"),
      revoke: count((i) => i.decision === "revoke"),
      changeRole: count((i) => i.decision === "change_role"),
      notDecided: count((i) => i.decision === null),
      applied: count((i) => i.outcome === "applied"),
      failed: count((i) => i.outcome === "failed"),
    },
    items,
  };
}
