import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ExcelJS from "exceljs";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/database.ts";
import { complianceReportJob, finishedMonths, keepMonthlyReports } from "../src/reports/job.ts";
import { jobs } from "../src/jobs/registry.ts";
import type { ComplianceReport } from "../src/reports/compliance.ts";
import { bearer, createOrg, engine, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";
import { api, inviteAndAccept, signInAgain } from "./members.helpers.ts";

let t: TestApp;
let owner: Session;
let orgId: string;
const ids: Record<string, { memberId: string; userId: string; session: Session }> = {};
let dave: { id: string };
const ownerEmail = "report.owner@example.com";

const report = async (month: string, s: Session = owner, format = "json") =>
  t.app.inject({
    method: "GET",
    url: `/v1/orgs/${orgId}/reports/compliance?month=${month}&format=${format}`,
    headers: bearer(s),
  });
const failSignIn = (email: string) =>
  t.app.inject({
    method: "POST",
    url: "/v1/auth/sign-in",
    headers: { "user-agent": "report-test" },
    payload: { email, password: "definitely not it" },
  });
const at = async (iso: string) => {
  t.clock.set(iso);
  owner = await signInAgain(t, ownerEmail);
};

/**
 * January: the org is made and three people join. February: one role change, one deactivation, one removal, one
 * invitation revoked, three failed sign-ins. March (the running month): one more role change and a reactivation.
 */
beforeAll(async () => {
  t = await testApp();
  t.clock.set("2026-01-15T10:00:00.000Z");
  owner = await signUp(t.app, ownerEmail, "Olive Owner");
  orgId = (await createOrg(t.app, owner, "saas", "Report Org")).id;
  for (const [name, day] of [
    ["alice", "16"],
    ["bob", "17"],
    ["carol", "18"],
  ] as const) {
    await at(`2026-01-${day}T09:00:00.000Z`);
    ids[name] = await inviteAndAccept(
      t,
      owner,
      orgId,
      { email: `${name}.report@example.com`, role: "member" },
      `${name[0]!.toUpperCase()}${name.slice(1)} Example`,
    );
  }
  await at("2026-02-02T09:00:00.000Z");
  const inv = await api(t).post(owner, `/v1/orgs/${orgId}/invitations`, {
    email: "dave.report@example.com",
    role: "admin",
  });
  dave = json<{ id: string }>(inv);
  await at("2026-02-03T09:00:00.000Z");
  expect(
    (await api(t).patch(owner, `/v1/orgs/${orgId}/members/${ids.alice!.memberId}`, { role: "admin" })).statusCode,
  ).toBe(200);
  t.clock.advance(60_000);
  expect(
    (await api(t).patch(owner, `/v1/orgs/${orgId}/members/${ids.bob!.memberId}`, { status: "inactive" })).statusCode,
  ).toBe(200);
  t.clock.advance(60_000);
  expect((await api(t).del(owner, `/v1/orgs/${orgId}/members/${ids.carol!.memberId}`)).statusCode).toBe(200);
  t.clock.advance(60_000);
  expect((await api(t).post(owner, `/v1/orgs/${orgId}/invitations/${dave.id}/revoke`)).statusCode).toBe(200);
  t.clock.advance(60_000);
  expect((await failSignIn("alice.report@example.com")).statusCode).toBe(401);
  expect((await failSignIn("alice.report@example.com")).statusCode).toBe(401);
  expect((await failSignIn(ownerEmail)).statusCode).toBe(401);
  await at("2026-03-02T09:00:00.000Z");
  expect(
    (await api(t).patch(owner, `/v1/orgs/${orgId}/members/${ids.alice!.memberId}`, { role: "member" })).statusCode,
  ).toBe(200);
  expect(
    (await api(t).patch(owner, `/v1/orgs/${orgId}/members/${ids.bob!.memberId}`, { status: "active" })).statusCode,
  ).toBe(200);
  await at("2026-03-05T12:00:00.000Z");
});
afterAll(async () => t.close());

const memberRows = (r: ComplianceReport) =>
  r.members.map((m) => [m.name, m.role, m.status]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

describe(`compliance report (${engine})`, () => {
  it("lists exactly the month's role changes, revocations and failed sign-ins, and members as of its end", async () => {
    const res = await report("2026-02");
    expect(res.statusCode).toBe(200);
    const r = json<ComplianceReport>(res);
    expect(memberRows(r)).toEqual([
      ["Alice Example", "admin", "active"],
      ["Bob Example", "member", "inactive"],
      ["Carol Example", "member", "removed"],
      ["Olive Owner", "owner", "active"],
    ]);
    expect(r.roleChanges.map((c) => [c.memberName, c.fromRole, c.toRole, c.actorName])).toEqual([
      ["Alice Example", "member", "admin", "Olive Owner"],
    ]);
    expect(r.accessRevocations.map((x) => [x.action, x.subjectEmail])).toEqual([
      ["team.deactivated", "bob.report@example.com"],
      ["team.removed", "carol.report@example.com"],
      ["team.invite_revoked", "dave.report@example.com"],
    ]);
    expect(r.signInFailures).toMatchObject({ total: 3, byReason: { invalid_password: 3 } });
    expect(r.signInFailures.byUser.map((u) => [u.email, u.count])).toEqual([
      ["alice.report@example.com", 2],
      [ownerEmail, 1],
    ]);
  });

  it("has the chain's verification and the month's last seq and hash on its cover", async () => {
    const r = json<ComplianceReport>(await report("2026-02"));
    const last = rowsOf<{ seq: string; hash: string }>(
      await t.db.owner((db) =>
        db.execute(
          sql`SELECT seq, hash FROM audit_events WHERE org_id = ${orgId} AND created_at < '2026-03-01T00:00:00Z' ORDER BY seq DESC LIMIT 1`,
        ),
      ),
    )[0]!;
    expect(r.cover).toMatchObject({
      orgId,
      month: "2026-02",
      final: true,
      lastSeq: Number(last.seq),
      lastHash: last.hash,
      scope: "organization",
      verification: { ok: true },
    });
    const inFeb = rowsOf<{ n: number }>(
      await t.db.owner((db) =>
        db.execute(
          sql`SELECT count(*)::int AS n FROM audit_events WHERE org_id = ${orgId} AND created_at >= '2026-02-01T00:00:00Z' AND created_at < '2026-03-01T00:00:00Z'`,
        ),
      ),
    )[0]!;
    expect(r.cover.eventsInMonth).toBe(inFeb.n);
  });

  it("January shows who joined and nothing revoked", async () => {
    const r = json<ComplianceReport>(await report("2026-01"));
    expect(memberRows(r).map((m) => m.join(" "))).toEqual([
      "Alice Example member active",
      "Bob Example member active",
      "Carol Example member active",
      "Olive Owner owner active",
    ]);
    expect(r.roleChanges).toEqual([]);
    expect(r.accessRevocations).toEqual([]);
    expect(r.signInFailures.total).toBe(0);
  });

  it("the running month is built on demand and not kept; finished months are kept once", async () => {
    const r = json<ComplianceReport>(await report("2026-03"));
    expect(r.cover.final).toBe(false);
    expect(r.roleChanges.map((c) => [c.fromRole, c.toRole])).toEqual([["admin", "member"]]);
    expect(memberRows(r).find((m) => m[0] === "Bob Example")).toEqual(["Bob Example", "member", "active"]);
    const kept = rowsOf<{ month: string }>(
      await t.db.owner((db) =>
        db.execute(sql`SELECT month FROM compliance_reports WHERE org_id = ${orgId} ORDER BY month`),
      ),
    );
    expect(kept.map((k) => k.month)).toEqual(["2026-01", "2026-02"]);
    // Asked again later, the kept report comes back unchanged (same generatedAt).
    const first = json<ComplianceReport>(await report("2026-02"));
    t.clock.advance(3600_000);
    expect(json<ComplianceReport>(await report("2026-02")).cover.generatedAt).toBe(first.cover.generatedAt);
  });

  it("the request that keeps a finished month answers what is kept: later requests get the same report", async () => {
    await t.db.owner((db) =>
      db.execute(sql`DELETE FROM compliance_reports WHERE org_id = ${orgId} AND month = '2026-02'`),
    );
    const built = json<ComplianceReport>(await report("2026-02"));
    t.clock.advance(3600_000);
    const kept = json<ComplianceReport>(await report("2026-02"));
    expect(kept).toEqual(built);
    expect(kept.cover).toMatchObject({ final: true, month: "2026-02" });
  });

  it("the scheduled job keeps every finished month of every org", async () => {
    expect(jobs).toContain(complianceReportJob);
    expect(finishedMonths(new Date("2026-01-15T10:00:00Z"), new Date("2026-03-05T12:00:00Z"))).toEqual([
      "2026-01",
      "2026-02",
    ]);
    const s = await signUp(t.app);
    const other = (await createOrg(t.app, s, "operations", "Later Org")).id;
    t.clock.set("2026-05-01T00:30:00.000Z");
    expect(await keepMonthlyReports(t.deps)).toBeGreaterThanOrEqual(3);
    const kept = rowsOf<{ org_id: string; month: string }>(
      await t.db.owner((db) => db.execute(sql`SELECT org_id, month FROM compliance_reports ORDER BY org_id, month`)),
    );
    expect(kept.filter((k) => k.org_id === other).map((k) => k.month)).toEqual(["2026-03", "2026-04"]);
    expect(kept.filter((k) => k.org_id === orgId).map((k) => k.month)).toEqual([
      "2026-01",
      "2026-02",
      "2026-03",
      "2026-04",
    ]);
    expect(await keepMonthlyReports(t.deps)).toBe(0);
    t.clock.set("2026-03-05T12:00:00.000Z");
  });

  it("opens as XLSX with a real reader", async () => {
    const res = await report("2026-02", owner, "xlsx");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/spreadsheetml/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer);
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      "Cover",
      "Members",
      "Role changes",
      "Role definitions",
      "Access revocations",
      "Sign-in failures",
      "Access reviews",
    ]);
    const cover = new Map<string, unknown>();
    wb.getWorksheet("Cover")!.eachRow((row) => cover.set(row.getCell(1).text, row.getCell(2).value));
    const r = json<ComplianceReport>(await report("2026-02"));
    expect(cover.get("Last seq of the month")).toBe(r.cover.lastSeq);
    expect(cover.get("Last hash of the month")).toBe(r.cover.lastHash);
    expect(cover.get("Chain verification")).toBe("ok");
    expect(wb.getWorksheet("Members")!.rowCount).toBe(1 + 4);
    const roleRow = wb.getWorksheet("Role changes")!.getRow(2);
    expect([roleRow.getCell(3).value, roleRow.getCell(5).value, roleRow.getCell(6).value]).toEqual([
      "Alice Example",
      "member",
      "admin",
    ]);
    expect(wb.getWorksheet("Access revocations")!.rowCount).toBe(1 + 3);
  });

  it("kept reports cannot be changed or removed by the application role, nor read from another org", async () => {
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: Error & { cause?: Error }) => String(e.cause?.message ?? e.message),
      );
    expect(
      await fail(
        t.db.tx({ orgId }, (tx) => tx.execute(sql`UPDATE compliance_reports SET last_seq = 0 WHERE org_id = ${orgId}`)),
      ),
    ).toMatch(/permission denied/);
    expect(
      await fail(t.db.tx({ orgId }, (tx) => tx.execute(sql`DELETE FROM compliance_reports WHERE org_id = ${orgId}`))),
    ).toMatch(/permission denied/);
    const other = await signUp(t.app);
    const otherOrg = (await createOrg(t.app, other, "saas")).id;
    const seen = await t.db.tx({ orgId: otherOrg }, (tx) =>
      tx.execute(sql`SELECT month FROM compliance_reports WHERE org_id = ${orgId}`),
    );
    expect(rowsOf(seen)).toEqual([]);
  });

  it("needs report:read, refuses future or malformed months, and shows a broken chain on its cover", async () => {
    const plain = await signInAgain(t, "bob.report@example.com", "a long enough passphrase");
    const denied = await report("2026-02", plain);
    expect(denied.statusCode).toBe(403);
    expect(json<{ error: { requiredPermission: string } }>(denied).error.requiredPermission).toBe("report:read");
    expect((await report("2026-13")).statusCode).toBe(400);
    expect((await report("2026-2")).statusCode).toBe(400);
    const future = await report("2027-01");
    expect(future.statusCode).toBe(422);
    expect(json<{ error: { code: string; param: string } }>(future).error).toMatchObject({
      code: "invalid_value",
      param: "month",
    });
    await t.db.owner((db) =>
      db.execute(
        sql`UPDATE audit_events SET after = '{"role":"owner"}' WHERE org_id = ${orgId} AND action = 'team.role_changed' AND created_at >= '2026-03-01'`,
      ),
    );
    // A month not kept yet is built now, and its cover says the chain is broken.
    await at("2026-05-10T08:00:00.000Z");
    const r = json<ComplianceReport>(await report("2026-05"));
    expect(r.cover).toMatchObject({ final: false, verification: { ok: false, reason: "edited" } });
  });
});
