// The console's Applications page, driven in Chromium: platform staff register applications for Sign in with Roster,
// and the id and secret they copy work with openid-client as the relying party. In its own file, with its own
// browser (it hung when it ran after the sign-in tests of oidc.test.ts in one browser). @see issue 15
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import * as oc from "openid-client";
import { decodeJwt } from "jose";
import { sql } from "drizzle-orm";
import { addMember, checkPage, newContext, signIn, signUp, type Server } from "./harness.ts";
import { startOidc, type Oidc } from "./oidc.harness.ts";

let oidc: Oidc;
let server: Server;
let browser: Browser;
let acme: string; // billing org, no MFA requirement

beforeAll(async () => {
  oidc = await startOidc();
  ({ server, browser, acme } = oidc);
});

afterAll(async () => {
  await oidc?.close();
});

describe("Applications in the console", () => {
  it("platform staff register, copy, rotate, edit and delete applications; the copied secrets work", async () => {
    const staffer = await signUp(server, "Paula Platform", "platform");
    await server.deps.db.owner((db) =>
      db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${staffer.userId}`),
    );
    await addMember(server, acme, staffer, "admin");
    await oidc.register({ name: "Support desk", type: "spa", firstParty: false });
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
    await form.getByRole("textbox", { name: "Redirect URIs", exact: true }).fill(oidc.callback.uri);
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
    const web = await oidc.relyingParty(webClientId, webSecret);
    const r = await oidc.authorizationRequest(web, `urn:roster:org:${acme}`);
    const flow = await ctx.newPage();
    await flow.goto(r.url.href);
    const back = await oidc.callback.next();
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
    const machine = await oidc.relyingParty(machineId, firstSecret);
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
    const renewed = await oidc.relyingParty(machineId, newSecret);
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
