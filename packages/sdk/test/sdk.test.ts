import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import { presets } from "@roster/policy";
import { enforcerFromToken, ForbiddenError, RosterClient, RosterError, type RosterAccessClaims } from "../src/index.ts";
import { parseRetryAfter } from "../src/errors.ts";
import {
  addMember,
  bearer,
  createOrg,
  GOOD_PASSWORD,
  signUp,
  testApp,
  type TestApp,
} from "../../server/test/helpers.ts";

let t: TestApp;
let baseUrl: string;
let orgId: string;
let rep: { token: string; userId: string; memberId: string };
let otherUserId: string;
let ownerToken: string;

beforeAll(async () => {
  t = await testApp();
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const owner = await signUp(t.app, undefined, "Ada Admin");
  ownerToken = owner.token;
  orgId = (await createOrg(t.app, owner, "crm", "Pipeline Co")).id;
  const r = await addMember(t, orgId, "sales_rep");
  rep = { token: r.session.token, userId: r.userId, memberId: r.memberId };
  otherUserId = (await addMember(t, orgId, "sales_rep")).userId;
});

afterAll(async () => {
  await t?.close();
});

describe("@roster/sdk against a running Roster", () => {
  it("local decisions of the enforcer equal the server's /v1/authorize for every action of every resource", async () => {
    const client = new RosterClient({ baseUrl, sessionToken: rep.token });
    const enforcer = await client.enforcer(orgId);
    const resources = presets.crm.resources;
    let compared = 0;
    for (const [type, actions] of Object.entries(resources)) {
      for (const action of actions) {
        for (const ownerId of [undefined, rep.userId, otherUserId]) {
          const resource = { type, ...(ownerId ? { ownerId } : {}) };
          const local = enforcer.can(action, resource);
          const remote = await client.authorize(orgId, action, resource);
          expect({ action, resource, allowed: local.allowed }).toEqual({ action, resource, allowed: remote.allowed });
          expect(local.requiredPermission).toBe(remote.requiredPermission);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(30);
  });

  it("a backend key asks about a member (subject) and hears what the member's own session hears", async () => {
    const minted = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${orgId}/api-keys`,
      headers: bearer(ownerToken),
      payload: { name: "backend", permissions: ["authorize:any_member"] },
    });
    expect(minted.statusCode, minted.body).toBe(201);
    const backend = new RosterClient({ baseUrl, apiKey: minted.json<{ secret: string }>().secret });
    const asRep = new RosterClient({ baseUrl, sessionToken: rep.token });
    for (const [type, actions] of Object.entries(presets.crm.resources)) {
      for (const action of actions) {
        const resource = { type, ownerId: otherUserId };
        const about = await backend.authorize(orgId, action, resource, { userId: rep.userId });
        const own = await asRep.authorize(orgId, action, resource);
        expect({ type, action, allowed: about.allowed }).toEqual({ type, action, allowed: own.allowed });
      }
    }
    await expect(asRep.authorize(orgId, "read", { type: "lead" }, { userId: otherUserId })).rejects.toMatchObject({
      status: 403,
      requiredPermission: "authorize:any_member",
    });
  });

  it("turns 'view own leads' into a data filter and asserts with a 403-shaped error", async () => {
    const enforcer = await new RosterClient({ baseUrl, sessionToken: rep.token }).enforcer(orgId);
    expect(enforcer.filter("read", "lead")).toEqual({ kind: "own", ownerId: rep.userId });
    expect(enforcer.can("update", { type: "lead", ownerId: rep.userId }).allowed).toBe(true);
    expect(() => enforcer.assert("update", { type: "lead", ownerId: otherUserId })).toThrow(ForbiddenError);
    let local: unknown;
    try {
      enforcer.assert("delete", { type: "lead", ownerId: rep.userId });
      expect.unreachable();
    } catch (e) {
      local = e;
    }
    expect(local).toMatchObject({ status: 403, type: "authorization_error", requiredPermission: "lead:delete" });
    // A local refusal has the code the server gives its own refusals.
    const remote = await t.app.inject({
      method: "GET",
      url: `/v1/orgs/${orgId}/audit-events`,
      headers: bearer(rep.token),
    });
    expect(remote.statusCode).toBe(403);
    expect((local as ForbiddenError).code).toBe(remote.json<{ error: { code: string } }>().error.code);
    expect((local as ForbiddenError).code).toBe("permission_denied");
  });

  it("caches an enforcer for its TTL, and sees a role change once invalidated", async () => {
    const client = new RosterClient({ baseUrl, sessionToken: rep.token, cacheTtlMs: 60_000 });
    const first = await client.enforcer(orgId);
    expect(await client.enforcer(orgId)).toBe(first);
    expect(first.filter("read", "lead").kind).toBe("own");
    await t.db.owner((db) => db.execute(`UPDATE members SET role = 'manager' WHERE id = '${rep.memberId}'`));
    // A change made beside the server: its notification reaches the server's listener a moment later (on
    // PostgreSQL, under load, after the next request had already been answered from the server's cache).
    await t.db.cacheSync();
    expect((await client.enforcer(orgId)).filter("read", "lead").kind).toBe("own"); // still cached
    client.invalidate(orgId);
    expect((await client.enforcer(orgId)).filter("read", "lead")).toEqual({ kind: "all" });
    await t.db.owner((db) => db.execute(`UPDATE members SET role = 'sales_rep' WHERE id = '${rep.memberId}'`));
    await t.db.cacheSync();
  });

  it("reports Roster's errors in the contract's shape: bad credentials, another org", async () => {
    const bad = new RosterClient({ baseUrl, sessionToken: "rs_not-a-real-token" });
    await expect(bad.policy(orgId)).rejects.toMatchObject({ status: 401, type: "authentication_error" });
    const stranger = await signUp(t.app, undefined, "Stranger");
    const err = await new RosterClient({ baseUrl, sessionToken: stranger.token })
      .enforcer(orgId)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RosterError);
    expect(err).toMatchObject({ status: 404 });
    // The failed fetch is not cached: the next call asks again.
    const res = await t.app.inject({ method: "GET", url: `/v1/orgs/${orgId}/policy`, headers: bearer(stranger) });
    expect(res.statusCode).toBe(404);
  });

  it("signs a person in, and a throttled sign-in carries Retry-After as retryAfterSeconds", async () => {
    const limited = await testApp({
      signInLimits: { perAccount: { max: 100, windowSeconds: 900 }, perIp: { max: 2, windowSeconds: 120 } },
    });
    try {
      await limited.app.listen({ port: 0, host: "127.0.0.1" });
      const url = `http://127.0.0.1:${(limited.app.server.address() as AddressInfo).port}`;
      const person = await signUp(limited.app, undefined, "Pat Person");
      const grant = await RosterClient.signIn({ baseUrl: url, email: person.user.email, password: GOOD_PASSWORD });
      expect(grant).toMatchObject({ user: { email: person.user.email } });
      const wrong = () => RosterClient.signIn({ baseUrl: url, email: person.user.email, password: "not it at all" });
      await expect(wrong()).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
      await expect(wrong()).rejects.toMatchObject({ status: 401, retryAfterSeconds: undefined });
      const err = await wrong().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RosterError);
      expect(err).toMatchObject({ status: 429, type: "rate_limit_error", code: "rate_limited" });
      const wait = (err as RosterError).retryAfterSeconds;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(120);
      expect((err as RosterError).requestId).toBeTruthy();
    } finally {
      await limited.close();
    }
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-29T12:00:00Z");
    expect(parseRetryAfter("17", now)).toBe(17);
    expect(parseRetryAfter("Sun, 29 Nov 2026 12:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("Sun, 29 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(new RosterError(429, {}, undefined, "5").retryAfterSeconds).toBe(5);
  });

  it("refuses to be built without credentials", () => {
    expect(() => new RosterClient({ baseUrl })).toThrow(TypeError);
  });
});

describe("enforcerFromToken", () => {
  const claims = (role: string, permissions: string[]): RosterAccessClaims => ({
    iss: "https://roster.example.com/oidc",
    sub: "usr_1",
    aud: "urn:roster:org:org_1",
    exp: 0,
    iat: 0,
    client_id: "app",
    org_id: "org_1",
    role,
    permissions,
    store_ids: [],
    department: null,
    hidden_modules: [],
  });

  it("decides an org's custom role, which the preset cannot know, from the token's own grants", () => {
    const viewer = enforcerFromToken(claims("billing_viewer", ["invoice:read", "customer:read"]), presets.billing);
    expect(viewer.can("read", { type: "invoice" }).allowed).toBe(true);
    expect(viewer.can("read", { type: "customer" }).allowed).toBe(true);
    expect(viewer.can("void", { type: "invoice" }).allowed).toBe(false);
    expect(viewer.filter("read", "invoice")).toEqual({ kind: "all" });
    // The same role with other grants (changed since) is decided by its own token.
    const wider = enforcerFromToken(claims("billing_viewer", ["invoice:read", "invoice:void"]), presets.billing);
    expect(wider.can("void", { type: "invoice" }).allowed).toBe(true);
    expect(wider.can("read", { type: "customer" }).allowed).toBe(false);
  });

  it("a preset role is decided by the policy, whatever the token lists", () => {
    const sales = enforcerFromToken(claims("sales", ["invoice:void"]), presets.billing);
    expect(sales.can("void", { type: "invoice" }).allowed).toBe(false);
  });
});
