// Sign in with Roster, driven in Chromium: an application (openid-client as the relying party) sends the browser
// to Roster's hosted pages (sign-in, two-step verification, organization picker, consent) and exchanges the code.
// Platform staff registering applications in the console: applications.test.ts. @see issue 15
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import * as oc from "openid-client";
import * as OTPAuth from "otpauth";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { presets } from "@roster/policy";
import {
  addMember,
  apiCall,
  checkPage,
  createOrg,
  newContext,
  PHONE,
  settle,
  signUp,
  type Account,
  type Server,
} from "./harness.ts";
import { enrolTotp, startOidc, type Oidc } from "./oidc.harness.ts";

let oidc: Oidc;
let server: Server;
let browser: Browser;
let acme: string; // billing org, no MFA requirement
let vault: string; // billing org that requires two-step verification
let other: string;

beforeAll(async () => {
  oidc = await startOidc({
    seed: async (srv, operator) => {
      other = (await createOrg(srv, operator, "billing", "Globex Billing")).id;
    },
  });
  ({ server, browser, acme, vault } = oidc);
  const next = oidc.callback.next.bind(oidc.callback);
  oidc.callback.next = async () => {
    note("waiting for the application's callback");
    const url = await next();
    note(`the application's callback: ${url.search.slice(0, 80)}`);
    return url;
  };
});

afterAll(async () => {
  await oidc?.close();
});

// What the browser did during the running test, printed if it fails: a test that hangs until its timeout then
// shows the last page it reached and the last document it asked for.
const trail: string[] = [];
let started = 0;
const note = (what: string) => trail.push(`${((performance.now() - started) / 1000).toFixed(1)} s  ${what}`);
beforeEach(({ onTestFailed }) => {
  trail.length = 0;
  started = performance.now();
  onTestFailed(() => console.error(`The browser during this test:\n${trail.join("\n")}`));
});

/** A browser context for one test, whose pages and documents are noted in the trail. */
async function open(opts: Parameters<typeof newContext>[2] = {}): Promise<BrowserContext> {
  const ctx = await newContext(browser, server, opts);
  ctx.on("page", (page) => {
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) note(`at ${f.url()}`);
    });
    page.on("load", () => note("page loaded"));
    page.on("pageerror", (e) => note(`page error: ${e.message}`));
    page.on("crash", () => note("page crashed"));
  });
  ctx.on("request", (r) => {
    if (r.resourceType() === "document" || r.resourceType() === "fetch") note(`${r.method()} ${r.url()}`);
  });
  ctx.on("requestfinished", (r) => {
    if (r.resourceType() === "document" || r.resourceType() === "fetch") note(`done ${r.url()}`);
  });
  ctx.on("requestfailed", (r) => note(`failed ${r.url()}: ${r.failure()?.errorText ?? "?"}`));
  return ctx;
}

async function fillSignIn(page: Page, account: Account): Promise<void> {
  await page.waitForURL((u) => u.pathname === "/sign-in");
  await page.getByLabel("Email").fill(account.email);
  await page.locator("input[autocomplete=current-password]").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The browser's own Roster session (the cookie the hosted pages set), to ask /v1/authorize as that sign-in. */
async function browserSession(ctx: BrowserContext): Promise<string> {
  const cookie = (await ctx.cookies(server.url)).find((c) => c.name === "roster_session");
  if (!cookie) throw new Error("the browser holds no Roster session");
  return cookie.value;
}

/**
 * The organization access token says what POST /v1/authorize says, for every action of the billing preset and
 * for every permission the token lists.
 */
async function expectClaimsMatchAuthorize(accessToken: string, session: string, orgId: string): Promise<string[]> {
  const at = decodeJwt(accessToken);
  const permissions = new Set(at.permissions as string[]);
  const checks = new Set<string>();
  for (const [resource, actions] of Object.entries(presets.billing.resources)) {
    for (const action of actions) checks.add(`${resource}:${action}`);
  }
  for (const p of permissions) checks.add(p.split("@")[0]!);
  const allowed: string[] = [];
  for (const permission of checks) {
    const [resource, action] = permission.split(":") as [string, string];
    const answer = await apiCall<{ allowed: boolean }>(server, "POST", "/v1/authorize", session, {
      orgId,
      action,
      resource: { type: resource },
    });
    expect(answer.allowed, permission).toBe(permissions.has(permission));
    if (answer.allowed) allowed.push(permission);
  }
  return allowed;
}

// A test here has, rarely and only in the full suite, waited until its 180 s timeout; it was never reproduced
// alone or under load. Its browser trail (above) is printed when that happens, and the test runs once more: it
// fails only if it fails twice.
describe("Sign in with Roster in the browser", { retry: 1 }, () => {
  it("a member without MFA: sign-in page, organization picker, code + PKCE, claims as /v1/authorize answers", async () => {
    const app = await oidc.register({ name: "Billing app", type: "web" });
    const config = await oidc.relyingParty(app.clientId, app.clientSecret);
    const member = await signUp(server, "Cora Service", "cs");
    await addMember(server, acme, member, "customer_service", { department: "support", storeIds: ["st_1", "st_2"] });
    await addMember(server, other, member, "sales");

    const ctx = await open();
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const request = await oidc.authorizationRequest(config, "urn:roster:org");
    await page.goto(request.url.href);
    // Signed out: Roster's own sign-in page, with its forgot-password link.
    await page.waitForURL(
      (u) => u.pathname === "/sign-in" && (u.searchParams.get("next") ?? "").startsWith("/interaction/"),
    );
    const forgot = page.getByRole("link", { name: "Forgot your password?" });
    expect(await forgot.getAttribute("href")).toBe("/forgot-password");
    await page.getByText("to continue to Billing app").waitFor();
    const signInCheck = await checkPage(browser, server, page, "oidc-sign-in", { inPlace: true });
    expect(signInCheck.violations).toEqual([]);
    await fillSignIn(page, member);

    // The app asked for an organization without naming one: the picker lists the active memberships.
    await page.waitForURL((u) => u.pathname.startsWith("/interaction/"));
    const picker = page.getByRole("radiogroup", { name: "Organization" });
    await picker.waitFor();
    expect(await picker.getByRole("radio").count()).toBe(2);
    expect(await page.getByRole("button", { name: "Continue" }).isDisabled()).toBe(true);
    // First-party: no consent list.
    expect(await page.getByText(/asks to/).count()).toBe(0);
    const pickerCheck = await checkPage(browser, server, page, "oidc-org-picker", { inPlace: true });
    expect(pickerCheck.violations).toEqual([]);
    await picker.getByRole("radio", { name: /Acme Billing/ }).check();
    await page.getByRole("button", { name: "Continue" }).click();

    const back = await oidc.callback.next();
    await page.getByRole("heading", { name: "Back in the billing app" }).waitFor();
    const tokens = await oc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
    });
    const id = tokens.claims()!;
    expect(id.sub).toBe(member.userId);
    expect(id.email).toBe(member.email);
    expect(id.name).toBe("Cora Service");
    expect(id.amr).toEqual(["pwd"]);
    expect(id.organizations).toEqual(
      expect.arrayContaining([
        { id: acme, name: "Acme Billing", role: "customer_service" },
        { id: other, name: "Globex Billing", role: "sales" },
      ]),
    );
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe("at+jwt");
    const at = decodeJwt(tokens.access_token);
    expect(at).toMatchObject({
      aud: `urn:roster:org:${acme}`,
      sub: member.userId,
      org_id: acme,
      role: "customer_service",
      store_ids: ["st_1", "st_2"],
      department: "support",
      hidden_modules: [],
    });
    expect(at.exp! - at.iat!).toBe(300);
    const allowed = await expectClaimsMatchAuthorize(tokens.access_token, await browserSession(ctx), acme);
    expect(allowed).toContain("invoice:void");
    expect(allowed).not.toContain("plan:create");
    expect(tokens.refresh_token).toBeTruthy();
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it("a member with MFA: the two-step verification page, then the org that requires it; amr carries otp", async () => {
    const app = await oidc.register({ name: "Billing app (MFA)", type: "web" });
    const config = await oidc.relyingParty(app.clientId, app.clientSecret);
    const member = await signUp(server, "Max Factor", "mfa");
    await addMember(server, vault, member, "sales", { storeIds: ["st_9"] });
    await addMember(server, acme, member, "admin");
    const totp = await enrolTotp(server, member);

    const ctx = await open();
    const page = await ctx.newPage();
    const request = await oidc.authorizationRequest(config, "urn:roster:org");
    await page.goto(request.url.href);
    await fillSignIn(page, member);
    await page.getByRole("heading", { name: "Two-step verification" }).waitFor();
    const mfaCheck = await checkPage(browser, server, page, "oidc-mfa", { inPlace: true });
    expect(mfaCheck.violations).toEqual([]);
    await page.getByLabel("Authentication code").first().click();
    // The current step's code was spent on enrolment; the next one is within the accepted window.
    await page.keyboard.type(totp.generate({ timestamp: Date.now() + 30_000 }));

    const picker = page.getByRole("radiogroup", { name: "Organization" });
    await picker.waitFor();
    await picker.getByRole("radio", { name: /Vault Billing/ }).check();
    await page.getByRole("button", { name: "Continue" }).click();
    const back = await oidc.callback.next();
    const tokens = await oc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
    });
    expect(tokens.claims()!.amr).toEqual(["pwd", "otp"]);
    const at = decodeJwt(tokens.access_token);
    expect(at).toMatchObject({ org_id: vault, role: "sales", store_ids: ["st_9"], department: null });
    // The browser's session showed the factor, so /v1/authorize answers for the org that requires it.
    const allowed = await expectClaimsMatchAuthorize(tokens.access_token, await browserSession(ctx), vault);
    expect(allowed).toContain("plan:create");
    expect(allowed).not.toContain("invoice:void");
    await ctx.close();
  });

  it("a member without MFA, in an org that requires it, sets up the factor on the way and then continues", async () => {
    const app = await oidc.register({ name: "Billing app (gate)", type: "web" });
    const config = await oidc.relyingParty(app.clientId, app.clientSecret);
    const member = await signUp(server, "Nell Newfactor", "nomfa");
    await addMember(server, vault, member, "customer_service");
    const ctx = await open();
    const page = await ctx.newPage();
    const request = await oidc.authorizationRequest(config, `urn:roster:org:${vault}`);
    await page.goto(request.url.href);
    await fillSignIn(page, member);
    await page.waitForURL((u) => u.pathname === "/mfa/enroll");
    const secret = (await page.getByTestId("mfa-secret").textContent())!.trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await page.getByLabel("6-digit code").first().click();
    await page.keyboard.type(totp.generate());
    await page.getByLabel("I saved these codes somewhere safe").check();
    await page.getByRole("button", { name: "Continue" }).click();
    // Back to the sign-in request; first-party with the org named: straight on to the application.
    const back = await oidc.callback.next();
    const tokens = await oc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
    });
    expect(tokens.claims()!.amr).toEqual(["pwd", "otp"]);
    expect(decodeJwt(tokens.access_token)).toMatchObject({ org_id: vault, role: "customer_service" });
    await ctx.close();
  });

  it("a third-party application shows the consent screen; a first-party one goes straight back", async () => {
    const thirdParty = await oidc.register({ name: "Partner Reports", type: "web", firstParty: false });
    const firstParty = await oidc.register({ name: "Billing app (named org)", type: "web" });
    const member = await signUp(server, "Tia Third", "consent");
    await addMember(server, acme, member, "customer_service");
    const ctx = await open();
    const page = await ctx.newPage();

    // First-party, org named in the request: after sign-in nothing to pick and nothing to approve.
    const fp = await oidc.relyingParty(firstParty.clientId, firstParty.clientSecret);
    const r1 = await oidc.authorizationRequest(fp, `urn:roster:org:${acme}`);
    await page.goto(r1.url.href);
    await fillSignIn(page, member);
    const back1 = await oidc.callback.next();
    await page.getByRole("heading", { name: "Back in the billing app" }).waitFor();
    const t1 = await oc.authorizationCodeGrant(fp, back1, { pkceCodeVerifier: r1.verifier, expectedState: r1.state });
    expect(decodeJwt(t1.access_token).org_id).toBe(acme);

    // Third-party: the person sees what the application asks for and approves it.
    const tp = await oidc.relyingParty(thirdParty.clientId, thirdParty.clientSecret);
    const declined = await oidc.authorizationRequest(tp, `urn:roster:org:${acme}`);
    await page.goto(declined.url.href);
    await page.getByText("Partner Reports asks to:").waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    const refused = await oidc.callback.next();
    expect(refused.searchParams.get("error")).toBe("access_denied");
    // The callback request arrives before the browser has finished loading it: the next navigation waits.
    await page.waitForURL((u) => u.pathname === "/callback");

    const r2 = await oidc.authorizationRequest(tp, `urn:roster:org:${acme}`);
    await page.goto(r2.url.href);
    await page.getByRole("heading", { name: "Continue to Partner Reports" }).waitFor();
    const list = page.getByRole("list", { name: "What Partner Reports asks for" });
    expect(await list.getByRole("listitem").allTextContents()).toEqual(
      expect.arrayContaining(["See your email address", "See the organizations you belong to and your role in them"]),
    );
    const consentCheck = await checkPage(browser, server, page, "oidc-consent", { inPlace: true });
    expect(consentCheck.violations).toEqual([]);
    expect(consentCheck.errors).toEqual([]);
    await page.getByRole("button", { name: "Allow" }).click();
    const back2 = await oidc.callback.next();
    const t2 = await oc.authorizationCodeGrant(tp, back2, { pkceCodeVerifier: r2.verifier, expectedState: r2.state });
    expect(t2.claims()!.sub).toBe(member.userId);
    expect(decodeJwt(t2.access_token).role).toBe("customer_service");
    await ctx.close();
  });

  it("the hosted pages fit a phone: no sideways scrolling at 375 px", async () => {
    const app = await oidc.register({ name: "Billing app on a phone", type: "spa" });
    const config = await oidc.relyingParty(app.clientId);
    const member = await signUp(server, "Pia Phone", "phone");
    await addMember(server, acme, member, "sales");
    await addMember(server, other, member, "sales");
    const ctx = await open({ viewport: PHONE });
    const page = await ctx.newPage();
    const request = await oidc.authorizationRequest(config, "urn:roster:org");
    await page.goto(request.url.href);
    await page.getByLabel("Email").waitFor();
    const wide = () => page.evaluate<number>("document.documentElement.scrollWidth");
    expect(await wide()).toBeLessThanOrEqual(PHONE.width);
    await fillSignIn(page, member);
    await page.getByRole("radiogroup", { name: "Organization" }).waitFor();
    await settle(page);
    expect(await wide()).toBeLessThanOrEqual(PHONE.width);
    await page.getByRole("radio", { name: /Globex Billing/ }).check();
    await page.getByRole("button", { name: "Continue" }).click();
    const back = await oidc.callback.next();
    const tokens = await oc.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
    });
    expect(decodeJwt(tokens.access_token).org_id).toBe(other);
    await ctx.close();
  });
});
