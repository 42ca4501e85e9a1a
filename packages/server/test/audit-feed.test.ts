import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { sql } from "drizzle-orm";
import { record } from "../src/audit/record.ts";
import { rowsOf } from "../src/db/database.ts";
import {
  addMember,
  bearer,
  createOrg,
  engine,
  json,
  signUp,
  testApp,
  GOOD_PASSWORD,
  type Session,
  type TestApp,
} from "./helpers.ts";

let t: TestApp;
let owner: Session;
let orgId: string;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app);
  orgId = (await createOrg(t.app, owner, "saas", "Feed org")).id;
});
afterAll(async () => t.close());

type Ev = {
  seq: number;
  action: string;
  actorId: string | null;
  targetId: string | null;
  entityType: string;
  after: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  hash: string;
  prevHash: string;
};
type Page = { data: Ev[]; nextCursor: string | null };
const get = (url: string, s: Session = owner, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "GET", url, headers: { ...bearer(s), ...headers } });

async function append(
  n: number,
  action: "organization.updated" | "security.updated" = "organization.updated",
  extra: { actorId?: string; targetId?: string } = {},
) {
  for (let i = 0; i < n; i++) {
    t.clock.advance(1000);
    await t.db.tx({ orgId }, (tx) =>
      record(tx, orgId, t.clock.now(), {
        action,
        actorId: extra.actorId ?? owner.user.id,
        targetId: extra.targetId ?? orgId,
        entityType: action.split(".")[0]!,
        after: { i },
        ip: "203.0.113.5",
        userAgent: "feed-test",
      }),
    );
  }
}

describe(`audit feed (${engine})`, () => {
  it("lists newest first and pages with a cursor until nextCursor is null", async () => {
    await append(7);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/v1/orgs/${orgId}/audit-events?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.statusCode).toBe(200);
      const body = json<Page>(res);
      seen.push(...body.data.map((e) => e.seq));
      cursor = body.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    const head = Math.max(...seen);
    expect(seen).toEqual(Array.from({ length: head }, (_, i) => head - i));
  });

  it("filters by action, actor, target, entity type and time range", async () => {
    const other = await addMember(t, orgId, "member");
    const start = new Date(t.clock.now().getTime() + 1).toISOString();
    await append(2, "security.updated", { actorId: other.userId, targetId: "thing_1" });
    const end = t.clock.now().toISOString();
    await append(1);
    const q = async (qs: string) => json<Page>(await get(`/v1/orgs/${orgId}/audit-events?${qs}`)).data;
    expect((await q("action=security.updated")).map((e) => e.action)).toEqual(["security.updated", "security.updated"]);
    expect((await q(`actorId=${other.userId}`)).length).toBe(2);
    expect((await q("targetId=thing_1")).length).toBe(2);
    expect((await q("entityType=security")).length).toBe(2);
    const ranged = await q(`from=${encodeURIComponent(start)}&to=${encodeURIComponent(end)}`);
    expect(ranged.map((e) => e.action)).toEqual(["security.updated", "security.updated"]);
  });

  it("a time range finds exactly its events, with any cursor, when times are not in seq order", async () => {
    // Racing requests or two instances' clocks can write a later seq with an earlier time: the range is on the
    // time, whatever the order of seq (the hourly marks of migration 0013 must bound, never cut).
    const base = t.clock.now().getTime();
    const H = 3_600_000;
    for (const offset of [5 * H, H, 3 * H + 59 * 60_000, H + 10 * 60_000, -2 * H, 7 * H, 3 * H, -2 * H + 1, 2 * H]) {
      await t.db.tx({ orgId }, (tx) =>
        record(tx, orgId, new Date(base + offset), {
          action: "security.updated",
          actorId: owner.user.id,
          targetId: "ranged",
          entityType: "security",
          after: { offset },
        }),
      );
    }
    const all = rowsOf<{ seq: string | number; created_at: Date | string; target_id: string | null }>(
      await t.db.owner((db) =>
        db.execute(sql`SELECT seq, created_at, target_id FROM audit_events WHERE org_id = ${orgId}`),
      ),
    ).map((r) => ({ seq: Number(r.seq), at: new Date(r.created_at).getTime(), target: r.target_id }));
    const windows: Array<[number | null, number | null]> = [
      [base + H, base + 3 * H + 59 * 60_000],
      [base - 2 * H, base - 2 * H],
      [base + 2 * H, null],
      [null, base + H + 10 * 60_000],
      [base - 3 * H, base + 8 * H],
      [base + 8 * H, base + 9 * H],
    ];
    for (const [from, to] of windows) {
      const expected = all
        .filter((e) => (from === null || e.at >= from) && (to === null || e.at <= to))
        .sort((a, b) => b.seq - a.seq);
      const range = [
        from === null ? "" : `&from=${encodeURIComponent(new Date(from).toISOString())}`,
        to === null ? "" : `&to=${encodeURIComponent(new Date(to).toISOString())}`,
      ].join("");
      for (const extra of ["", "&targetId=ranged"]) {
        const seen: number[] = [];
        let cursor: string | null = null;
        do {
          const res = await get(
            `/v1/orgs/${orgId}/audit-events?limit=2${range}${extra}${cursor ? `&cursor=${cursor}` : ""}`,
          );
          expect(res.statusCode).toBe(200);
          const body = json<Page>(res);
          seen.push(...body.data.map((e) => e.seq));
          cursor = body.nextCursor;
        } while (cursor);
        const want = expected.filter((e) => !extra || e.target === "ranged").map((e) => e.seq);
        expect(seen, `${range}${extra}`).toEqual(want);
        if (to !== null && from !== null && to >= base - 2 * H && from <= base + 7 * H)
          expect(want.length).toBeGreaterThan(0);
      }
    }
  });

  it("answers 400 for a bad cursor, a bad time or an inverted range", async () => {
    for (const qs of [
      "cursor=nonsense",
      "from=yesterday",
      "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
      "limit=0",
      "bogus=1",
    ]) {
      const res = await get(`/v1/orgs/${orgId}/audit-events?${qs}`);
      expect(res.statusCode, qs).toBe(400);
      expect(json<{ error: { type: string } }>(res).error.type).toBe("invalid_request_error");
    }
  });

  it("needs audit_log:read, and another org's log answers 404", async () => {
    const plain = await addMember(t, orgId, "member");
    const res = await get(`/v1/orgs/${orgId}/audit-events`, plain.session);
    expect(res.statusCode).toBe(403);
    expect(json<{ error: { requiredPermission: string } }>(res).error.requiredPermission).toBe("audit_log:read");
    expect((await get(`/v1/orgs/${orgId}/audit-events/export`, plain.session)).statusCode).toBe(403);
    expect((await get(`/v1/orgs/${orgId}/audit-events/verify`, plain.session)).statusCode).toBe(403);
    const stranger = await signUp(t.app);
    await createOrg(t.app, stranger, "saas");
    expect((await get(`/v1/orgs/${orgId}/audit-events`, stranger)).statusCode).toBe(404);
    expect((await get(`/v1/orgs/${orgId}/audit-events/export`, stranger)).statusCode).toBe(404);
  });

  it("a department admin reads only the events about their department's people", async () => {
    const boss = await signUp(t.app);
    const dorg = (await createOrg(t.app, boss, "departments", "Dept org")).id;
    const admin = await addMember(t, dorg, "admin", { department: "sales" });
    const seller = await addMember(t, dorg, "user", { department: "sales" });
    const techie = await addMember(t, dorg, "user", { department: "tech" });
    for (const m of [seller, techie]) {
      await t.db.tx({ orgId: dorg }, (tx) =>
        record(tx, dorg, t.clock.now(), {
          action: "team.role_changed",
          actorId: boss.user.id,
          targetId: m.memberId,
          entityType: "team",
          before: { role: "user" },
          after: { role: "user" },
        }),
      );
    }
    const res = await get(`/v1/orgs/${dorg}/audit-events`, admin.session);
    expect(res.statusCode).toBe(200);
    const targets = json<Page>(res).data.map((e) => e.targetId);
    expect(targets).toContain(seller.memberId);
    expect(targets).not.toContain(techie.memberId);
    expect((await get(`/v1/orgs/${dorg}/audit-events`, boss)).json<Page>().data.map((e) => e.targetId)).toContain(
      techie.memberId,
    );
  });
});

describe(`audit export (${engine})`, () => {
  it("streams JSONL in seq order with the hashed fields", async () => {
    const res = await get(`/v1/orgs/${orgId}/audit-events/export?format=jsonl`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/application\/x-ndjson/);
    expect(res.headers["content-disposition"]).toMatch(/attachment; filename="audit-/);
    const lines = res.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Ev & { orgId: string });
    expect(lines.map((e) => e.seq)).toEqual(lines.map((_, i) => i + 1));
    expect(lines[0]).toMatchObject({ orgId, seq: 1, action: "organization.created", prevHash: "0".repeat(64) });
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.prevHash).toBe(lines[i - 1]!.hash);
  });

  it("CSV neutralises cells a spreadsheet would run as formulas", async () => {
    t.clock.advance(1000);
    const res0 = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${orgId}`,
      headers: { ...bearer(owner), "user-agent": '=HYPERLINK("http://evil")' },
      payload: { name: "Renamed" },
    });
    expect(res0.statusCode).toBe(200);
    const res = await get(`/v1/orgs/${orgId}/audit-events/export?format=csv&action=organization.updated`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/csv/);
    const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
    const renamed = rows.find((r) => r.after === JSON.stringify({ name: "Renamed" }));
    expect(renamed?.userAgent).toBe('\'=HYPERLINK("http://evil")');
    expect(rows.every((r) => r.action === "organization.updated")).toBe(true);
    expect(Object.keys(rows[0]!)).toEqual([
      "seq",
      "id",
      "createdAt",
      "action",
      "actorId",
      "targetId",
      "entityType",
      "before",
      "after",
      "ip",
      "userAgent",
      "prevHash",
      "hash",
    ]);
  });

  it("refuses an unknown format", async () => {
    expect((await get(`/v1/orgs/${orgId}/audit-events/export?format=xml`)).statusCode).toBe(400);
  });
});

describe(`audit verify endpoint (${engine})`, () => {
  it("answers ok with the head, then the first bad seq once a row is edited", async () => {
    const ok = json<{ ok: boolean; lastSeq: number; lastHash: string }>(
      await get(`/v1/orgs/${orgId}/audit-events/verify`),
    );
    expect(ok).toMatchObject({ ok: true });
    const head = rowsOf<{ last_seq: string; last_hash: string }>(
      await t.db.owner((db) => db.execute(sql`SELECT last_seq, last_hash FROM audit_heads WHERE org_id = ${orgId}`)),
    )[0]!;
    expect(ok.lastSeq).toBe(Number(head.last_seq));
    expect(ok.lastHash).toBe(head.last_hash);
    await t.db.owner((db) =>
      db.execute(sql`UPDATE audit_events SET ip = '198.51.100.7' WHERE org_id = ${orgId} AND seq = 3`),
    );
    expect(json(await get(`/v1/orgs/${orgId}/audit-events/verify`))).toMatchObject({
      ok: false,
      brokenAtSeq: 3,
      reason: "edited",
    });
    await t.db.owner((db) =>
      db.execute(sql`UPDATE audit_events SET ip = '203.0.113.5' WHERE org_id = ${orgId} AND seq = 3`),
    );
    expect(json(await get(`/v1/orgs/${orgId}/audit-events/verify`))).toMatchObject({ ok: true });
  });
});

describe(`sign-in attempts (${engine})`, () => {
  it("are recorded in every org of the user, failures with their reason, IP and user agent", async () => {
    const person = await signUp(t.app);
    const a = (await createOrg(t.app, person, "saas", "A")).id;
    const b = (await createOrg(t.app, person, "operations", "B")).id;
    const ua = { "user-agent": "SignInTest/1.0" };
    const bad = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      headers: ua,
      payload: { email: person.user.email, password: "wrong password here" },
    });
    expect(bad.statusCode).toBe(401);
    const good = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      headers: ua,
      payload: { email: person.user.email, password: GOOD_PASSWORD },
    });
    expect(good.statusCode).toBe(200);
    for (const org of [a, b]) {
      const events = json<Page>(await get(`/v1/orgs/${org}/audit-events?entityType=auth`, person)).data;
      const failed = events.find((e) => e.action === "auth.sign_in_failed");
      const ok = events.find((e) => e.action === "auth.sign_in_succeeded");
      expect(failed).toMatchObject({
        actorId: person.user.id,
        targetId: person.user.id,
        after: { reason: "invalid_password" },
        ip: "127.0.0.1",
        userAgent: "SignInTest/1.0",
      });
      expect(ok).toMatchObject({ actorId: person.user.id, ip: "127.0.0.1", userAgent: "SignInTest/1.0" });
      expect(events.indexOf(ok!)).toBeLessThan(events.indexOf(failed!));
    }
    // An unknown email is recorded nowhere (there is no org to put it in) and answers the same.
    const unknown = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: "nobody.at.all@example.com", password: "wrong password here" },
    });
    expect(unknown.statusCode).toBe(401);
  });
});

describe("entity types", () => {
  it("the console's entity filter offers exactly the entity types the server records events with", async () => {
    // Every record() call in the server names its entity type as a literal (`entityType: "team"`).
    const src = join(import.meta.dirname, "..", "src");
    const written = new Set<string>();
    for (const file of readdirSync(src, { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
      for (const m of readFileSync(join(src, file), "utf8").matchAll(/\bentityType: "([a-z_]+)"/g)) written.add(m[1]!);
    }
    const { EVENT_PREFIXES } = await import("../../console/src/lib/audit-actions.ts");
    expect([...written].sort()).toEqual([...EVENT_PREFIXES].sort());
  });
});
