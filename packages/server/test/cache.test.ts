import { sql } from "drizzle-orm";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CacheHub, tag, tagsOf } from "../src/cache/hub.ts";
import type { InjectOptions } from "fastify";
import { createApp } from "../src/app.ts";
import { rowsOf, type Database } from "../src/db/database.ts";
import {
  addMember,
  bearer,
  createOrg,
  engine,
  GOOD_PASSWORD,
  json,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

const stats = () => t.db.cache.stats;
const authorize = (who: Session | string, orgId: string, action: string, storeId: string) =>
  t.app.inject({
    method: "POST",
    url: "/v1/authorize",
    headers: bearer(who),
    payload: { orgId, action, resource: { type: "order", storeId } },
  });
const allowed = async (res: Promise<{ statusCode: number; json: () => unknown }>) => {
  const r = await res;
  return r.statusCode === 200 && (r.json() as { allowed: boolean }).allowed;
};

describe("the caches on the request path", () => {
  it("answer a repeated request from memory: session and membership are hits", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    expect(await allowed(authorize(owner, org.id, "read", "s1"))).toBe(true);
    const before = structuredClone(stats());
    expect(await allowed(authorize(owner, org.id, "read", "s1"))).toBe(true);
    expect(stats().hits.session).toBe(before.hits.session + 1);
    expect(stats().hits.org_member).toBe(before.hits.org_member + 1);
    expect(stats().misses.session).toBe(before.misses.session);
    expect(stats().misses.org_member).toBe(before.misses.org_member);
  });

  it("a cache hit costs no database message: POST /v1/authorize, GET /v1/me and a member read", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    let transactions = 0;
    let readQueries = 0;
    const counting: Database = {
      ...t.db,
      tx: (scope, fn) => {
        transactions++;
        return t.db.tx(scope, fn);
      },
      // A read is counted by its queries: each is one message to the database, its binding included.
      read: (scope, fn) =>
        t.db.read(scope, (tx) => {
          const session = (tx as unknown as { session: { client: { query: (...a: unknown[]) => unknown } } }).session;
          const query = session.client.query;
          session.client.query = (...a: unknown[]) => {
            readQueries++;
            return query(...a);
          };
          return fn(tx);
        }),
    };
    const app = await createApp({ ...t.deps, db: counting });
    try {
      const count = async (opts: InjectOptions) => {
        expect((await app.inject(opts)).statusCode).toBe(200);
        const before = { transactions, readQueries };
        expect((await app.inject(opts)).statusCode).toBe(200);
        return { transactions: transactions - before.transactions, readQueries: readQueries - before.readQueries };
      };
      const ask = { orgId: org.id, action: "read", resource: { type: "order", storeId: "s1" } };
      const none = { transactions: 0, readQueries: 0 };
      expect(await count({ method: "POST", url: "/v1/authorize", headers: bearer(owner), payload: ask })).toEqual(none);
      expect(await count({ url: "/v1/me", headers: bearer(owner) })).toEqual(none);
      expect(await count({ url: `/v1/orgs/${org.id}/members/${org.memberId}`, headers: bearer(owner) })).toEqual(none);
    } finally {
      await app.close();
    }
  });

  it("a change written straight into the database (no application code) empties the entry", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    const m = await addMember(t, org.id, "admin", { storeIds: ["s1"] });
    expect(await allowed(authorize(m.session, org.id, "delete", "s1"))).toBe(true);
    expect(await allowed(authorize(m.session, org.id, "delete", "s1"))).toBe(true);
    await t.db.owner((db) => db.execute(sql`UPDATE members SET role = 'read_only' WHERE id = ${m.memberId}`));
    await t.db.cacheSync();
    expect(await allowed(authorize(m.session, org.id, "delete", "s1"))).toBe(false);
    await t.db.owner((db) =>
      db.execute(sql`UPDATE sessions SET revoked_at = now() WHERE user_id = ${m.userId} AND revoked_at IS NULL`),
    );
    await t.db.cacheSync();
    expect((await authorize(m.session, org.id, "read", "s1")).statusCode).toBe(401);
  });

  it("the member read: served from memory under each reader's own reach, emptied by any change it shows", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "departments");
    const salesAdmin = await addMember(t, org.id, "admin", { department: "sales" });
    const financeAdmin = await addMember(t, org.id, "admin", { department: "finance" });
    const person = await addMember(t, org.id, "user", { department: "finance" });
    const read = (who: Session, memberId: string) =>
      t.app.inject({ url: `/v1/orgs/${org.id}/members/${memberId}`, headers: bearer(who) });
    const body = async (who: Session, memberId: string) => {
      const res = await read(who, memberId);
      expect(res.statusCode, res.body).toBe(200);
      return json<{ name: string; department: string | null; lastLoginAt: string | null }>(res);
    };
    // The owner's read fills the entry; an admin whose department does not reach the member still gets 404 from it.
    await body(owner, person.memberId);
    const hitsBefore = stats().hits.member_read;
    expect((await read(salesAdmin.session, person.memberId)).statusCode).toBe(404);
    expect(stats().hits.member_read).toBe(hitsBefore + 1);
    expect((await body(financeAdmin.session, person.memberId)).department).toBe("finance");

    // A change through the API, a change written straight into the database, and a sign-in elsewhere.
    const moved = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/members/${person.memberId}`,
      headers: bearer(owner),
      payload: { department: "sales" },
    });
    expect(moved.statusCode, moved.body).toBe(200);
    expect((await body(salesAdmin.session, person.memberId)).department).toBe("sales");
    expect((await read(financeAdmin.session, person.memberId)).statusCode).toBe(404);
    await t.db.owner((db) => db.execute(sql`UPDATE users SET name = 'Renamed Person' WHERE id = ${person.userId}`));
    await t.db.cacheSync();
    expect((await body(owner, person.memberId)).name).toBe("Renamed Person");
    const lastLogin = (await body(owner, person.memberId)).lastLoginAt;
    t.clock.advance(60_000);
    const again = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: person.session.user.email, password: GOOD_PASSWORD },
    });
    expect(again.statusCode, again.body).toBe(200);
    await t.db.cacheSync();
    const seen = (await body(owner, person.memberId)).lastLoginAt;
    expect(seen).not.toBe(lastLogin);
    expect(new Date(seen!).getTime()).toBe(t.clock.now().getTime());
  });

  it("GET /v1/me from memory: a new membership, a role change and an org rename show on the next request", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const me = async (who: Session) => {
      const res = await t.app.inject({ url: "/v1/me", headers: bearer(who) });
      expect(res.statusCode).toBe(200);
      return json<{ memberships: Array<{ orgId: string; orgName: string; role: string }> }>(res).memberships;
    };
    const person = await signUp(t.app);
    expect(await me(person)).toEqual([]);
    const hits = stats().hits.my_memberships;
    expect(await me(person)).toEqual([]);
    expect(stats().hits.my_memberships).toBe(hits + 1);
    const m = await addMember(t, org.id, "member", { email: `x.${person.user.email}` });
    // addMember signs up its own person: give this one a membership straight in the database instead.
    await t.db.owner((db) => db.execute(sql`UPDATE members SET user_id = ${person.user.id} WHERE id = ${m.memberId}`));
    await t.db.cacheSync();
    expect((await me(person)).map((x) => [x.orgId, x.role])).toEqual([[org.id, "member"]]);
    const promoted = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}/members/${m.memberId}`,
      headers: bearer(owner),
      payload: { role: "admin" },
    });
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect((await me(person))[0]!.role).toBe("admin");
    await t.db.owner((db) => db.execute(sql`UPDATE organizations SET name = 'Renamed Org' WHERE id = ${org.id}`));
    await t.db.cacheSync();
    expect((await me(person))[0]!.orgName).toBe("Renamed Org");
  });

  it("a change made through this instance is seen by its very next request, without waiting", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    const m = await addMember(t, org.id, "staff", { storeIds: ["s1", "s2"] });
    for (let i = 0; i < 5; i++) {
      expect(await allowed(authorize(m.session, org.id, "read", "s2"))).toBe(true);
      const narrowed = await t.app.inject({
        method: "PATCH",
        url: `/v1/orgs/${org.id}/members/${m.memberId}`,
        headers: bearer(owner),
        payload: { storeIds: ["s1"] },
      });
      expect(narrowed.statusCode).toBe(200);
      expect(await allowed(authorize(m.session, org.id, "read", "s2"))).toBe(false);
      await t.app.inject({
        method: "PATCH",
        url: `/v1/orgs/${org.id}/members/${m.memberId}`,
        headers: bearer(owner),
        payload: { storeIds: ["s1", "s2"] },
      });
    }
  });

  it("a key is cached by its hash and refused right after revocation", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "operations");
    const key = json<{ id: string; secret: string }>(
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org.id}/api-keys`,
        headers: bearer(owner),
        payload: { name: "ci" },
      }),
    );
    expect(await allowed(authorize(key.secret, org.id, "read", "s1"))).toBe(true);
    const hits = stats().hits.api_key;
    expect(await allowed(authorize(key.secret, org.id, "read", "s1"))).toBe(true);
    expect(stats().hits.api_key).toBe(hits + 1);
    const del = await t.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${org.id}/api-keys/${key.id}`,
      headers: bearer(owner),
    });
    expect(del.statusCode).toBe(204);
    expect((await authorize(key.secret, org.id, "read", "s1")).statusCode).toBe(401);
  });

  it("/metrics reports hits, misses, notifications and whether the instance is listening", async () => {
    const text = (await t.app.inject({ url: "/metrics" })).body;
    expect(text).toMatch(/roster_cache_hits_total\{cache="session"\} [1-9]/);
    expect(text).toMatch(/roster_cache_misses_total\{cache="org_member"\} [1-9]/);
    expect(text).toMatch(/roster_cache_invalidations_total [1-9]/);
    expect(text).toMatch(/roster_cache_listener_reconnects_total 0/);
    expect(text).toMatch(/roster_cache_listening 1/);
  });
});

describe("session activity without a write per request", () => {
  it("is kept in memory, written in a batch, and the idle limit holds on the freshest value", async () => {
    const s = await signUp(t.app);
    const sessionId = () =>
      t.db.tx({ userId: s.user.id }, async (tx) => {
        const rows = rowsOf<{ id: string; last_seen_at: string | Date }>(
          await tx.execute(sql`SELECT id, last_seen_at FROM sessions WHERE user_id = ${s.user.id}`),
        );
        return { id: rows[0]!.id, lastSeen: new Date(rows[0]!.last_seen_at).getTime() };
      });
    const start = await sessionId();
    // Two requests, each a minute short of the installation's idle limit after the one before.
    const idle = t.deps.config.session.idleMinutes * 60_000;
    t.clock.advance(idle - 60_000);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    // Not written yet: the request did not wait for a write.
    expect((await sessionId()).lastSeen).toBe(start.lastSeen);
    t.clock.advance(idle - 60_000);
    // Alive: the in-memory activity is fresher than what is stored.
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(200);
    await t.db.lastSeen.flush();
    expect((await sessionId()).lastSeen).toBe(t.clock.now().getTime());
    t.clock.advance(idle);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s) })).statusCode).toBe(401);
  });
});

describe("the cache hub", () => {
  it("maps every notification to the tags it empties; anything else empties everything", async () => {
    expect(tagsOf("user u1")).toEqual([tag.user("u1")]);
    expect(tagsOf("member o1 u1")).toEqual([tag.member("o1", "u1"), tag.user("u1")]);
    expect(tagsOf("org o1")).toEqual([tag.org("o1"), tag.anyOrg]);
    expect(tagsOf("key o1 k1")).toEqual([tag.key("o1", "k1")]);
    for (const odd of ["", "user", "member o1", "key o1", "user a b", "drop everything", "org o1 x"]) {
      expect(tagsOf(odd), odd).toBeNull();
    }
    const hub = new CacheHub();
    hub.setListening(true);
    await hub.sessions.load("a", async () => ({ value: fakeSession(), tags: [tag.user("u1")] }));
    hub.receive("not a notification");
    expect(hub.sessions.size).toBe(0);
  });

  it("does not keep a value read while a notification arrived", async () => {
    const hub = new CacheHub();
    hub.setListening(true);
    await hub.sessions.load("a", async () => {
      hub.receive("user u2");
      return { value: fakeSession(), tags: [tag.user("u1")] };
    });
    expect(hub.sessions.get("a")).toBeUndefined();
    await hub.sessions.load("a", async () => ({ value: fakeSession(), tags: [tag.user("u1")] }));
    expect(hub.sessions.get("a")).toBeDefined();
    hub.receive("user u2");
    expect(hub.sessions.get("a")).toBeDefined();
    hub.receive("member o1 u1");
    expect(hub.sessions.get("a")).toBeUndefined();
  });

  it("holds and serves nothing while not listening", async () => {
    const hub = new CacheHub();
    await hub.sessions.load("a", async () => ({ value: fakeSession(), tags: [] }));
    expect(hub.sessions.size).toBe(0);
    hub.setListening(true);
    await hub.sessions.load("a", async () => ({ value: fakeSession(), tags: [] }));
    expect(hub.sessions.get("a")).toBeDefined();
    hub.setListening(false);
    expect(hub.sessions.size).toBe(0);
    expect(hub.sessions.get("a")).toBeUndefined();
  });
});

function fakeSession() {
  const now = new Date();
  return {
    session: {
      id: "ses_1",
      userId: "u1",
      tokenHash: "h",
      ip: null,
      userAgent: null,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now,
      revokedAt: null,
      revokedReason: null,
      mfaVerifiedAt: null,
    },
    user: {
      id: "u1",
      email: "a@example.com",
      name: "A",
      passwordHash: null,
      platformRole: null,
      lastLoginAt: null,
      createdAt: now,
      updatedAt: now,
    },
    mfaRequired: false,
    mfaEnrolled: false,
  };
}

describe.skipIf(engine !== "postgres")("the listening connection (PostgreSQL)", () => {
  it("when its backend is terminated: nothing stale is served, and the instance listens again", async () => {
    const s = await signUp(t.app);
    const me = () => t.app.inject({ url: "/v1/me", headers: bearer(s) });
    expect((await me()).statusCode).toBe(200);
    expect((await me()).statusCode).toBe(200);
    const pid = t.db.listenerPid();
    expect(pid).not.toBeNull();
    const url = process.env.DATABASE_URL!;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      const until = Date.now() + 5_000;
      while (t.db.cache.trusted && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      expect(t.db.cache.trusted).toBe(false);
      // The session ends while nobody listens: its notification is lost, the answer must not be.
      await t.db.owner((db) => db.execute(sql`UPDATE sessions SET revoked_at = now() WHERE user_id = ${s.user.id}`));
      expect((await me()).statusCode).toBe(401);
    } finally {
      await admin.end();
    }
    const until = Date.now() + 10_000;
    while (!t.db.cache.trusted && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(t.db.cache.trusted).toBe(true);
    expect(t.db.listenerPid()).not.toBe(pid);
    expect(stats().reconnects).toBeGreaterThanOrEqual(1);
    // Caching again after the reconnect, and invalidations arrive again.
    const s2 = await signUp(t.app);
    const hits = stats().hits.session;
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s2) })).statusCode).toBe(200);
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s2) })).statusCode).toBe(200);
    expect(stats().hits.session).toBeGreaterThan(hits);
    await t.db.owner((db) => db.execute(sql`UPDATE sessions SET revoked_at = now() WHERE user_id = ${s2.user.id}`));
    await t.db.cacheSync();
    expect((await t.app.inject({ url: "/v1/me", headers: bearer(s2) })).statusCode).toBe(401);
    expect((await t.app.inject({ url: "/metrics" })).body).toMatch(/roster_cache_listener_reconnects_total [1-9]/);
  });
});
