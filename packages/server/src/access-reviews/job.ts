import { and, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { getPreset } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { members, organizations, users } from "../db/schema.ts";
import type { Job } from "../jobs/scheduler.ts";
import { allOrgIds } from "../audit/checkpoints.ts";
import { orgSettings } from "../orgs/settings.ts";
import { enqueueMail } from "../mail/outbox.ts";
import { accessReviewReminderMail } from "../mail/templates.ts";
import { startScheduledCampaign } from "./service.ts";
import { accessReviewItems, accessReviews } from "./tables.ts";

/** Reviewers with pending items are reminded this long before the campaign is due. */
export const REMINDER_BEFORE_MS = 3 * 86_400_000;

/**
 * Starts the current period's campaign of every org that set `accessReviewEveryDays`. The unique
 * (org, period) key makes it once per period whatever number of instances run the job at once.
 */
export async function startScheduledCampaigns(deps: AppDeps): Promise<number> {
  let started = 0;
  for (const orgId of await allOrgIds(deps)) {
    const org = await deps.db.tx({ orgId }, async (tx) => {
      const [row] = await tx.select().from(organizations).where(eq(organizations.id, orgId));
      return row;
    });
    const policy = org ? getPreset(org.policy) : undefined;
    if (!org || !policy) continue;
    const every = orgSettings(org, policy).accessReviewEveryDays;
    if (every === null) continue;
    if (await startScheduledCampaign(deps, org, policy, every)) started++;
  }
  return started;
}

/**
 * Emails each reviewer with pending items of an open campaign due within three days, once per campaign: the
 * conditional update that sets `reminded_at` is the claim, so two instances never both send.
 */
export async function sendReminders(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  let sent = 0;
  for (const orgId of await allOrgIds(deps)) {
    sent += await deps.db.tx({ orgId }, async (tx) => {
      const due = await tx
        .update(accessReviews)
        .set({ remindedAt: now })
        .where(
          and(
            eq(accessReviews.orgId, orgId),
            eq(accessReviews.status, "open"),
            isNull(accessReviews.remindedAt),
            gt(accessReviews.dueAt, now),
            lte(accessReviews.dueAt, new Date(now.getTime() + REMINDER_BEFORE_MS)),
          ),
        )
        .returning();
      if (due.length === 0) return 0;
      const [org] = await tx.select().from(organizations).where(eq(organizations.id, orgId));
      let n = 0;
      for (const campaign of due) {
        const reviewers = await tx
          .select({ email: users.email, pending: sql<number>`count(*)::int` })
          .from(accessReviewItems)
          .innerJoin(
            members,
            and(eq(members.orgId, accessReviewItems.orgId), eq(members.id, accessReviewItems.reviewerId)),
          )
          .innerJoin(users, eq(users.id, members.userId))
          .where(
            and(
              eq(accessReviewItems.orgId, orgId),
              eq(accessReviewItems.reviewId, campaign.id),
              isNull(accessReviewItems.decision),
              eq(members.status, "active"),
            ),
          )
          .groupBy(users.email);
        for (const r of reviewers) {
          await enqueueMail(tx, deps.config.secretKey, now, {
            orgId,
            kind: "access_review_reminder",
            to: r.email,
            causedBy: null,
            content: accessReviewReminderMail({
              orgName: org?.name ?? "your organization",
              campaignName: campaign.name,
              pending: r.pending,
              dueAt: campaign.dueAt,
              url: `${deps.config.publicUrl}/orgs/${orgId}/access-reviews/${campaign.id}?reviewer=me`,
            }),
          });
          n++;
        }
      }
      return n;
    });
  }
  return sent;
}

export const accessReviewJob: Job = {
  name: "access_reviews.schedule",
  intervalSeconds: 3600,
  async run(deps) {
    await startScheduledCampaigns(deps);
    await sendReminders(deps);
  },
};
