import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/database.ts";
import fc from "fast-check";
import pg from "pg";
import {
  BoundQueries,
  escapeLiteral,
  executeStatements,
  LARGE_VALUE,
  PreparedStatements,
  type Wire,
} from "../src/db/bound-client.ts";
import { members } from "../src/db/schema.ts";
import { addMember, createOrg, engine, signUp, testApp, type TestApp } from "./helpers.ts";

let t: TestApp;
let orgA: string;
let orgB: string;
beforeAll(async () => {
  t = await testApp();
  const a = await signUp(t.app);
  const b = await signUp(t.app);
  orgA = (await createOrg(t.app, a, "saas", "A")).id;
  orgB = (await createOrg(t.app, b, "operations", "B")).id;
  await addMember(t, orgA, "member");
});
afterAll(async () => t.close());

/** The database's own message, under drizzle's "Failed query" wrapper. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return e.cause?.message ?? e.message;
  }
  throw new Error("expected a failure");
}

const who = sql`SELECT current_user AS role, current_setting('roster.org_id', true) AS org`;

describe("statements as prepared on a connection", () => {
  it("prepares a text once, then only executes it, with parameters as literals the server reads back", () => {
    const prepared = new PreparedStatements();
    const text = "SELECT $1::text AS a, $2::int AS b";
    const first = executeStatements(prepared, text, ["it's \\ here", 7]);
    expect(first).toHaveLength(2);
    expect(first[0]).toMatch(/^PREPARE rq_[0-9a-f]{24} AS SELECT \$1::text/);
    expect(first[1]).toContain(` E'it''s \\\\ here', '7')`);
    const again = executeStatements(prepared, text, [null, 8]);
    expect(again).toEqual([first[1]!.replace(/\(.*\)$/, "(NULL, '8')")]);
  });

  it("writes every text literal as the driver does (property), a large one included", () => {
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom("'", "\\", "a", "E", " ", "\n", "é", "😀") }),
      fc.string({ unit: "binary" }),
    );
    fc.assert(fc.property(text, (s) => escapeLiteral(s) === pg.escapeLiteral(s)));
    const large = `{"q":"it's","b":"\\"}`.repeat(200_000);
    expect(escapeLiteral(large)).toBe(pg.escapeLiteral(large));
  });

  it("drops the least recently used statement beyond its limit", () => {
    const prepared = new PreparedStatements(2);
    executeStatements(prepared, "SELECT 1", []);
    executeStatements(prepared, "SELECT 2", []);
    executeStatements(prepared, "SELECT 1", []); // most recent now
    const third = executeStatements(prepared, "SELECT 3", []);
    expect(third[0]).toMatch(/^DEALLOCATE rq_/);
    expect(prepared.names.size).toBe(2);
    expect(executeStatements(prepared, "SELECT 1", [])).toHaveLength(1);
    const back = executeStatements(prepared, "SELECT 2", []); // "SELECT 3" is now the least recently used
    expect(back.map((x) => x.split(" ")[0])).toEqual(["DEALLOCATE", "PREPARE", "EXECUTE"]);
  });

  it("sends a text value of a megabyte or more as a parameter in a transaction, never inside a read's message", async () => {
    const sent: Array<{ kind: "message" | "plain"; text: string; values?: unknown[] }> = [];
    const wire: Wire<undefined, string> = {
      message: async (text) => {
        sent.push({ kind: "message", text });
        return ["ok"];
      },
      plain: async (text, values) => {
        sent.push({ kind: "plain", text, values: values ?? [] });
        return "ok";
      },
      preparedNames: async () => [],
    };
    const large = "x".repeat(LARGE_VALUE);
    const insert = "INSERT INTO t (a, b) VALUES ($1, $2)";
    const tx = new BoundQueries(wire, new PreparedStatements(), "BEGIN", false);
    await tx.run(insert, ["small", large], undefined);
    await tx.run(insert, ["small", "also small"], undefined);
    expect(sent.map((m) => m.kind)).toEqual(["message", "plain", "message"]);
    expect(sent[0]!.text).toBe("BEGIN");
    expect(sent[1]).toEqual({ kind: "plain", text: insert, values: ["small", large] });
    expect(sent[2]!.text).toMatch(/^PREPARE rq_\w+ AS INSERT .*;\nEXECUTE rq_\w+\('small', 'also small'\)$/);
    // A read outside a transaction carries its binding in each message, so the value stays a literal there.
    sent.length = 0;
    const read = new BoundQueries(wire, new PreparedStatements(), "SET LOCAL x = 1", true);
    await read.run("SELECT $1::text", [large], undefined);
    expect(sent.map((m) => m.kind)).toEqual(["message"]);
    expect(sent[0]!.text.startsWith("SET LOCAL x = 1;\nPREPARE rq_")).toBe(true);
    expect(sent[0]!.text.endsWith(`('${large}')`)).toBe(true);
  });
});

describe(`reads outside a transaction (${engine})`, () => {
  it("bind the scope for the query only: rows of the bound org, then nothing left on the connection", async () => {
    const rows = await t.db.read({ orgId: orgA }, (tx) => tx.select({ orgId: members.orgId }).from(members));
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.orgId === orgA)).toBe(true);
    const inside = await t.db.read({ orgId: orgB }, (tx) => tx.execute(who));
    expect(rowsOf(inside)[0]).toEqual({ role: "roster_app", org: orgB });
    // Many reads later, every connection is back to its owner role with no org bound.
    for (let i = 0; i < 30; i++) {
      const after = await t.db.owner((db) => db.execute(who));
      expect(rowsOf<{ role: string; org: string | null }>(after)[0]?.role).not.toBe("roster_app");
      expect(rowsOf<{ org: string | null }>(after)[0]?.org ?? "").toBe("");
    }
  });

  it("each query of a read carries the binding, and concurrent reads never see each other's scope", async () => {
    const seen = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const org = i % 2 ? orgA : orgB;
        return t.db.read({ orgId: org }, async (tx) => {
          const one = rowsOf<{ org: string }>(await tx.execute(who))[0]!.org;
          const two = rowsOf<{ org: string }>(await tx.execute(who))[0]!.org;
          return one === org && two === org;
        });
      }),
    );
    expect(seen.every(Boolean)).toBe(true);
  });

  it("are read-only: a write inside a read fails and changes nothing", async () => {
    expect(
      await failure(
        t.db.read({ orgId: orgA }, (tx) => tx.execute(sql`UPDATE members SET role = 'owner' WHERE org_id = ${orgA}`)),
      ),
    ).toMatch(/read-only/);
    const owners = await t.db.read({ orgId: orgA }, (tx) =>
      tx
        .select({ role: members.role })
        .from(members)
        .where(sql`${members.role} = 'owner'`),
    );
    expect(owners).toHaveLength(1);
  });
});

describe(`transactions with the binding sent along with the first query (${engine})`, () => {
  it("roll back every write when the function throws after them", async () => {
    await expect(
      t.db.tx({ orgId: orgA }, async (tx) => {
        await tx.execute(sql`UPDATE members SET department = 'rolled back' WHERE org_id = ${orgA}`);
        throw new Error("stop");
      }),
    ).rejects.toThrow("stop");
    const rows = await t.db.read({ orgId: orgA }, (tx) => tx.select({ department: members.department }).from(members));
    expect(rows.some((r) => r.department === "rolled back")).toBe(false);
  });

  it("send a value of a megabyte or more as a parameter of its own, and read it back whole", async () => {
    const large = `'\\\u00e9${"x".repeat(LARGE_VALUE)}`;
    const back = await t.db.tx({ orgId: orgA }, async (tx) => {
      const r = await tx.execute(sql`SELECT ${large}::text AS v, current_setting('roster.org_id', true) AS org`);
      return rowsOf<{ v: string; org: string }>(r)[0]!;
    });
    expect(back.org).toBe(orgA);
    expect(back.v).toBe(large);
  });

  it("recover from a failed statement that prepared something: the next use of the text works", async () => {
    const failing = sql`SELECT 1 / ${0}::int AS x`;
    for (let i = 0; i < 3; i++) {
      expect(await failure(t.db.tx({ orgId: orgA }, (tx) => tx.execute(failing)))).toMatch(/division by zero/);
      expect(await failure(t.db.read({ orgId: orgA }, (tx) => tx.execute(failing)))).toMatch(/division by zero/);
    }
    const ok = await t.db.tx({ orgId: orgA }, (tx) => tx.execute(sql`SELECT 1 / ${1}::int AS x`));
    expect(rowsOf(ok)[0]).toEqual({ x: 1 });
    const okRead = await t.db.read({ orgId: orgA }, (tx) => tx.execute(sql`SELECT 1 / ${1}::int AS x`));
    expect(rowsOf(okRead)[0]).toEqual({ x: 1 });
  });
});
