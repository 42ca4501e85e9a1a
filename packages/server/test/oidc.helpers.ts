import { createServer } from "node:net";
import * as oc from "openid-client";
import type { TestApp, Session } from "./helpers.ts";
import { bearer, json } from "./helpers.ts";

/** A free port on 127.0.0.1, so that the issuer URL is known before the app is built. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Cookies a browser would keep for 127.0.0.1 (paths ignored: everything goes to one host). */
export class CookieJar {
  readonly #cookies = new Map<string, string>();
  constructor(initial: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(initial)) this.#cookies.set(k, v);
  }
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === "") this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

export async function registerApplication(
  t: TestApp,
  operator: Session,
  body: Record<string, unknown>,
): Promise<{ id: string; clientId: string; clientSecret?: string }> {
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/platform/applications",
    headers: bearer(operator),
    payload: body,
  });
  if (res.statusCode !== 201) throw new Error(`create application failed: ${res.statusCode} ${res.body}`);
  return json(res);
}

export interface FlowOptions {
  base: string;
  config: oc.Configuration;
  redirectUri: string;
  session: Session;
  scope?: string;
  resource?: string;
  orgId?: string;
  pkce?: boolean;
  /** Approves a third-party application's request, as its consent screen does. */
  consent?: boolean;
}

/**
 * The authorization code flow as a browser runs it: the authorization request, Roster's sign-in API for the
 * interaction (the console page calls the same endpoints), the redirects back, then the relying party's code
 * exchange with openid-client.
 */
export type FlowResult =
  { error: { status: number; body: string } } | { callback: URL; verifier: string; state: string; jar: CookieJar };

export async function codeFlow(o: FlowOptions): Promise<FlowResult> {
  const jar = new CookieJar({ roster_session: o.session.token });
  const verifier = oc.randomPKCECodeVerifier();
  const state = oc.randomState();
  const params: Record<string, string> = {
    redirect_uri: o.redirectUri,
    scope: o.scope ?? "openid email profile organizations offline_access",
    state,
  };
  // OpenID Connect Core 11: offline_access (a refresh token) is granted only with prompt=consent.
  if (params.scope!.split(" ").includes("offline_access")) params.prompt = "consent";
  if (o.pkce !== false) {
    params.code_challenge = await oc.calculatePKCECodeChallenge(verifier);
    params.code_challenge_method = "S256";
  }
  if (o.resource) params.resource = o.resource;
  let url = oc.buildAuthorizationUrl(o.config, params).href;
  let callback: string | null = null;
  for (let hop = 0; hop < 10 && !callback; hop++) {
    const res = await fetch(url, { redirect: "manual", headers: { cookie: jar.header() } });
    jar.store(res);
    const location = res.headers.get("location");
    if (!location) return { error: { status: res.status, body: await res.text() } };
    const next = new URL(location, url).href;
    if (next.startsWith(o.redirectUri)) {
      callback = next;
      break;
    }
    const interaction = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(next).pathname);
    if (interaction) {
      const done = await fetch(`${o.base}/v1/oidc/interactions/${interaction[1]}/complete`, {
        method: "POST",
        headers: { ...bearer(o.session), "content-type": "application/json" },
        body: JSON.stringify({ ...(o.orgId ? { orgId: o.orgId } : {}), ...(o.consent ? { consent: true } : {}) }),
      });
      if (done.status !== 200) return { error: { status: done.status, body: await done.text() } };
      url = ((await done.json()) as { redirectTo: string }).redirectTo;
      continue;
    }
    url = next;
  }
  if (!callback) throw new Error("the flow did not come back to the application");
  return { callback: new URL(callback), verifier, state, jar };
}

/** {@link codeFlow} to the end: the relying party's tokens, or an error naming what refused the sign-in. */
export async function signInTokens(
  o: FlowOptions,
): Promise<oc.TokenEndpointResponse & oc.TokenEndpointResponseHelpers> {
  const flow = await codeFlow(o);
  if ("error" in flow) throw new Error(`sign-in refused: ${flow.error.status} ${flow.error.body.slice(0, 200)}`);
  return oc.authorizationCodeGrant(o.config, flow.callback, {
    pkceCodeVerifier: flow.verifier,
    expectedState: flow.state,
  });
}
