import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/database.ts";
import { auditEvents, members, organizations } from "../src/db/schema.ts";
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
  await addMember(t, orgB, "staff");
});
afterAll(async () => t.close());

describe(`row-level security (${engine})`, () => {
  it("a query without any org condition sees only the bound org's rows", async () => {
    const rows = await t.db.tx({ orgId: orgA }, (tx) => tx.select({ orgId: members.orgId }).from(members));
    expect(rows.length).toBe(2);
    expect(new Set(rows.map((r) => r.orgId))).toEqual(new Set([orgA]));
    const orgs = await t.db.tx({ orgId: orgB }, (tx) => tx.select({ id: organizations.id }).from(organizations));
    expect(orgs.map((o) => o.id)).toEqual([orgB]);
    const events = await t.db.tx({ orgId: orgB }, (tx) => tx.select({ orgId: auditEvents.orgId }).from(auditEvents));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.orgId === orgB)).toBe(true);
  });

  it("with no org bound, org-scoped tables return no rows", async () => {
    const counts = await t.db.tx({}, async (tx) => ({
      members: (await tx.select().from(members)).length,
      orgs: (await tx.select().from(organizations)).length,
      events: (await tx.select().from(auditEvents)).length,
    }));
    expect(counts).toEqual({ members: 0, orgs: 0, events: 0 });
  });

  it("cannot write another org's rows even by naming them", async () => {
    const updated = await t.db.tx({ orgId: orgA }, (tx) =>
      tx.execute(sql`UPDATE members SET role = 'owner' WHERE org_id = ${orgB} RETURNING id`),
    );
    expect(rowsOf(updated).length).toBe(0);
    await expect(
      t.db.tx({ orgId: orgA }, (tx) =>
        tx.execute(
          sql`INSERT INTO organizations (id, name, policy, created_at, updated_at) VALUES ('org_forged', 'x', 'saas', now(), now())`,
        ),
      ),
    ).rejects.toThrow();
  });

  it("runs as a role that is neither superuser nor able to bypass row-level security", async () => {
    const row = await t.db.tx({}, (tx) =>
      tx.execute(sql`SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`),
    );
    expect(rowsOf(row)[0]).toEqual({ current_user: "roster_app", rolsuper: false, rolbypassrls: false });
  });

  it("the application role cannot update or delete audit events", async () => {
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => "succeeded",
        (e: Error & { cause?: Error }) => String(e.cause?.message ?? e.message),
      );
    expect(
      await failure(
        t.db.tx({ orgId: orgA }, (tx) =>
          tx.execute(sql`UPDATE audit_events SET action = 'forged' WHERE org_id = ${orgA}`),
        ),
      ),
    ).toMatch(/permission denied/);
    expect(
      await failure(t.db.tx({ orgId: orgA }, (tx) => tx.execute(sql`DELETE FROM audit_events WHERE org_id = ${orgA}`))),
    ).toMatch(/permission denied/);
  });
});
