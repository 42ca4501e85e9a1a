// Member export at 100,000 members: the CSV parses back row for row, the XLSX opens with a real reader.
// (Memory is measured by `npm run bench -- export`, not here.)
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse";
import ExcelJS from "exceljs";
import { sql } from "drizzle-orm";
import { createOrg, engine, signUp, testApp, uniqueEmail, type Session, type TestApp } from "./helpers.ts";
import { api } from "./members.helpers.ts";
import { EXPORT_COLUMNS } from "../src/members/export.ts";
import { refreshStatistics } from "../src/members/statistics.ts";

const TOTAL = 100_000;
let t: TestApp;
let owner: Session;
let orgId: string;

/** Inserts `n` people and their memberships in one statement each, as the owner role (bulk setup, not the API). */
async function bulkMembers(orgId: string, n: number, tag: string): Promise<void> {
  await t.db.owner(async (d) => {
    await d.execute(sql`
      INSERT INTO users (id, email, name, password_hash, last_login_at, created_at, updated_at)
      SELECT 'usr_' || ${tag} || lpad(g::text, 7, '0'), ${tag} || '.' || g || '@example.com',
             CASE WHEN g % 1000 = 0 THEN '=HYPERLINK("http://evil.example")' ELSE 'Bulk Person ' || g END,
             NULL, CASE WHEN g % 3 = 0 THEN NULL ELSE timestamptz '2026-01-01T00:00:00Z' + g * interval '1 second' END,
             timestamptz '2025-12-01T00:00:00Z', timestamptz '2025-12-01T00:00:00Z'
      FROM generate_series(1, ${n}) AS g`);
    await d.execute(sql`
      INSERT INTO members (org_id, id, user_id, role, status, store_ids, created_at, updated_at)
      SELECT ${orgId}, 'mem_' || ${tag} || lpad(g::text, 7, '0'), 'usr_' || ${tag} || lpad(g::text, 7, '0'),
             CASE g % 3 WHEN 0 THEN 'staff' WHEN 1 THEN 'read_only' ELSE 'admin' END,
             CASE WHEN g % 10 = 0 THEN 'inactive' ELSE 'active' END,
             CASE WHEN g % 2 = 0 THEN ARRAY['retail', 'wholesale'] ELSE ARRAY['retail'] END,
             timestamptz '2025-12-01T00:00:00Z', timestamptz '2025-12-01T00:00:00Z'
      FROM generate_series(1, ${n}) AS g`);
  });
}

beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app, uniqueEmail("export-owner"), "Export Owner");
  orgId = (await createOrg(t.app, owner, "operations", "Big Co")).id;
  // The owner plus 99,999 more: 100,000 members in the org.
  await bulkMembers(orgId, TOTAL - 1, "bigco");
  // Another org's members must not leak into the export.
  const other = await signUp(t.app, uniqueEmail("other-owner"));
  await bulkMembers((await createOrg(t.app, other, "operations", "Other Co")).id, 50, "otherco");
  // What autovacuum (PostgreSQL) or the hourly statistics job (embedded PGlite) does after a bulk load.
  if (engine === "pglite") expect(await refreshStatistics(t.deps)).toBe(true);
  else for (const table of ["members", "users"]) await t.db.owner((d) => d.execute(sql.raw(`ANALYZE ${table}`)));
}, 300_000);
afterAll(async () => t.close());

describe(`export of ${TOTAL.toLocaleString("en")} members (${engine})`, () => {
  it(
    "CSV parses back to 100,000 rows with the contract's columns, neutralised formulas, this org only",
    { timeout: 300_000 },
    async () => {
      const res = await api(t).get(owner, `/v1/orgs/${orgId}/members/export?format=csv&status=all`);
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-disposition"]).toMatch(/attachment/);
      let rows = 0;
      let formulas = 0;
      let inactive = 0;
      const seen = new Set<string>();
      const parser = Readable.from([res.rawPayload]).pipe(parse({ columns: true }));
      for await (const row of parser as AsyncIterable<Record<string, string>>) {
        if (rows === 0) expect(Object.keys(row)).toEqual([...EXPORT_COLUMNS]);
        rows++;
        seen.add(row.email!);
        if (row.name!.startsWith("'=")) formulas++;
        if (/^[=+\-@\t\r]/.test(row.name!)) throw new Error(`formula left active: ${row.name}`);
        if (row.status === "inactive") inactive++;
        if (row.email!.startsWith("otherco.")) throw new Error("another org's member in the export");
      }
      expect(rows).toBe(TOTAL);
      expect(seen.size).toBe(TOTAL);
      expect(formulas).toBe(99);
      expect(inactive).toBe(9_999);
    },
  );

  it("XLSX opens with exceljs's reader and has 100,000 data rows", { timeout: 300_000 }, async () => {
    const res = await api(t).get(owner, `/v1/orgs/${orgId}/members/export?format=xlsx&status=all`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("spreadsheetml");
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([res.rawPayload]), {
      worksheets: "emit",
      sharedStrings: "cache",
      styles: "ignore",
      hyperlinks: "ignore",
      entries: "ignore",
    });
    let header: unknown[] = [];
    let rows = 0;
    let sample: unknown[] = [];
    for await (const sheet of reader) {
      for await (const row of sheet as AsyncIterable<ExcelJS.Row>) {
        const values = (row.values as unknown[]).slice(1);
        if (row.number === 1) header = values;
        else {
          rows++;
          if (rows === 1000) sample = values;
        }
      }
    }
    expect(header).toEqual([...EXPORT_COLUMNS]);
    expect(rows).toBe(TOTAL);
    expect(sample.length).toBeGreaterThanOrEqual(6);
  });
});
