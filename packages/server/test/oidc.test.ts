import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader } from "jose";
import * as oc from "openid-client";
import { presets } from "@roster/policy";
import {
  addMember,
  bearer,
  createClerkRole,
  createOrg,
  json,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "./helpers.ts";
import { createServer, type Server } from "node:http";
import { codeFlow, CookieJar, freePort, registerApplication } from "./oidc.helpers.ts";
import { sendLogoutNotices } from "../src/oidc/jobs.ts";
import { Command } from "commander";
import { registerOidcCommands } from "../src/oidc/cli.ts";
import Fastify from "fastify";
import { requirePermission, rosterFastify } from "../../sdk/src/index.ts";

let t: TestApp;
let base: string;
let operator: Session;
let orgId: string;
let web: { id: string; clientId: string; clientSecret?: string };
let spa: { id: string; clientId: string };
let webConfig: oc.Configuration;
let spaConfig: oc.Configuration;
const redirectUri = "http://127.0.0.1:9/callback";
const insecure = { execute: [oc.allowInsecureRequests] };

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  t = await testApp({ publicUrl: base });
  await t.app.listen({ port, host: "127.0.0.1" });
  operator = await signUp(t.app);
  await t.db.owner((db) =>
    db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.user.id}`),
  );
  orgId = (await createOrg(t.app, operator, "billing", "Acme Billing")).id;
  web = await registerApplication(t, operator, { name: "Billing app", type: "web", redirectUris: [redirectUri] });
  spa = await registerApplication(t, operator, { name: "Billing SPA", type: "spa", redirectUris: [redirectUri] });
  webConfig = await oc.discovery(new URL(`${base}/oidc`), web.clientId, web.clientSecret, undefined, insecure);
  spaConfig = await oc.discovery(new URL(`${base}/oidc`), spa.clientId, undefined, oc.None(), insecure);
});
afterAll(async () => t?.close());

describe("OpenID Provider", () => {
  it("publishes discovery and a JWKS under {ROSTER_PUBLIC_URL}/oidc", async () => {
    const meta = webConfig.serverMetadata();
    expect(meta.issuer).toBe(`${base}/oidc`);
    expect(meta.code_challenge_methods_supported).toContain("S256");
    expect(meta.backchannel_logout_supported).toBe(true);
    const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });

  it("code + PKCE through the organization picker: an org access token whose claims match /v1/authorize", async () => {
    const cs = await addMember(t, orgId, "customer_service");
    const flow = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: cs.session,
      resource: "urn:roster:org",
      orgId,
    });
    if ("error" in flow) throw new Error(JSON.stringify(flow.error));
    const tokens = await oc.authorizationCodeGrant(webConfig, flow.callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
    });
    const id = tokens.claims()!;
    expect(id.sub).toBe(cs.userId);
    expect(id.email).toBe(cs.session.user.email);
    expect(id.organizations).toEqual([{ id: orgId, name: "Acme Billing", role: "customer_service" }]);
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe("at+jwt");
    const at = decodeJwt(tokens.access_token);
    expect(at.aud).toBe(`urn:roster:org:${orgId}`);
    expect(at.org_id).toBe(orgId);
    expect(at.role).toBe("customer_service");
    expect(at.exp! - at.iat!).toBe(300);
    const permissions = new Set(at.permissions as string[]);
    for (const [resource, actions] of Object.entries(presets.billing.resources)) {
      for (const action of actions) {
        const res = await t.app.inject({
          method: "POST",
          url: "/v1/authorize",
          headers: bearer(cs.session),
          payload: { orgId, action, resource: { type: resource } },
        });
        expect(json<{ allowed: boolean }>(res).allowed, `${resource}:${action}`).toBe(
          permissions.has(`${resource}:${action}`),
        );
      }
    }
    expect(permissions.has("invoice:void")).toBe(true);
    expect(tokens.refresh_token).toBeTruthy();
  });

  it("the organization picker lists each active membership with its role's title, a custom role's too", async () => {
    const zeta = (await createOrg(t.app, operator, "billing", "Zeta Billing")).id;
    await createClerkRole(t.app, operator, zeta);
    const member = await addMember(t, orgId, "customer_service");
    // addMember signs up its own person: move that membership to this member.
    const clerk = await addMember(t, zeta, "ar_clerk");
    await t.db.owner((db) =>
      db.execute(sql`UPDATE members SET user_id = ${member.userId} WHERE id = ${clerk.memberId}`),
    );
    // The application asks for an organization without naming one: the sign-in page shows the picker.
    const jar = new CookieJar({ roster_session: member.session.token });
    let url = oc.buildAuthorizationUrl(webConfig, {
      redirect_uri: redirectUri,
      scope: "openid organizations",
      resource: "urn:roster:org",
      code_challenge: await oc.calculatePKCECodeChallenge(oc.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
    }).href;
    let uid: string | undefined;
    for (let hop = 0; hop < 10 && !uid; hop++) {
      const res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
      jar.store(res);
      url = new URL(res.headers.get("location")!, url).href;
      uid = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(url).pathname)?.[1];
    }
    const shown = await t.app.inject({ url: `/v1/oidc/interactions/${uid}`, headers: bearer(member.session) });
    expect(shown.statusCode, shown.body).toBe(200);
    expect(json<{ organizations: unknown[] }>(shown).organizations).toEqual([
      { id: orgId, name: "Acme Billing", role: "customer_service", roleTitle: "Customer service" },
      { id: zeta, name: "Zeta Billing", role: "ar_clerk", roleTitle: "Receivables clerk" },
    ]);
  });

  it("a public client (spa) signs in with PKCE and no secret; without PKCE it is refused", async () => {
    const member = await addMember(t, orgId, "sales");
    const ok = await codeFlow({ base, config: spaConfig, redirectUri, session: member.session });
    if ("error" in ok) throw new Error(JSON.stringify(ok.error));
    const tokens = await oc.authorizationCodeGrant(spaConfig, ok.callback, {
      pkceCodeVerifier: ok.verifier,
      expectedState: ok.state,
    });
    expect(tokens.claims()!.sub).toBe(member.userId);

    const bare = await codeFlow({ base, config: spaConfig, redirectUri, session: member.session, pkce: false });
    if ("error" in bare) throw new Error(JSON.stringify(bare.error));
    expect(bare.callback.searchParams.get("error")).toBe("invalid_request");
    expect(bare.callback.searchParams.get("error_description")).toMatch(/PKCE/);
  });

  it("a third-party application needs the person's consent; a first-party one does not", async () => {
    const partner = await registerApplication(t, operator, {
      name: "Partner reports",
      type: "web",
      redirectUris: [redirectUri],
      firstParty: false,
    });
    const config = await oc.discovery(
      new URL(`${base}/oidc`),
      partner.clientId,
      partner.clientSecret,
      undefined,
      insecure,
    );
    const member = await addMember(t, orgId, "sales");
    const refused = await codeFlow({ base, config, redirectUri, session: member.session });
    expect("error" in refused && refused.error.status).toBe(422);
    if ("error" in refused) expect(JSON.parse(refused.error.body)).toMatchObject({ error: { param: "consent" } });
    const approved = await codeFlow({ base, config, redirectUri, session: member.session, consent: true });
    if ("error" in approved) throw new Error(JSON.stringify(approved.error));
    const tokens = await oc.authorizationCodeGrant(config, approved.callback, {
      pkceCodeVerifier: approved.verifier,
      expectedState: approved.state,
    });
    expect(tokens.claims()!.sub).toBe(member.userId);
    expect(tokens.claims()!.amr).toEqual(["pwd"]);
  });

  it("an unknown redirect_uri is refused at Roster, never redirected to", async () => {
    const member = await addMember(t, orgId, "sales");
    const flow = await codeFlow({
      base,
      config: webConfig,
      redirectUri: "http://127.0.0.1:9/elsewhere",
      session: member.session,
    });
    expect("error" in flow && flow.error.status).toBe(400);
    if ("error" in flow) expect(flow.error.body).toMatch(/redirect_uri/);
  });

  it("a replayed code is refused, and a reused rotated refresh token revokes the whole family", async () => {
    const member = await addMember(t, orgId, "sales");
    const flow = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: member.session,
      resource: `urn:roster:org:${orgId}`,
    });
    if ("error" in flow) throw new Error(JSON.stringify(flow.error));
    const checks = { pkceCodeVerifier: flow.verifier, expectedState: flow.state };
    const first = await oc.authorizationCodeGrant(webConfig, flow.callback, checks);
    await expect(oc.authorizationCodeGrant(webConfig, flow.callback, checks)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    // RFC 6749 4.1.2: what the code gave is revoked when it is replayed.
    await expect(oc.refreshTokenGrant(webConfig, first.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });

    const again = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: member.session,
      resource: `urn:roster:org:${orgId}`,
    });
    if ("error" in again) throw new Error(JSON.stringify(again.error));
    const second = await oc.authorizationCodeGrant(webConfig, again.callback, {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
    });
    const rotated = await oc.refreshTokenGrant(webConfig, second.refresh_token!);
    expect(rotated.refresh_token).not.toBe(second.refresh_token);
    expect(decodeJwt(rotated.access_token).org_id).toBe(orgId);
    await expect(oc.refreshTokenGrant(webConfig, second.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    await expect(oc.refreshTokenGrant(webConfig, rotated.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });

  it("an inactive member gets no org token: not at sign-in, and not by refreshing a token from before", async () => {
    const member = await addMember(t, orgId, "sales");
    const flow = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: member.session,
      resource: `urn:roster:org:${orgId}`,
    });
    if ("error" in flow) throw new Error(JSON.stringify(flow.error));
    const tokens = await oc.authorizationCodeGrant(webConfig, flow.callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
    });
    const res = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${orgId}/members/${member.memberId}`,
      headers: bearer(operator),
      payload: { status: "inactive" },
    });
    expect(res.statusCode).toBe(200);
    await expect(oc.refreshTokenGrant(webConfig, tokens.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });

    const inactive = await addMember(t, orgId, "sales", { status: "inactive" });
    const refused = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: inactive.session,
      resource: `urn:roster:org:${orgId}`,
    });
    expect("error" in refused && refused.error.status).toBe(403);
    if ("error" in refused) expect(refused.error.body).toMatch(/member_inactive/);
  });

  it("an org token for another organization is refused at the token endpoint", async () => {
    const otherOrg = (await createOrg(t.app, operator, "billing", "Other")).id;
    const member = await addMember(t, orgId, "sales");
    const flow = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: member.session,
      resource: `urn:roster:org:${orgId}`,
    });
    if ("error" in flow) throw new Error(JSON.stringify(flow.error));
    const tokens = await oc.authorizationCodeGrant(webConfig, flow.callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
    });
    await expect(
      oc.refreshTokenGrant(webConfig, tokens.refresh_token!, { resource: `urn:roster:org:${otherOrg}` }),
    ).rejects.toMatchObject({ error: "invalid_target" });
  });

  it("removing a member ends the grant: the application receives a back-channel logout and the next refresh fails", async () => {
    const received: string[] = [];
    const receiver: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(new URLSearchParams(body).get("logout_token") ?? "");
        res.writeHead(200).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => receiver.listen(port, "127.0.0.1", resolve));
    try {
      const app = await registerApplication(t, operator, {
        name: "Logout receiver",
        type: "web",
        redirectUris: [redirectUri],
        backchannelLogoutUri: `http://127.0.0.1:${port}/backchannel-logout`,
      });
      const config = await oc.discovery(new URL(`${base}/oidc`), app.clientId, app.clientSecret, undefined, insecure);
      const member = await addMember(t, orgId, "customer_service");
      const flow = await codeFlow({
        base,
        config,
        redirectUri,
        session: member.session,
        resource: `urn:roster:org:${orgId}`,
      });
      if ("error" in flow) throw new Error(JSON.stringify(flow.error));
      const tokens = await oc.authorizationCodeGrant(config, flow.callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
      });
      const res = await t.app.inject({
        method: "DELETE",
        url: `/v1/orgs/${orgId}/members/${member.memberId}`,
        headers: bearer(operator),
      });
      expect(res.statusCode).toBe(200);
      await expect(oc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: "invalid_grant",
      });
      expect(await sendLogoutNotices(t.deps)).toEqual({ sent: 1, failed: 0 });
      expect(received).toHaveLength(1);
      const logout = decodeJwt(received[0]!);
      expect(logout.iss).toBe(`${base}/oidc`);
      expect(logout.aud).toBe(app.clientId);
      expect(logout.sub).toBe(member.userId);
      expect(logout.events).toEqual({ "http://schemas.openid.net/event/backchannel-logout": {} });
      // Sent once: nothing left in the queue.
      expect(await sendLogoutNotices(t.deps)).toEqual({ sent: 0, failed: 0 });
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });

  it("a member's sign-out ends the grants given in that session", async () => {
    const member = await addMember(t, orgId, "sales");
    const flow = await codeFlow({
      base,
      config: webConfig,
      redirectUri,
      session: member.session,
      resource: `urn:roster:org:${orgId}`,
    });
    if ("error" in flow) throw new Error(JSON.stringify(flow.error));
    const tokens = await oc.authorizationCodeGrant(webConfig, flow.callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
    });
    const out = await t.app.inject({ method: "POST", url: "/v1/auth/sign-out", headers: bearer(member.session) });
    expect(out.statusCode).toBeLessThan(300);
    await expect(oc.refreshTokenGrant(webConfig, tokens.refresh_token!)).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });

  it("SDK middleware: a Roster token opens the host app's route only for its org and only with the permission", async () => {
    const host = Fastify();
    host.decorateRequest("roster", null);
    host.addHook(
      "preHandler",
      rosterFastify({
        issuer: `${base}/oidc`,
        policy: presets.billing,
        orgId: (req) => (req.params as { orgId?: string }).orgId,
      }),
    );
    host.post("/orgs/:orgId/invoices/:id/void", { preHandler: requirePermission("invoice:void") }, async (req) => ({
      voided: (req.params as { id: string }).id,
    }));
    const tokenFor = async (role: string) => {
      const m = await addMember(t, orgId, role);
      const flow = await codeFlow({
        base,
        config: webConfig,
        redirectUri,
        session: m.session,
        resource: `urn:roster:org:${orgId}`,
      });
      if ("error" in flow) throw new Error(JSON.stringify(flow.error));
      const tokens = await oc.authorizationCodeGrant(webConfig, flow.callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
      });
      return tokens.access_token;
    };
    const cs = await tokenFor("customer_service");
    const sales = await tokenFor("sales");
    const post = (token: string, org: string) =>
      host.inject({
        method: "POST",
        url: `/orgs/${org}/invoices/inv_1/void`,
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await post(cs, orgId)).json()).toEqual({ voided: "inv_1" });
    const denied = await post(sales, orgId);
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toMatchObject({
      error: { type: "authorization_error", code: "permission_denied", requiredPermission: "invoice:void" },
    });
    const otherOrg = await post(cs, "org_other");
    expect(otherOrg.statusCode).toBe(401);
    expect(otherOrg.json()).toMatchObject({ error: { code: "token_invalid", message: /another organization/ } });
    await host.close();
  });

  it("roster create-application registers a client that works, and prints its secret once", async () => {
    const out: string[] = [];
    const program = new Command().exitOverride();
    const deps = { ...t.deps, db: { ...t.db, close: async () => undefined } };
    registerOidcCommands(program, async () => deps, { write: (s: string) => out.push(s) > 0 });
    await program.parseAsync(
      ["create-application", "--name", "From the CLI", "--type", "web", "--redirect-uri", redirectUri],
      { from: "user" },
    );
    const text = out.join("");
    const clientId = /client_id: (\S+)/.exec(text)?.[1];
    const secret = /client_secret: (\S+)/.exec(text)?.[1];
    expect(clientId).toBeTruthy();
    const config = await oc.discovery(new URL(`${base}/oidc`), clientId!, secret, undefined, insecure);
    const member = await addMember(t, orgId, "sales");
    const flow = await codeFlow({ base, config, redirectUri, session: member.session });
    if ("error" in flow) throw new Error(JSON.stringify(flow.error));
    const tokens = await oc.authorizationCodeGrant(config, flow.callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
    });
    expect(tokens.claims()!.sub).toBe(member.userId);

    await expect(
      program.parseAsync(["create-application", "--name", "x", "--type", "web", "--redirect-uri", "ftp://x"], {
        from: "user",
      }),
    ).rejects.toThrow(/redirectUris\.0: .*https/);
  });

  it("roster rotate-signing-key: the new key is published first, signs later, and the old one stays published", async () => {
    const jwks = async () =>
      ((await (await fetch(`${base}/oidc/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    const before = await jwks();
    expect(before).toHaveLength(1);
    const out: string[] = [];
    const program = new Command().exitOverride();
    const deps = { ...t.deps, db: { ...t.db, close: async () => undefined } };
    registerOidcCommands(program, async () => deps, { write: (s: string) => out.push(s) > 0 });
    await program.parseAsync(["rotate-signing-key"], { from: "user" });
    const kid = /New signing key (\S+)/.exec(out.join(""))?.[1];

    const member = await addMember(t, orgId, "sales");
    const signedBy = async () => {
      const flow = await codeFlow({ base, config: webConfig, redirectUri, session: member.session });
      if ("error" in flow) throw new Error(JSON.stringify(flow.error));
      const tokens = await oc.authorizationCodeGrant(webConfig, flow.callback, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
      });
      return decodeProtectedHeader(tokens.id_token!).kid;
    };
    t.clock.advance(61_000); // every instance reloads its keys within a minute
    expect(await jwks()).toEqual([before[0], kid]);
    expect(await signedBy()).toBe(before[0]);
    t.clock.advance(2 * 60_000); // the new key's publication lead has passed
    expect(await jwks()).toEqual([kid, before[0]]);
    expect(await signedBy()).toBe(kid);
  });
});
