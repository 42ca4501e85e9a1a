import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, generateKeyPair } from "jose";
import { createApp, type AppDeps } from "../../../packages/server/src/app.ts";
import { openDatabase, rowsOf, type Database } from "../../../packages/server/src/db/database.ts";
import { seedDemo } from "../../../packages/server/src/demo.ts";
import { sendLogoutNotices } from "../../../packages/server/src/oidc/jobs.ts";
import {
  addMember,
  bearer,
  createOrg,
  engine,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "../../../packages/server/test/helpers.ts";
import { CookieJar, freePort, registerApplication } from "../../../packages/server/test/oidc.helpers.ts";
import { createBillingApp } from "../src/app.ts";
import { configFromEnv } from "../src/config.ts";
import { listInvoices, openDb, seedOrg } from "../src/db.ts";
import type { RosterSessions } from "../src/sessions.ts";

/**
 * Roster and the example app, each on its own 127.0.0.1 port, talking HTTP as in production. On PostgreSQL a
 * second Roster instance (B) shares the database: the member is removed there, while the app signs in and
 * refreshes through instance A.
 */
let A: TestApp;
let B: { app: FastifyInstance; deps: AppDeps; close: () => Promise<void> };
let roster: string;
let appUrl: string;
let billing: FastifyInstance;
let sessions: RosterSessions;
let clientId: string;
let operator: Session;
let orgId: string;
let offsetMs = 0; // the app's clock runs ahead by this much: its access tokens fall due for refresh

beforeAll(async () => {
  const port = await freePort();
  roster = `http://127.0.0.1:${port}`;
  A = await testApp({ publicUrl: roster });
  await A.app.listen({ port, host: "127.0.0.1" });
  if (engine === "postgres") {
    const db: Database = await openDatabase({ databaseUrl: A.deps.config.databaseUrl!, poolSize: 5 });
    const deps: AppDeps = { ...A.deps, db };
    B = { app: await createApp(deps), deps, close: () => db.close() };
  } else {
    B = { app: A.app, deps: A.deps, close: async () => undefined };
  }
  operator = await signUp(A.app, undefined, "Olivia Operator");
  await A.db.owner((db) =>
    db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.user.id}`),
  );
  orgId = (await createOrg(A.app, operator, "billing", "Pelican Billing")).id;

  const appPort = await freePort();
  appUrl = `http://127.0.0.1:${appPort}`;
  const client = await registerApplication(A, operator, {
    name: "Billing example",
    type: "web",
    redirectUris: [`${appUrl}/callback`],
    postLogoutRedirectUris: [`${appUrl}/`],
    backchannelLogoutUri: `${appUrl}/backchannel-logout`,
  });
  clientId = client.clientId;
  ({ app: billing, sessions } = await createBillingApp({
    issuer: `${roster}/oidc`,
    clientId,
    clientSecret: client.clientSecret!,
    appUrl,
    db: await openDb(),
    now: () => Date.now() + offsetMs,
  }));
  await billing.listen({ port: appPort, host: "127.0.0.1" });
});

afterAll(async () => {
  await billing?.close();
  if (B && B.app !== A?.app) await B.app.close();
  await B?.close();
  await A?.close();
});

/** A browser signing in to the app: redirects followed, Roster's interaction completed as its console page does. */
async function signInThroughApp(member: Session): Promise<CookieJar> {
  const jar = new CookieJar({ roster_session: member.token });
  let url = `${appUrl}/login`;
  for (let hop = 0; hop < 12; hop++) {
    const res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
    jar.store(res);
    const location = res.headers.get("location");
    if (!location) throw new Error(`no redirect from ${url}: ${res.status} ${await res.text()}`);
    const next = new URL(location, url);
    if (next.href === `${appUrl}/invoices`) return jar;
    const interaction = /^\/interaction\/([\w-]+)$/.exec(next.pathname);
    if (interaction && next.origin === roster) {
      const done = await fetch(`${roster}/v1/oidc/interactions/${interaction[1]}/complete`, {
        method: "POST",
        headers: { ...bearer(member), "content-type": "application/json" },
        body: JSON.stringify({ orgId }),
      });
      if (done.status !== 200) throw new Error(`interaction: ${done.status} ${await done.text()}`);
      url = ((await done.json()) as { redirectTo: string }).redirectTo;
      continue;
    }
    url = next.href;
  }
  throw new Error("the sign-in did not come back to the app");
}

const page = (jar: CookieJar, path = "/invoices") =>
  fetch(`${appUrl}${path}`, { redirect: "manual", headers: { cookie: jar.header() } });
const voidInvoice = (jar: CookieJar, id: string) =>
  fetch(`${appUrl}/invoices/${id}/void`, { method: "POST", headers: { cookie: jar.header(), origin: appUrl } });
const invoiceIds = (html: string) => [...html.matchAll(/action="\/invoices\/([^/"]+)\/void"/g)].map((m) => m[1]!);

describe("examples/billing-app against a running Roster", () => {
  it("customer service sees Void buttons and voids; sales sees none and gets 403 in Roster's shape", async () => {
    const cs = await addMember(A, orgId, "customer_service");
    const csJar = await signInThroughApp(cs.session);
    const csPage = await (await page(csJar)).text();
    expect(csPage).toContain("Pelican Billing · Invoices");
    expect(csPage).toContain("Customer service");
    const ids = invoiceIds(csPage);
    expect(ids).toHaveLength(3); // the three open invoices
    const voided = await voidInvoice(csJar, ids[0]!);
    expect(voided.status).toBe(200);
    expect(await voided.json()).toMatchObject({ invoice: { status: "void" } });
    expect((await voidInvoice(csJar, ids[0]!)).status).toBe(409);
    expect(invoiceIds(await (await page(csJar)).text())).toEqual(ids.slice(1));

    const sales = await addMember(A, orgId, "sales");
    const salesJar = await signInThroughApp(sales.session);
    const salesPage = await (await page(salesJar)).text();
    expect(salesPage).toContain("INV-1001"); // sales reads invoices…
    expect(invoiceIds(salesPage)).toEqual([]); // …but is offered no Void
    const refused = await voidInvoice(salesJar, ids[1]!);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: {
        type: "authorization_error",
        code: "permission_denied",
        message: expect.stringMatching(/void/i) as string,
        requiredPermission: "invoice:void",
      },
    });
    // Another site cannot make a signed-in browser post the void.
    const cross = await fetch(`${appUrl}/invoices/${ids[1]}/void`, {
      method: "POST",
      headers: { cookie: csJar.header(), origin: "http://evil.example" },
    });
    expect(cross.status).toBe(403);
    // No session, no token: 401 in Roster's shape.
    const anonymous = await fetch(`${appUrl}/invoices/${ids[1]}/void`, { method: "POST" });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { type: "authentication_error", code: "token_invalid" } });
  });

  it(`removing a member on ${engine === "postgres" ? "another instance" : "Roster"} ends their app sessions by back-channel logout, and their next refresh fails`, async () => {
    const cs = await addMember(A, orgId, "customer_service");
    const laptop = await signInThroughApp(cs.session);
    const phone = await signInThroughApp(cs.session);
    expect(sessions.count(cs.userId)).toBe(2);

    // The 5-minute access token falls due: the app refreshes it with the refresh token, the person notices nothing.
    offsetMs += 5 * 60_000;
    expect((await page(laptop)).status).toBe(200);

    const removed = await B.app.inject({
      method: "DELETE",
      url: `/v1/orgs/${orgId}/members/${cs.memberId}`,
      headers: bearer(operator),
    });
    expect(removed.statusCode).toBe(200);

    // Before the notice arrives, the laptop's next refresh is refused: the app ends that session.
    offsetMs += 5 * 60_000;
    const refused = await page(laptop);
    expect(refused.status).toBe(302);
    expect(refused.headers.get("location")).toBe("/");
    expect(sessions.count(cs.userId)).toBe(1);

    // The logout job (here: instance B's) posts the notice; the app checks it and ends the phone's session too.
    expect(await sendLogoutNotices(B.deps)).toEqual({ sent: 1, failed: 0 });
    expect(sessions.count(cs.userId)).toBe(0);
    const after = await page(phone);
    expect(after.status).toBe(302);
    expect(after.headers.get("location")).toBe("/");
  });

  it("refuses a logout token that Roster did not sign, and ends nobody's session", async () => {
    const member = await addMember(A, orgId, "sales");
    await signInThroughApp(member.session);
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT({
      events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      jti: "x",
    })
      .setProtectedHeader({ alg: "RS256", typ: "logout+jwt", kid: "not-roster" })
      .setIssuer(`${roster}/oidc`)
      .setAudience(clientId)
      .setSubject(member.userId)
      .setIssuedAt()
      .sign(privateKey);
    for (const body of [new URLSearchParams({ logout_token: forged }), new URLSearchParams({})]) {
      const res = await fetch(`${appUrl}/backchannel-logout`, { method: "POST", body });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_request" });
    }
    expect(sessions.count(member.userId)).toBe(1);
  });
});

describe("the app's own data", () => {
  it("turns the SDK's data filter into its query: all, none, the member's stores, their own customers", async () => {
    const db = await openDb();
    await seedOrg(db, "org_a");
    await seedOrg(db, "org_a"); // once per organization
    await seedOrg(db, "org_b");
    await db.query("UPDATE customers SET owner_id = 'usr_1' WHERE name = 'Harbor Hardware' AND org_id = 'org_a'");
    const customers = async (filter: Parameters<typeof listInvoices>[2]) => [
      ...new Set((await listInvoices(db, "org_a", filter)).map((i) => i.customer)),
    ];
    expect(await listInvoices(db, "org_a", { kind: "all" })).toHaveLength(6);
    expect(await customers({ kind: "none" })).toEqual([]);
    expect(await customers({ kind: "stores", storeIds: ["south"] })).toEqual(["Copper Kettle Cafe"]);
    expect(await customers({ kind: "own", ownerId: "usr_1" })).toEqual(["Harbor Hardware"]);
    expect(await customers({ kind: "department", department: "finance" })).toEqual([]);
    await db.close();
  });
});

describe("running beside Roster's demo", () => {
  it("the demo registers the example, and the app finds its client in the demo's credentials file", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "billing-demo-"));
    const t = await testApp({ dataDir });
    try {
      const demo = await seedDemo(t.deps);
      expect(demo?.application).toMatchObject({ name: "Billing example", url: "http://127.0.0.1:4100" });
      const file = join(dataDir, "demo-credentials.json");
      const config = configFromEnv({ ROSTER_DEMO_CREDENTIALS: file });
      expect(config).toMatchObject({ clientId: demo!.application!.clientId, appUrl: "http://127.0.0.1:4100" });
      expect(config.issuer).toBe("http://127.0.0.1:4000/oidc");
      const [registered] = rowsOf(
        await t.db.owner((db) => db.execute(sql`SELECT redirect_uris, backchannel_logout_uri FROM oidc_applications`)),
      );
      expect(registered).toMatchObject({
        redirect_uris: ["http://127.0.0.1:4100/callback"],
        backchannel_logout_uri: "http://127.0.0.1:4100/backchannel-logout",
      });
      // A second start keeps the same client.
      expect((await seedDemo(t.deps))?.application?.clientId).toBe(demo!.application!.clientId);
      expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ application: demo!.application });
      expect(() => configFromEnv({ ROSTER_DEMO_CREDENTIALS: join(dataDir, "missing.json") })).toThrow(
        /ROSTER_CLIENT_ID/,
      );
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
