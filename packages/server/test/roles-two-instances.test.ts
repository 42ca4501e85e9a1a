// A custom role changed through instance A: instance B answers with the new definition on the first request
// after the change's notification reached it (migration 0009, decision 0011). @see issue 14
import type { FastifyInstance, InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { openDatabase, type Database } from "../src/db/database.ts";
import { FakeClock } from "../src/lib/clock.ts";
import {
  addMember,
  bearer,
  createOrg,
  engine,
  freshDatabase,
  MemoryMailer,
  signUp,
  testConfig,
  type TestApp,
} from "./helpers.ts";

describe.skipIf(engine !== "postgres")("custom roles on two instances", () => {
  let A: FastifyInstance;
  let testA: TestApp;
  let B: { app: FastifyInstance; db: Database };
  let dropDatabase: () => Promise<void>;
  const clock = new FakeClock();

  beforeAll(async () => {
    const fresh = await freshDatabase();
    dropDatabase = fresh.close;
    const config = testConfig();
    const mailer = new MemoryMailer();
    A = await createApp({ db: fresh.db, config, clock, mailer, logger: false });
    testA = {
      app: A,
      deps: { db: fresh.db, config, clock, mailer },
      clock,
      mailer,
      db: fresh.db,
      close: async () => {},
    };
    const dbB = await openDatabase({ databaseUrl: fresh.url, poolSize: 5 });
    B = { app: await createApp({ db: dbB, config, clock, mailer, logger: false }), db: dbB };
  });
  afterAll(async () => {
    await B?.app.close();
    await B?.db.close();
    await A?.close();
    await dropDatabase?.();
  });

  const onB = async (opts: InjectOptions) => {
    await B.db.cacheSync();
    return B.app.inject(opts);
  };

  it("an edit on A changes B's next answer; a delete on A makes B refuse the role", async () => {
    const owner = await signUp(A);
    const org = await createOrg(A, owner, "billing");
    const create = await A.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/roles`,
      headers: bearer(owner),
      payload: { key: "billing_viewer", title: "Billing viewer", rank: 0.5, permissions: ["invoice:read"] },
    });
    expect(create.statusCode, create.body).toBe(201);
    const m = await addMember(testA, org.id, "billing_viewer");
    const ask = (action: string): InjectOptions => ({
      method: "POST",
      url: "/v1/authorize",
      headers: bearer(m.session),
      payload: { orgId: org.id, action, resource: { type: "invoice" } },
    });
    const allowed = async (action: string) => (await onB(ask(action))).json<{ allowed: boolean }>().allowed;

    expect(await allowed("void")).toBe(false);
    const hits = B.db.cache.stats.hits.policy;
    expect(await allowed("void")).toBe(false); // from B's cached policy
    expect(B.db.cache.stats.hits.policy).toBeGreaterThan(hits);

    const edit = await A.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/roles/billing_viewer`,
      headers: bearer(owner),
      payload: { permissions: ["invoice:read", "invoice:void"] },
    });
    expect(edit.statusCode, edit.body).toBe(200);
    expect(await allowed("void")).toBe(true);

    // the member gets another role, the role is deleted on A: B no longer knows it
    await A.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/members/${m.memberId}`,
      headers: bearer(owner),
      payload: { role: "customer_service" },
    });
    const del = await A.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/roles/billing_viewer`,
      headers: bearer(owner),
    });
    expect(del.statusCode, del.body).toBe(204);
    const roles = (await onB({ url: `/v1/orgs/${org.id}/roles`, headers: bearer(owner) })).json<{
      data: Array<{ key: string }>;
    }>().data;
    expect(roles.map((r) => r.key)).not.toContain("billing_viewer");
  });
});
