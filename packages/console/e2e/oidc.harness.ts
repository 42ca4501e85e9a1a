// What the Sign in with Roster browser tests share: a real Roster with a platform operator and two billing orgs
// (one that requires two-step verification), Chromium, the application's callback server, and the relying
// party's steps (openid-client). Each test file starts its own, in its own browser. @see issue 15
import { createServer, type Server as HttpServer } from "node:http";
import type { Browser } from "playwright-core";
import * as oc from "openid-client";
import * as OTPAuth from "otpauth";
import { sql } from "drizzle-orm";
import { apiCall, createOrg, launch, signUp, startServer, type Account, type Server } from "./harness.ts";

const insecure = { execute: [oc.allowInsecureRequests] };

/** The application's redirect URI: a real HTTP server on 127.0.0.1 that records what the browser brought back. */
export interface Callback {
  uri: string;
  next(): Promise<URL>;
  close(): Promise<void>;
}

export async function startCallback(): Promise<Callback> {
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
        const waiter = (u: URL) => {
          clearTimeout(timer);
          resolve(u);
        };
        // A waiter that gave up leaves the queue: else the next test's redirect would go to it and be lost.
        const timer = setTimeout(() => {
          const at = waiting.indexOf(waiter);
          if (at >= 0) waiting.splice(at, 1);
          reject(new Error("the browser never came back to the application"));
        }, 60_000);
        waiting.push(waiter);
      });
    },
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}

/** Enrols a TOTP factor for the account through the API; returns the generator for its codes. */
export async function enrolTotp(server: Server, account: Account): Promise<OTPAuth.TOTP> {
  const seed = await apiCall<{ secret: string }>(server, "POST", "/v1/me/mfa/totp", account.token);
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seed.secret), digits: 6, period: 30 });
  await apiCall(server, "POST", "/v1/me/mfa/totp/confirm", account.token, { code: totp.generate() });
  return totp;
}

export interface Oidc {
  server: Server;
  browser: Browser;
  callback: Callback;
  /** A platform operator (`developer_admin`), owner of both orgs; registers the applications. */
  operator: Account;
  /** Billing org, no MFA requirement. */
  acme: string;
  /** Billing org that requires two-step verification. */
  vault: string;
  /** Registers an application as the operator, redirecting to the callback server unless `body` says otherwise. */
  register(body: Record<string, unknown>): Promise<{ id: string; clientId: string; clientSecret?: string }>;
  /** The application's client configuration from discovery; without a secret, a public client. */
  relyingParty(clientId: string, secret?: string): Promise<oc.Configuration>;
  /** The application's first step: an authorization URL with a PKCE challenge (openid-client builds it). */
  authorizationRequest(
    config: oc.Configuration,
    resource: string,
  ): Promise<{ url: URL; verifier: string; state: string }>;
  close(): Promise<void>;
}

/**
 * Starts the server, the browser and the callback server, and seeds the operator and the two orgs.
 * `seed` runs after the operator and Acme exist and before Vault is created (e.g. to create further orgs).
 */
export async function startOidc(
  opts: { seed?: (server: Server, operator: Account) => Promise<void> } = {},
): Promise<Oidc> {
  const server = await startServer();
  let browser: Browser | undefined;
  let callback: Callback | undefined;
  try {
    browser = await launch();
    callback = await startCallback();
    return await seedOrgs(server, browser, callback, opts.seed);
  } catch (e) {
    // A setup that fails halfway stops what it started, as the test file's afterAll did.
    await browser?.close();
    await callback?.close();
    await server.close();
    throw e;
  }
}

async function seedOrgs(
  server: Server,
  browser: Browser,
  callback: Callback,
  more?: (server: Server, operator: Account) => Promise<void>,
): Promise<Oidc> {
  const operator = await signUp(server, "Oscar Operator", "operator");
  await server.deps.db.owner((db) =>
    db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.userId}`),
  );
  const acme = (await createOrg(server, operator, "billing", "Acme Billing")).id;
  await more?.(server, operator);
  const vault = (await createOrg(server, operator, "billing", "Vault Billing")).id;
  // An org may require MFA only once its owner has it.
  await enrolTotp(server, operator);
  await apiCall(server, "PATCH", `/v1/orgs/${vault}/security`, operator.token, { requireMfa: true });

  return {
    server,
    browser,
    callback,
    operator,
    acme,
    vault,
    register: (body) =>
      apiCall(server, "POST", "/v1/platform/applications", operator.token, {
        redirectUris: [callback.uri],
        ...body,
      }),
    relyingParty: (clientId, secret) =>
      oc.discovery(new URL(`${server.url}/oidc`), clientId, secret, secret ? undefined : oc.None(), insecure),
    authorizationRequest: async (config, resource) => {
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
    },
    close: async () => {
      await browser.close();
      await callback.close();
      await server.close();
    },
  };
}
