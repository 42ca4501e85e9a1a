import type { FastifyInstance, InjectOptions } from "fastify";
import { sql } from "drizzle-orm";
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
  GOOD_PASSWORD,
  json,
  MemoryMailer,
  signUp,
  testConfig,
  type Session,
  type TestApp,
} from "./helpers.ts";

/**
 * Two instances (two apps, two pools, two listening connections) on one PostgreSQL database: a change made
 * through A is refused by B on the first request after the change's notification reached B. `B.cacheSync()`
 * is that point made observable: it sends a marker through the database and waits for it on B's listening
 * connection, and PostgreSQL delivers notifications in commit order, so every change committed before the
 * marker has been applied to B's caches by then. Every "before" request on B is answered from B's cache (the
 * hit counters prove it), so a missed notification would show as a stale answer.
 */
describe.skipIf(engine !== "postgres")("two instances on one PostgreSQL", () => {
  let A: TestApp;
  let B: { app: FastifyInstance; db: Database };
  let dropDatabase: () => Promise<void>;

  beforeAll(async () => {
    const fresh = await freshDatabase();
    dropDatabase = fresh.close;
    const clock = new FakeClock();
    const config = testConfig();
    const mailer = new MemoryMailer();
    const appA = await createApp({ db: fresh.db, config, clock, mailer, logger: false });
    A = {
      app: appA,
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
    await A?.app.close();
    await dropDatabase?.();
  });

  /** A request on B after everything committed so far has reached B. */
  const onB = async (opts: InjectOptions) => {
    await B.db.cacheSync();
    return B.app.inject(opts);
  };
  const hits = () => {
    const h = B.db.cache.stats.hits;
    return h.session + h.org_member + h.api_key + h.member_read + h.my_memberships;
  };
  /** Asks B twice; the second answer must come from its caches. */
  async function warm(opts: InjectOptions) {
    const first = await onB(opts);
    const before = hits();
    const second = await onB(opts);
    expect(second.statusCode).toBe(first.statusCode);
    expect(hits()).toBeGreaterThan(before);
    return second;
  }
  const authorize = (who: Session | string, orgId: string, action: string, resource: Record<string, string>) => ({
    method: "POST" as const,
    url: "/v1/authorize",
    headers: bearer(who),
    payload: { orgId, action, resource },
  });
  const allowed = (res: { statusCode: number; json: () => unknown }) =>
    res.statusCode === 200 && (res.json() as { allowed: boolean }).allowed;

  async function setup() {
    const owner = await signUp(A.app);
    const org = await createOrg(A.app, owner, "operations");
    return { owner, org };
  }
  const patchMember = (owner: Session, orgId: string, memberId: string, payload: Record<string, unknown>) =>
    A.app.inject({ method: "PATCH", url: `/v1/orgs/${orgId}/members/${memberId}`, headers: bearer(owner), payload });

  it("sign-out on A: B refuses the session", async () => {
    const s = await signUp(A.app);
    expect((await warm({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    expect((await A.app.inject({ method: "POST", url: "/v1/auth/sign-out", headers: bearer(s) })).statusCode).toBe(204);
    expect((await onB({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(401);
  });

  it("ending a session on A: B refuses it", async () => {
    const s = await signUp(A.app);
    const other = json<Session>(
      await A.app.inject({
        method: "POST",
        url: "/v1/auth/sign-in",
        payload: { email: s.user.email, password: "correct horse battery staple" },
      }),
    );
    expect((await warm({ url: "/v1/me", headers: bearer(other) })).statusCode).toBe(200);
    const list = json<{ data: Array<{ id: string; current: boolean }> }>(
      await A.app.inject({ url: "/v1/me/sessions", headers: bearer(s) }),
    ).data;
    const otherId = list.find((x) => !x.current)?.id;
    const ended = await A.app.inject({ method: "DELETE", url: `/v1/me/sessions/${otherId}`, headers: bearer(s) });
    expect(ended.statusCode).toBe(204);
    expect((await onB({ url: "/v1/me", headers: bearer(other) })).statusCode).toBe(401);
  });

  it("deactivation and removal on A: B refuses the member", async () => {
    const { owner, org } = await setup();
    for (const change of ["deactivate", "remove"] as const) {
      const m = await addMember(A, org.id, "staff", { storeIds: ["s1"] });
      const ask = authorize(m.session, org.id, "read", { type: "order", storeId: "s1" });
      expect(allowed(await warm(ask))).toBe(true);
      const res =
        change === "deactivate"
          ? await patchMember(owner, org.id, m.memberId, { status: "inactive" })
          : await A.app.inject({
              method: "DELETE",
              url: `/v1/orgs/${org.id}/members/${m.memberId}`,
              headers: bearer(owner),
            });
      expect([200, 204], change).toContain(res.statusCode);
      const after = await onB(ask);
      expect(after.statusCode, change).toBeGreaterThanOrEqual(400);
    }
  });

  it("a role change and narrowed stores on A: B's next decision follows", async () => {
    const { owner, org } = await setup();
    const m = await addMember(A, org.id, "admin", { storeIds: ["s1", "s2"] });
    const del = authorize(m.session, org.id, "delete", { type: "order", storeId: "s2" });
    expect(allowed(await warm(del))).toBe(true);
    expect((await patchMember(owner, org.id, m.memberId, { role: "staff" })).statusCode).toBe(200);
    expect(allowed(await onB(del))).toBe(false);

    const read = authorize(m.session, org.id, "read", { type: "order", storeId: "s2" });
    expect(allowed(await warm(read))).toBe(true);
    expect((await patchMember(owner, org.id, m.memberId, { storeIds: ["s1"] })).statusCode).toBe(200);
    expect(allowed(await onB(read))).toBe(false);
  });

  it("a member read and GET /v1/me on B follow a role change, a removal, a rename and a new sign-in made through A", async () => {
    const { owner, org } = await setup();
    const m = await addMember(A, org.id, "staff", { storeIds: ["s1"] });
    const read = { url: `/v1/orgs/${org.id}/members/${m.memberId}`, headers: bearer(owner) };
    const shown = async () => {
      const res = await onB(read);
      expect(res.statusCode, res.body).toBe(200);
      return json<{ role: string; name: string; status: string; lastLoginAt: string | null }>(res);
    };
    const me = { url: "/v1/me", headers: bearer(m.session) };
    expect((await warm(read)).statusCode).toBe(200);
    expect((await warm(me)).statusCode).toBe(200);
    expect((await patchMember(owner, org.id, m.memberId, { role: "admin" })).statusCode).toBe(200);
    expect((await shown()).role).toBe("admin");
    const mine = json<{ memberships: Array<{ role: string }> }>(await onB(me)).memberships;
    expect(mine.map((x) => x.role)).toEqual(["admin"]);

    await warm(read);
    await A.db.owner((db) => db.execute(sql`UPDATE users SET name = 'Someone Else' WHERE id = ${m.userId}`));
    expect((await shown()).name).toBe("Someone Else");

    await warm(read);
    A.clock.advance(90_000);
    const signIn = await A.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: m.session.user.email, password: GOOD_PASSWORD },
    });
    expect(signIn.statusCode).toBe(200);
    expect(new Date((await shown()).lastLoginAt!).getTime()).toBe(A.clock.now().getTime());

    await warm(read);
    const removed = await A.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/members/${m.memberId}`,
      headers: bearer(owner),
    });
    expect([200, 204]).toContain(removed.statusCode);
    expect((await shown()).status).toBe("removed");
  });

  it("rotating and revoking a key on A: B refuses the old secret", async () => {
    const { owner, org } = await setup();
    const mint = await A.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/api-keys`,
      headers: bearer(owner),
      payload: { name: "ci" },
    });
    expect(mint.statusCode).toBe(201);
    const key = json<{ id: string; secret: string }>(mint);
    const ask = (secret: string) => authorize(secret, org.id, "read", { type: "order", storeId: "s1" });
    expect(allowed(await warm(ask(key.secret)))).toBe(true);
    const rotated = await A.app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}/rotate`,
      headers: bearer(owner),
    });
    expect(rotated.statusCode).toBe(200);
    const fresh = json<{ secret: string }>(rotated).secret;
    expect((await onB(ask(key.secret))).statusCode).toBe(401);
    expect(allowed(await warm(ask(fresh)))).toBe(true);
    const revoked = await A.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}`,
      headers: bearer(owner),
    });
    expect(revoked.statusCode).toBe(204);
    expect((await onB(ask(fresh))).statusCode).toBe(401);
  });

  it("requiring MFA on A: B gates a member without a factor", async () => {
    const { org } = await setup();
    const m = await addMember(A, org.id, "staff", { storeIds: ["s1"] });
    const ask = authorize(m.session, org.id, "read", { type: "order", storeId: "s1" });
    expect(allowed(await warm(ask))).toBe(true);
    // Straight in the database (the security route wants the owner enrolled first): the trigger announces it all the same.
    await A.db.owner((db) =>
      db.execute(
        sql`UPDATE organizations SET settings = settings || '{"requireMfa": true}'::jsonb WHERE id = ${org.id}`,
      ),
    );
    const after = await onB(ask);
    expect(after.statusCode).toBe(403);
    expect(json<{ error: { code: string } }>(after).error.code).toBe("mfa_enrollment_required");
  });

  it("changes and reads interleaved on both instances never meet a stale decision", async () => {
    const { owner, org } = await setup();
    const m = await addMember(A, org.id, "staff", { storeIds: ["s1"] });
    const apps = [A, B] as const;
    const dbs = [A.db, B.db] as const;
    // The state last committed: role and stores; what either instance must answer once it has it.
    let role = "staff";
    let stores = ["s1"];
    const expected = (action: string, store: string) =>
      role === "admin" || (action === "read" && stores.includes(store));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const deadline = Date.now() + 60_000;
    let rounds = 0;
    for (; rounds < 60 && Date.now() < deadline; rounds++) {
      const writer = apps[rand(2)]!.app;
      const reader = rand(2);
      // Reads racing the change on the reader, before and during it: they may see either state.
      const next =
        rand(2) === 0
          ? { role: role === "staff" ? "admin" : "staff" }
          : { storeIds: stores.includes("s2") ? ["s1"] : ["s1", "s2"] };
      const racing = Array.from({ length: 3 }, () =>
        apps[reader]!.app.inject(authorize(m.session, org.id, "read", { type: "order", storeId: "s2" })),
      );
      const res = await writer.inject({
        method: "PATCH",
        url: `/v1/orgs/${org.id}/members/${m.memberId}`,
        headers: bearer(owner),
        payload: next,
      });
      expect(res.statusCode).toBe(200);
      if (next.role) role = next.role;
      if (next.storeIds) stores = next.storeIds;
      await Promise.all(racing);
      // After the change committed and reached the reader: every answer is the committed state's.
      await dbs[reader]!.cacheSync();
      for (const [action, store] of [
        ["read", "s2"],
        ["read", "s1"],
        ["delete", "s1"],
      ] as const) {
        for (let i = 0; i < 2; i++) {
          const d = await apps[reader]!.app.inject(
            authorize(m.session, org.id, action, { type: "order", storeId: store }),
          );
          expect(allowed(d), `round ${rounds}: ${role} ${stores.join(",")} ${action}@${store}`).toBe(
            expected(action, store),
          );
        }
      }
    }
    expect(rounds).toBeGreaterThanOrEqual(20);
    // The answers after each change came from the caches, not only from the database.
    expect(A.db.cache.stats.hits.org_member + B.db.cache.stats.hits.org_member).toBeGreaterThan(rounds);
  }, 120_000);
});
