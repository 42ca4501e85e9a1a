// Sign in with Roster, driven in Chromium: an application (openid-client as the relying party) sends the browser
// to Roster's hosted pages (sign-in, two-step verification, organization picker, consent) and exchanges the code;
// platform staff register applications in the console. @see issue 15
import { createServer, type Server as HttpServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import * as oc from "openid-client";
import * as OTPAuth from "otpauth";
import { decodeJwt } from "jose";
import { sql } from "drizzle-orm";
import {
  addMember,
  apiCall,
  checkPage,
  createOrg,
  launch,
  newContext,
  signIn,
  signUp,
  startServer,
  type Account,
  type Server,
} from "./harness.ts";

let server: Server;
let browser: Browser;
let operator: Account;
let acme: string; // billing org, no MFA requirement
let vault: string; // billing org that requires two-step verification
let callback: Callback;
const insecure = { execute: [oc.allowInsecureRequests] };

/** The application's redirect URI: a real HTTP server on 127.0.0.1 that records what the browser brought back. */
interface Callback {
  uri: string;
  next(): Promise<URL>;
  close(): Promise<void>;
}

async function startCallback(): Promise<Callback> {
  const waiting: Array<(u: URL) => void> = [];
  const arrived: URL[] = [];
  const http: HttpServer = createServer((req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
    if (url.pathname !== "/callback") {
      res.writeHead(404).end(); // the browser's favicon request
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end('<!doctype html><html lang="en"><title>Billing app</title><h1>Back in the billing app</h1></html>');
    const w = waiting.shift();
    if (w) w(url);
    else arrived.push(url);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = (http.address() as { port: number }).port;
  return {
    uri: `http://127.0.0.1:${port}/callback`,
    next: () => {
      const ready = arrived.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<URL>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the browser never came back to the application")), 60_000);
        waiting.push((u) => {
          clearTimeout(timer);
          resolve(u);
        });
      });
    },
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}

async function enrolTotp(account: Account): Promise<OTPAuth.TOTP> {
  const seed = await apiCall<{ secret: string }>(server, "POST", "/v1/me/mfa/totp", account.token);
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seed.secret), digits: 6, period: 30 });
  await apiCall(server, "POST", "/v1/me/mfa/totp/confirm", account.token, { code: totp.generate() });
  return totp;
}

beforeAll(async () => {
  server = await startServer();
  browser = await launch();
  callback = await startCallback();
  operator = await signUp(server, "Oscar Operator", "operator");
  await server.deps.db.owner((db) =>
    db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.userId}`),
  );
  acme = (await createOrg(server, operator, "billing", "Acme Billing")).id;
  vault = (await createOrg(server, operator, "billing", "Vault Billing")).id;
  // An org may require MFA only once its owner has it.
  await enrolTotp(operator);
  await apiCall(server, "PATCH", `/v1/orgs/${vault}/security`, operator.token, { requireMfa: true });
});

afterAll(async () => {
  await browser?.close();
  await callback?.close();
  await server?.close();
});

async function register(body: Record<string, unknown>) {
  return apiCall<{ id: string; clientId: string; clientSecret?: string }>(
    server,
    "POST",
    "/v1/platform/applications",
    operator.token,
    { redirectUris: [callback.uri], ...body },
  );
}

async function relyingParty(clientId: string, secret?: string): Promise<oc.Configuration> {
  return oc.discovery(new URL(`${server.url}/oidc`), clientId, secret, secret ? undefined : oc.None(), insecure);
}

/** The application's first step: an authorization URL with a PKCE challenge (openid-client builds it). */
async function authorizationRequest(config: oc.Configuration, resource: string) {
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const url = oc.buildAuthorizationUrl(config, {
    redirect_uri: callback.uri,
    scope: "openid email profile organizations offline_access",
    // OpenID Connect Core 11: a refresh token (offline_access) is granted only with prompt=consent.
    prompt: "consent",
    code_challenge: await oc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    resource,
    state,
  });
  return { url, verifier, state };
}

describe("Applications in the console", () => {
  it("platform staff register, copy, rotate, edit and delete applications; the copied secrets work", async () => {
    const staffer = await signUp(server, "Paula Platform", "platform");
    await server.deps.db.owner((db) =>
      db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${staffer.userId}`),
    );
    await addMember(server, acme, staffer, "admin");
    await register({ name: "Support desk", type: "spa", firstParty: false });
    const ctx = await newContext(browser, server);
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const clipboard = () => page.evaluate<string>("navigator.clipboard.readText()");
    await signIn(page, staffer, "/platform");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Applications" }).click();
    await page.waitForURL((u) => u.pathname === "/platform/applications");
    const list = await checkPage(browser, server, page, "applications", {
      ready: async (p) => {
        await p.getByRole("heading", { name: "Applications" }).waitFor();
        await p.getByText("Support desk", { exact: true }).first().waitFor();
      },
    });
    expect(list.violations).toEqual([]);
    expect(list.errors).toEqual([]);

    // A web app: a redirect URI the API refuses is explained in the form; fixed, it registers.
    await page.getByRole("button", { name: "Register application" }).click();
    const form = page.getByRole("dialog", { name: "Register an application" });
    await form.getByLabel("Name").fill("Invoices portal");
    await form.getByRole("textbox", { name: "Redirect URIs", exact: true }).fill("http://portal.example.com/callback");
    await form.getByLabel("Back-channel logout URI (optional)").fill("http://127.0.0.1:9/backchannel");
    const formCheck = await checkPage(browser, server, page, "applications-register", { inPlace: true });
    expect(formCheck.violations).toEqual([]);
    await form.getByRole("button", { name: "Register" }).click();
    await form
      .getByRole("alert")
      .getByText(/must use https/)
      .waitFor();
    await form.getByRole("textbox", { name: "Redirect URIs", exact: true }).fill(callback.uri);
    await form.getByRole("button", { name: "Register" }).click();
    const shown = page.getByRole("dialog", { name: "Application registered" });
    await shown.getByText("This is the only time the client secret is shown.").waitFor();
    const secretCheck = await checkPage(browser, server, page, "applications-secret", { inPlace: true });
    expect(secretCheck.violations).toEqual([]);
    await shown.getByRole("button", { name: "Copy client id" }).click();
    const webClientId = await clipboard();
    expect(webClientId).toMatch(/^rc_/);
    await shown.getByRole("button", { name: "Copy client secret" }).click();
    const webSecret = await clipboard();
    expect(webSecret).toMatch(/^rcs_/);
    await shown.getByRole("button", { name: "I have stored it" }).click();
    await shown.waitFor({ state: "detached" });

    // The copied client works: this browser (already signed in) goes through the code flow with it.
    const web = await relyingParty(webClientId, webSecret);
    const r = await authorizationRequest(web, `urn:roster:org:${acme}`);
    const flow = await ctx.newPage();
    await flow.goto(r.url.href);
    const back = await callback.next();
    const tokens = await oc.authorizationCodeGrant(web, back, { pkceCodeVerifier: r.verifier, expectedState: r.state });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ org_id: acme, role: "admin" });
    await flow.close();

    // A machine app: client credentials with the copied secret; a rotated secret replaces it at once.
    await page.getByRole("button", { name: "Register application" }).click();
    await form.getByLabel("Name").fill("Reports worker");
    await form.getByLabel("Type", { exact: true }).click();
    await page.getByRole("option", { name: "Machine" }).click();
    expect(await form.getByRole("textbox", { name: "Redirect URIs", exact: true }).count()).toBe(0);
    await form.getByRole("button", { name: "Register" }).click();
    await shown.getByRole("button", { name: "Copy client id" }).click();
    const machineId = await clipboard();
    await shown.getByRole("button", { name: "Copy client secret" }).click();
    const firstSecret = await clipboard();
    await shown.getByRole("button", { name: "I have stored it" }).click();
    const machine = await relyingParty(machineId, firstSecret);
    expect((await oc.clientCredentialsGrant(machine)).access_token).toBeTruthy();

    const row = (name: string) => page.getByTestId("application-row").filter({ hasText: name });
    await row("Reports worker").getByRole("button", { name: "Actions for Reports worker" }).click();
    await page.getByRole("menuitem", { name: "Rotate secret" }).click();
    await page
      .getByRole("dialog", { name: /Rotate the secret/ })
      .getByRole("button", { name: "Rotate secret" })
      .click();
    const rotated = page.getByRole("dialog", { name: "New client secret" });
    await rotated.getByRole("button", { name: "Copy client secret" }).click();
    const newSecret = await clipboard();
    expect(newSecret).not.toBe(firstSecret);
    await rotated.getByRole("button", { name: "I have stored it" }).click();
    await expect(oc.clientCredentialsGrant(machine)).rejects.toMatchObject({ error: "invalid_client" });
    const renewed = await relyingParty(machineId, newSecret);
    expect((await oc.clientCredentialsGrant(renewed)).access_token).toBeTruthy();

    // Edit: a new name.
    await row("Reports worker").getByRole("button", { name: "Actions for Reports worker" }).click();
    await page.getByRole("menuitem", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit “Reports worker”" });
    await edit.getByLabel("Name").fill("Nightly reports");
    await edit.getByRole("button", { name: "Save" }).click();
    await row("Nightly reports").waitFor();

    // Delete, confirmed by typing the name: the client stops working.
    await row("Nightly reports").getByRole("button", { name: "Actions for Nightly reports" }).click();
    await page.getByRole("menuitem", { name: "Delete" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete “Nightly reports”?" });
    expect(await confirm.getByRole("button", { name: "Delete application" }).isDisabled()).toBe(true);
    await confirm.getByLabel("Type “Nightly reports” to confirm").fill("Nightly reports");
    await confirm.getByRole("button", { name: "Delete application" }).click();
    await confirm.waitFor({ state: "detached" });
    await row("Nightly reports").waitFor({ state: "detached" });
    await expect(oc.clientCredentialsGrant(renewed)).rejects.toMatchObject({ error: "invalid_client" });
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it("someone without an operator's platform role finds no Applications page", async () => {
    const member = await signUp(server, "Ned Nobody", "nobody");
    await addMember(server, acme, member, "admin");
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, member, "/platform/applications");
    await page.getByText("For the installation's operators only").waitFor();
    expect(
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Applications" }).count(),
    ).toBe(0);
    await ctx.close();
  });
});
