/**
 * Access reviews through HTTP (@see issue 17): a campaign over an org of 40 members with dormant ones, two
 * reviewers, the self and hierarchy refusals, completion applied exactly once (also when two requests race),
 * the certification report read back from its XLSX with a chain range that verifies, department reach, and
 * the schedule starting one campaign per period with two instances running.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ExcelJS from "exceljs";
import { and, eq } from "drizzle-orm";
import { createApp, type AppDeps } from "../src/app.ts";
import { openDatabase, type Database } from "../src/db/database.ts";
import { scratchDatabase } from "../src/db/scratch.ts";
import { members } from "../src/db/schema.ts";
import { FakeClock } from "../src/lib/clock.ts";
import { accessReviewJob, sendReminders } from "../src/access-reviews/job.ts";
import { accessReviews } from "../src/access-reviews/tables.ts";
import { runDueJobs } from "../src/jobs/scheduler.ts";
import {
  addMember,
  createOrg,
  engine,
  json,
  MemoryMailer,
  signUp,
  testApp,
  testConfig,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { api, deliverMail, eventsOf, signInAgain, type ErrorJson } from "./members.helpers.ts";

const DAY = 86_400_000;

interface Item {
  id: string;
  memberId: string;
  email: string;
  role: string;
  status: string;
  dormant: boolean;
  reviewerId: string | null;
  decision: string | null;
  newRole: string | null;
  outcome: string | null;
  lastLoginAt: string | null;
}
interface CampaignOut {
  id: string;
  status: string;
  progress: Record<string, number>;
  startedSeq: number;
  completedSeq: number | null;
  completedHash: string | null;
}

async function allItems(t: TestApp, s: Session, orgId: string, reviewId: string, query = ""): Promise<Item[]> {
  const out: Item[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `limit=15${query ? `&${query}` : ""}${cursor ? `&cursor=${cursor}` : ""}`;
    const res = await api(t).get(s, `/v1/orgs/${orgId}/access-reviews/${reviewId}/items?${q}`);
    expect(res.statusCode, res.body).toBe(200);
    const page = json<{ data: Item[]; nextCursor: string | null }>(res);
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe(`access reviews over HTTP (${engine})`, () => {
  let t: TestApp;
  let owner: Session;
  let orgId: string;
  let ownerMemberId: string;
  const reviewers: Array<{ session: Session; memberId: string; email: string }> = [];
  const people = new Map<string, { memberId: string; role: string; email: string; active: boolean }>();
  let campaign: CampaignOut;

  beforeAll(async () => {
    t = await testApp();
    const ownerEmail = `owner.${Date.now()}@example.com`;
    owner = await signUp(t.app, ownerEmail, "Olive Owner");
    const org = await createOrg(t.app, owner, "operations", "Review Co");
    orgId = org.id;
    ownerMemberId = org.memberId;
    for (const name of ["a", "b"]) {
      const m = await addMember(t, orgId, "admin", { email: `reviewer-${name}.${Date.now()}@example.com` });
      reviewers.push({ session: m.session, memberId: m.memberId, email: m.session.user.email });
    }
    // 37 more: 10 staff and 27 read-only, 40 members in all with the owner and the two admins.
    for (let i = 0; i < 37; i++) {
      const role = i < 10 ? "staff" : "read_only";
      const m = await addMember(t, orgId, role, { storeIds: ["s1"] });
      people.set(m.memberId, { memberId: m.memberId, role, email: m.session.user.email, active: false });
    }
    // Four months pass; the owner, both reviewers, 4 staff and 4 read-only members sign in again.
    t.clock.advance(120 * DAY);
    owner = await signInAgain(t, ownerEmail);
    for (const r of reviewers) r.session = await signInAgain(t, r.email);
    let staff = 0;
    let readOnly = 0;
    for (const p of people.values()) {
      if ((p.role === "staff" && staff++ < 4) || (p.role === "read_only" && readOnly++ < 4)) {
        await signInAgain(t, p.email);
        p.active = true;
      }
    }
  });
  afterAll(async () => t.close());

  it("starts a campaign with one item per member, dormant ones flagged, each assigned to a reviewer who is not themself", async () => {
    const preview = await api(t).post(owner, `/v1/orgs/${orgId}/access-reviews/preview`, {
      scope: { dormantDays: 90 },
    });
    expect(json(preview)).toEqual({ members: 6 + 23 });

    const res = await api(t).post(owner, `/v1/orgs/${orgId}/access-reviews`, {
      name: "Q1 review",
      dueAt: new Date(t.clock.now().getTime() + 14 * DAY).toISOString(),
      reviewerIds: reviewers.map((r) => r.memberId),
    });
    expect(res.statusCode, res.body).toBe(201);
    campaign = json<CampaignOut>(res);
    expect(campaign.status).toBe("open");
    expect(campaign.progress).toMatchObject({ total: 40, decided: 0, pending: 40, dormant: 29, unassigned: 1 });

    const items = await allItems(t, owner, orgId, campaign.id);
    expect(items).toHaveLength(40);
    expect(new Set(items.map((i) => i.memberId)).size).toBe(40);
    for (const i of items) expect(i.reviewerId).not.toBe(i.memberId);
    // Nobody in the campaign may deactivate the only owner; the two admins review each other.
    expect(items.find((i) => i.memberId === ownerMemberId)!.reviewerId).toBeNull();
    expect(items.find((i) => i.memberId === reviewers[0]!.memberId)!.reviewerId).toBe(reviewers[1]!.memberId);
    expect(items.find((i) => i.memberId === reviewers[1]!.memberId)!.reviewerId).toBe(reviewers[0]!.memberId);
    const assigned = items.filter((i) => i.reviewerId !== null);
    expect(assigned.filter((i) => i.reviewerId === reviewers[0]!.memberId).length).toBeGreaterThan(10);
    expect(assigned.filter((i) => i.reviewerId === reviewers[1]!.memberId).length).toBeGreaterThan(10);
    for (const i of items) {
      const p = people.get(i.memberId);
      if (p) expect(i.dormant).toBe(!p.active);
    }
    const started = (await eventsOf(t, orgId)).filter((e) => e.action === "access_review.started");
    expect(started).toHaveLength(1);
    expect(started[0]!.seq).toBe(campaign.startedSeq);
  });

  it("refuses bad input with the field named, and reads only for those who may", async () => {
    const bad = await api(t).post(owner, `/v1/orgs/${orgId}/access-reviews`, {
      name: "x",
      dueAt: new Date(t.clock.now().getTime() - DAY).toISOString(),
    });
    expect(bad.statusCode).toBe(422);
    expect(json<ErrorJson>(bad).error.param).toBe("dueAt");
    const role = await api(t).post(owner, `/v1/orgs/${orgId}/access-reviews`, {
      name: "x",
      dueAt: new Date(t.clock.now().getTime() + DAY).toISOString(),
      scope: { roles: ["wizard"] },
    });
    expect(role.statusCode).toBe(422);
    const notReviewer = await api(t).post(owner, `/v1/orgs/${orgId}/access-reviews`, {
      name: "x",
      dueAt: new Date(t.clock.now().getTime() + DAY).toISOString(),
      reviewerIds: [[...people.keys()][0]!],
    });
    expect(notReviewer.statusCode).toBe(422);
    expect(json<ErrorJson>(notReviewer).error.param).toBe("reviewerIds");

    const staff = [...people.values()].find((p) => p.role === "staff" && p.active)!;
    const staffSession = await signInAgain(t, staff.email);
    const denied = await api(t).get(staffSession, `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items`);
    expect(denied.statusCode).toBe(403);
    expect(json<ErrorJson>(denied).error.requiredPermission).toBe("access_review:manage");
    const missing = await api(t).get(owner, `/v1/orgs/${orgId}/access-reviews/arv_nope/items`);
    expect(missing.statusCode).toBe(404);
  });

  it("lets a reviewer decide neither their own item nor raise anyone above themselves", async () => {
    const [a] = reviewers;
    const items = await allItems(t, owner, orgId, campaign.id);
    const own = items.find((i) => i.memberId === a!.memberId)!;
    const self = await api(t).post(
      a!.session,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${own.id}/decision`,
      {
        decision: "keep",
      },
    );
    expect(self.statusCode).toBe(403);
    expect(json<ErrorJson>(self).error.code).toBe("permission_denied");

    const mine = items.find((i) => i.reviewerId === a!.memberId && i.role === "staff")!;
    const raise = await api(t).post(
      a!.session,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${mine.id}/decision`,
      {
        decision: "change_role",
        role: "owner",
      },
    );
    expect(raise.statusCode).toBe(403);
    expect(json<ErrorJson>(raise).error.requiredPermission).toBe("owner:promote");

    const noRole = await api(t).post(
      a!.session,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${mine.id}/decision`,
      {
        decision: "change_role",
      },
    );
    expect(noRole.statusCode).toBe(422);
    expect(json<ErrorJson>(noRole).error.param).toBe("role");
    // The owner's item: only someone who manages reviews may decide it, and not the owner themself.
    const ownerItem = items.find((i) => i.memberId === ownerMemberId)!;
    const ownerSelf = await api(t).post(
      owner,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${ownerItem.id}/decision`,
      {
        decision: "keep",
      },
    );
    expect(ownerSelf.statusCode).toBe(403);
  });

  const expected = new Map<string, { status?: "inactive"; role?: string }>();

  it("takes decisions from two reviewers, one by one and in bulk, and lets a decision change", async () => {
    for (const r of reviewers) {
      const bulk = await api(t).post(r.session, `/v1/orgs/${orgId}/access-reviews/${campaign.id}/decisions`, {
        filter: { dormant: true, role: "read_only", reviewerId: "me", decision: "pending" },
        decision: "revoke",
        note: "Dormant for 90+ days",
      });
      expect(bulk.statusCode, bulk.body).toBe(200);
      expect(json<{ skipped: unknown[] }>(bulk).skipped).toEqual([]);
    }
    const items = await allItems(t, owner, orgId, campaign.id);
    const revoked = items.filter((i) => i.decision === "revoke");
    expect(revoked).toHaveLength(23);
    // Reviewer A changes their mind on one of them: keep.
    const a = reviewers[0]!;
    const b = reviewers[1]!;
    const changed = revoked.find((i) => i.reviewerId === a.memberId)!;
    const keep = await api(t).post(
      a.session,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${changed.id}/decision`,
      {
        decision: "keep",
        note: "Seasonal accountant",
      },
    );
    expect(keep.statusCode, keep.body).toBe(200);
    for (const i of revoked) if (i.id !== changed.id) expected.set(i.memberId, { status: "inactive" });

    const staffOfA = items.find((i) => i.reviewerId === a.memberId && i.role === "staff")!;
    const down = await api(t).post(
      a.session,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${staffOfA.id}/decision`,
      {
        decision: "change_role",
        role: "read_only",
      },
    );
    expect(down.statusCode, down.body).toBe(200);
    expected.set(staffOfA.memberId, { role: "read_only" });
    const roOfB = items.find((i) => i.reviewerId === b.memberId && i.role === "read_only" && i.decision === null)!;
    const up = await api(t).post(
      b.session,
      `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${roOfB.id}/decision`,
      {
        decision: "change_role",
        role: "staff",
        note: "Now runs store s1",
      },
    );
    expect(up.statusCode, up.body).toBe(200);
    expected.set(roOfB.memberId, { role: "staff" });
    const adminA = items.find((i) => i.memberId === a.memberId)!;
    expect(
      (
        await api(t).post(b.session, `/v1/orgs/${orgId}/access-reviews/${campaign.id}/items/${adminA.id}/decision`, {
          decision: "keep",
        })
      ).statusCode,
    ).toBe(200);

    const got = json<{ campaign: CampaignOut; reviewers: Array<{ reviewerId: string; decided: number }> }>(
      await api(t).get(owner, `/v1/orgs/${orgId}/access-reviews/${campaign.id}`),
    );
    expect(got.campaign.progress).toMatchObject({ decided: 26, revoke: 22, keep: 2, changeRole: 2 });
    expect(got.reviewers.find((r) => r.reviewerId === a.memberId)!.decided).toBeGreaterThan(0);
    expect(got.reviewers.find((r) => r.reviewerId === b.memberId)!.decided).toBeGreaterThan(0);
  });

  it("completes once when two requests race, applying exactly the decisions with their audit events", async () => {
    const before = await eventsOf(t, orgId);
    const url = `/v1/orgs/${orgId}/access-reviews/${campaign.id}/complete`;
    const [r1, r2] = await Promise.all([api(t).post(owner, url), api(t).post(owner, url)]);
    const codes = [r1.statusCode, r2.statusCode].sort();
    expect(codes).toEqual([200, 409]);
    const loser = r1.statusCode === 409 ? r1 : r2;
    expect(json<ErrorJson>(loser).error.code).toBe("access_review_completed");
    const done = json<{ campaign: CampaignOut; summary: Record<string, number> }>(r1.statusCode === 200 ? r1 : r2);
    expect(done.summary).toEqual({ applied: 24, unchanged: 2, failed: 0, notDecided: 14 });
    expect(done.campaign.status).toBe("completed");
    expect((await api(t).post(owner, url)).statusCode).toBe(409);

    const rows = await t.db.tx({ orgId }, (tx) => tx.select().from(members).where(eq(members.orgId, orgId)));
    for (const m of rows) {
      const want = expected.get(m.id);
      const p = people.get(m.id);
      if (want?.status) expect(m.status, m.id).toBe("inactive");
      else expect(m.status, m.id).toBe("active");
      if (want?.role) expect(m.role).toBe(want.role);
      else if (p) expect(m.role).toBe(p.role);
    }
    const after = (await eventsOf(t, orgId)).slice(before.length);
    const applied = after.filter((e) => e.action.startsWith("team."));
    expect(applied.filter((e) => e.action === "team.deactivated")).toHaveLength(22);
    expect(applied.filter((e) => e.action === "team.role_changed")).toHaveLength(2);
    expect(applied).toHaveLength(24);
    for (const e of applied) {
      expect((e.after as Record<string, unknown>).accessReviewId).toBe(campaign.id);
      expect(reviewers.map((r) => r.session.user.id)).toContain(e.actorId);
    }
    expect(after.filter((e) => e.action === "access_review.completed")).toHaveLength(1);

    const late = await api(t).post(reviewers[0]!.session, `/v1/orgs/${orgId}/access-reviews/${campaign.id}/decisions`, {
      filter: {},
      decision: "keep",
    });
    expect(late.statusCode).toBe(409);
  });

  it("gives a report whose XLSX lists every item with its reviewer and decision, and a chain range that verifies", async () => {
    const report = json<{
      chain: { fromSeq: number; toSeq: number; toHash: string; verified: boolean };
      items: unknown[];
    }>(await api(t).get(owner, `/v1/orgs/${orgId}/access-reviews/${campaign.id}/report`));
    expect(report.items).toHaveLength(40);
    expect(report.chain.verified).toBe(true);
    expect(report.chain.fromSeq).toBe(campaign.startedSeq);

    const res = await api(t).get(owner, `/v1/orgs/${orgId}/access-reviews/${campaign.id}/report?format=xlsx`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("spreadsheetml");
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer);
    const sheet = wb.getWorksheet("Items")!;
    const header = (sheet.getRow(1).values as unknown[]).slice(1);
    const col = (name: string) => header.indexOf(name) + 1;
    const rows: Array<Record<string, unknown>> = [];
    for (let r = 2; r <= sheet.rowCount; r++) {
      const row = sheet.getRow(r);
      rows.push({
        email: row.getCell(col("Email")).value,
        reviewerEmail: row.getCell(col("Reviewer email")).value,
        decision: row.getCell(col("Decision")).value,
        outcome: row.getCell(col("Outcome")).value,
        memberId: row.getCell(col("Member id")).value,
      });
    }
    expect(rows).toHaveLength(40);
    const reviewerEmails = new Set(reviewers.map((r) => r.email));
    for (const row of rows) {
      if (row.memberId === ownerMemberId) expect(row.reviewerEmail ?? null).toBeNull();
      else expect(reviewerEmails.has(String(row.reviewerEmail))).toBe(true);
    }
    expect(rows.filter((r) => r.decision === "revoke")).toHaveLength(22);
    expect(rows.filter((r) => r.decision === "not decided")).toHaveLength(14);

    const cover = wb.getWorksheet("Cover")!;
    const field = (name: string) => {
      for (let r = 1; r <= cover.rowCount; r++)
        if (cover.getRow(r).getCell(1).value === name) return cover.getRow(r).getCell(2).value;
      return undefined;
    };
    const fromSeq = Number(field("Audit chain from seq"));
    const toSeq = Number(field("Audit chain to seq"));
    expect(field("Hash at that seq")).toBe(report.chain.toHash);
    expect(field("Range verified")).toBe("yes");
    // The range holds the start, every decision, every applied change and the completion.
    const events = (await eventsOf(t, orgId)).filter((e) => e.seq >= fromSeq && e.seq <= toSeq);
    expect(events[0]!.action).toBe("access_review.started");
    expect(events.at(-1)!.action).toBe("access_review.completed");
    expect(events.at(-1)!.hash).toBe(report.chain.toHash);
    expect(events.filter((e) => e.action.startsWith("team."))).toHaveLength(24);
    const verify = json<{ ok: boolean; lastSeq: number }>(
      await api(t).get(owner, `/v1/orgs/${orgId}/audit-events/verify`),
    );
    expect(verify.ok).toBe(true);
    expect(verify.lastSeq).toBeGreaterThanOrEqual(toSeq);
  });

  it("lists the month's campaign and its outcome in the monthly compliance report", async () => {
    const month = t.clock.now().toISOString().slice(0, 7);
    const res = await api(t).get(owner, `/v1/orgs/${orgId}/reports/compliance?month=${month}`);
    expect(res.statusCode, res.body).toBe(200);
    const rows = json<{ accessReviews: Array<{ action: string; campaignId: string; detail: string }> }>(
      res,
    ).accessReviews;
    expect(rows.map((r) => [r.action, r.campaignId])).toEqual([
      ["access_review.started", campaign.id],
      ["access_review.completed", campaign.id],
    ]);
    expect(rows[1]!.detail).toContain("24 changes applied");
  });
});

describe(`access reviews in departments (${engine})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => t.close());

  it("a department admin reviews their department only and cannot decide outside it", async () => {
    const owner = await signUp(t.app, `sa.${Date.now()}@example.com`, "Super");
    const org = await createOrg(t.app, owner, "departments", "Dept Co");
    const salesAdmin = await addMember(t, org.id, "admin", { department: "sales" });
    const salesAdmin2 = await addMember(t, org.id, "admin", { department: "sales" });
    await addMember(t, org.id, "admin", { department: "finance" });
    for (let i = 0; i < 3; i++) await addMember(t, org.id, "user", { department: "sales" });
    for (let i = 0; i < 2; i++) await addMember(t, org.id, "user", { department: "finance" });
    const res = await api(t).post(owner, `/v1/orgs/${org.id}/access-reviews`, {
      name: "Dept review",
      dueAt: new Date(t.clock.now().getTime() + 7 * DAY).toISOString(),
    });
    expect(res.statusCode, res.body).toBe(201);
    const c = json<CampaignOut>(res);
    const seen = await allItems(t, salesAdmin.session, org.id, c.id);
    // Sales users and the sales admin's own item (reviewed by the super admin), nothing from finance.
    expect(seen.map((i) => i.email).every((e) => !e.startsWith("finance"))).toBe(true);
    expect(seen.filter((i) => i.role === "user")).toHaveLength(3);
    const all = await allItems(t, owner, org.id, c.id);
    const finance = all.find((i) => i.role === "user" && !seen.some((s) => s.id === i.id))!;
    const outside = await api(t).post(
      salesAdmin.session,
      `/v1/orgs/${org.id}/access-reviews/${c.id}/items/${finance.id}/decision`,
      {
        decision: "revoke",
      },
    );
    expect(outside.statusCode).toBe(404);
    // A peer's item is assigned to the super admin: deciding it needs access_review:manage.
    const peer = seen.find((i) => i.memberId === salesAdmin2.memberId)!;
    expect(peer.reviewerId).not.toBe(salesAdmin.memberId);
    const notMine = await api(t).post(
      salesAdmin.session,
      `/v1/orgs/${org.id}/access-reviews/${c.id}/items/${peer.id}/decision`,
      {
        decision: "keep",
      },
    );
    expect(notMine.statusCode).toBe(403);
    expect(json<ErrorJson>(notMine).error.requiredPermission).toBe("access_review:manage");
    const mine = seen.find((i) => i.role === "user")!;
    expect(mine.reviewerId).toBe(salesAdmin.memberId);
    const ok = await api(t).post(
      salesAdmin.session,
      `/v1/orgs/${org.id}/access-reviews/${c.id}/items/${mine.id}/decision`,
      {
        decision: "revoke",
      },
    );
    expect(ok.statusCode, ok.body).toBe(200);
    // Starting or completing needs access_review:manage, which department admins do not hold.
    const complete = await api(t).post(salesAdmin.session, `/v1/orgs/${org.id}/access-reviews/${c.id}/complete`);
    expect(complete.statusCode).toBe(403);
    expect(json<ErrorJson>(complete).error.requiredPermission).toBe("access_review:manage");
  });
});

describe(`scheduled access reviews (${engine})`, () => {
  let dbA: Database;
  let dbB: Database;
  let drop: () => Promise<void>;
  const clock = new FakeClock("2026-03-01T09:00:00.000Z");
  let depsA: AppDeps;
  let depsB: AppDeps;
  const mailer = new MemoryMailer();

  beforeAll(async () => {
    const scratch = await scratchDatabase(process.env.DATABASE_URL, { prefix: "roster_t", poolSize: 10 });
    dbA = scratch.db;
    // A second instance: its own connections to the same PostgreSQL database (PGlite has one process).
    dbB = scratch.url ? await openDatabase({ databaseUrl: scratch.url, poolSize: 10 }) : scratch.db;
    drop = async () => {
      if (dbB !== dbA) await dbB.close();
      await scratch.drop();
    };
    depsA = { db: dbA, config: testConfig(), clock, mailer, logger: false };
    depsB = { db: dbB, config: testConfig(), clock, mailer, logger: false };
  });
  afterAll(async () => drop());

  it("starts one campaign per period with two instances running, and reminds reviewers once, 3 days before it is due", async () => {
    const app = await createApp(depsA);
    const t = { app, deps: depsA, clock, mailer, db: dbA, close: async () => app.close() } as TestApp;
    const owner = await signUp(app, `sched.${Date.now()}@example.com`, "Sched Owner");
    const org = await createOrg(app, owner, "saas", "Sched Co");
    await addMember(t, org.id, "admin");
    for (let i = 0; i < 3; i++) await addMember(t, org.id, "member");
    const set = await api(t).patch(owner, `/v1/orgs/${org.id}/security`, { accessReviewEveryDays: 30 });
    expect(set.statusCode, set.body).toBe(200);
    const campaigns = () =>
      dbA.tx({ orgId: org.id }, (tx) => tx.select().from(accessReviews).where(eq(accessReviews.orgId, org.id)));

    // The job body itself, raced by both instances (the database's unique period decides) …
    await Promise.all([accessReviewJob.run(depsA), accessReviewJob.run(depsB), accessReviewJob.run(depsA)]);
    expect(await campaigns()).toHaveLength(1);
    // … and through the scheduler, which both instances tick.
    await Promise.all([
      runDueJobs(depsA, [accessReviewJob], { owner: "a" }),
      runDueJobs(depsB, [accessReviewJob], { owner: "b" }),
    ]);
    expect(await campaigns()).toHaveLength(1);
    clock.advance(10 * DAY);
    await Promise.all([accessReviewJob.run(depsA), accessReviewJob.run(depsB)]);
    expect(await campaigns()).toHaveLength(1);

    // 14 days to go from the start: 3 days before due, each reviewer with pending items gets one reminder.
    clock.advance(2 * DAY);
    const [first] = await campaigns();
    const dueIn = first!.dueAt.getTime() - clock.now().getTime();
    if (dueIn > 3 * DAY) clock.advance(dueIn - 3 * DAY + 60_000);
    const sent = await Promise.all([sendReminders(depsA), sendReminders(depsB)]);
    expect(sent[0] + sent[1]).toBeGreaterThanOrEqual(1);
    expect(await sendReminders(depsA)).toBe(0);
    const mail = await deliverMail(t);
    expect(mail.some((m) => m.subject.startsWith("Access review due"))).toBe(true);

    clock.advance(30 * DAY);
    await Promise.all([accessReviewJob.run(depsA), accessReviewJob.run(depsB)]);
    const all = await campaigns();
    expect(all).toHaveLength(2);
    expect(new Set(all.map((c) => c.schedulePeriod)).size).toBe(2);
    const items = await dbA.tx({ orgId: org.id }, (tx) =>
      tx
        .select()
        .from(members)
        .where(and(eq(members.orgId, org.id), eq(members.status, "active"))),
    );
    expect(items).toHaveLength(5);
    await app.close();
  });
});
