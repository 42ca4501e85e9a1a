import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addMember,
  apiCall,
  checkPage,
  createOrg,
  launch,
  signUp,
  startServer,
  type Account,
  type Server,
} from "../../../packages/console/e2e/harness.ts";
import { freePort } from "../../../packages/server/test/oidc.helpers.ts";
import { createBillingApp } from "../src/app.ts";
import { openDb } from "../src/db.ts";

/** The example app in Chromium, signing in through Roster's hosted pages (its console) with the org picker. */
let server: Server;
let browser: Browser;
let billing: FastifyInstance;
let appUrl: string;
let cs: Account;
let sales: Account;
let orgId: string;

beforeAll(async () => {
  server = await startServer();
  const operator = await signUp(server, "Olivia Operator", "operator");
  await server.deps.db.owner((db) =>
    db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.userId}`),
  );
  orgId = (await createOrg(server, operator, "billing", "Pelican Billing")).id;
  cs = await signUp(server, "Casey Support", "casey");
  await addMember(server, orgId, cs, "customer_service");
  sales = await signUp(server, "Sam Sales", "sam");
  await addMember(server, orgId, sales, "sales");

  const port = await freePort();
  appUrl = `http://127.0.0.1:${port}`;
  const client = await apiCall<{ clientId: string; clientSecret: string }>(
    server,
    "POST",
    "/v1/platform/applications",
    operator.token,
    {
      name: "Billing example",
      type: "web",
      redirectUris: [`${appUrl}/callback`],
      postLogoutRedirectUris: [`${appUrl}/`],
    },
  );
  ({ app: billing } = await createBillingApp({ ...client, issuer: `${server.url}/oidc`, appUrl, db: await openDb() }));
  await billing.listen({ port, host: "127.0.0.1" });
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await billing?.close();
  await server?.close();
});

/** From the app's front page through Roster's sign-in and organization picker, back to the app's invoices. */
async function signInThroughRoster(page: Page, who: Account): Promise<void> {
  await page.goto(`${appUrl}/`);
  await page.getByRole("link", { name: "Sign in with Roster" }).click();
  await page.waitForURL((u) => u.origin === server.url && u.pathname.startsWith("/sign-in"));
  await page.getByLabel("Email").fill(who.email);
  await page.locator("input[autocomplete=current-password]").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => u.pathname.startsWith("/interaction/"));
  await page.getByRole("radio", { name: /Pelican Billing/ }).check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${appUrl}/invoices`);
}

describe("examples/billing-app in Chromium", () => {
  it("the front page offers sign-in with Roster", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${appUrl}/`);
    const { violations, errors } = await checkPage(browser, server, page, "billing-app-signed-out");
    expect(violations).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("a customer-service member signs in through Roster's pages and voids an invoice", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughRoster(page, cs);
    await expect.poll(() => page.getByRole("heading", { name: "Pelican Billing · Invoices" }).count()).toBe(1);
    await expect.poll(() => page.getByText("Casey Support (Customer service)").count()).toBe(1);
    expect(await page.getByRole("button", { name: /^Void INV-/ }).count()).toBe(3);
    const first = await checkPage(browser, server, page, "billing-app-invoices-customer-service");
    expect(first.violations).toEqual([]);

    await page.getByRole("button", { name: "Void INV-1001" }).click();
    await page.waitForURL(`${appUrl}/invoices?voided=INV-1001`);
    await expect.poll(() => page.getByRole("status").textContent()).toBe("Invoice INV-1001 is void.");
    const row = page.getByRole("row", { name: /INV-1001/ });
    await expect.poll(() => row.getByRole("cell", { name: "void", exact: true }).count()).toBe(1);
    expect(await page.getByRole("button", { name: /^Void INV-/ }).count()).toBe(2);
    const after = await checkPage(browser, server, page, "billing-app-invoice-voided", { inPlace: true });
    expect(after.violations).toEqual([]);
    await context.close();
  });

  it("a sales member sees no Void button, and the app's API answers 403 when the void is posted directly", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughRoster(page, sales);
    await expect.poll(() => page.getByText("Sam Sales (Sales)").count()).toBe(1);
    expect(await page.getByRole("row").count()).toBe(7); // the header and six invoices
    expect(await page.getByRole("button", { name: /^Void/ }).count()).toBe(0);
    const shot = await checkPage(browser, server, page, "billing-app-invoices-sales");
    expect(shot.violations).toEqual([]);

    // INV-1003 is open (the app's ids are the org's id and the number).
    const answer = await page.evaluate(async (id) => {
      const res = await fetch(`/invoices/${encodeURIComponent(id)}/void`, { method: "POST" });
      return { status: res.status, body: await res.json() };
    }, `${orgId}_INV-1003`);
    expect(answer).toEqual({
      status: 403,
      body: {
        error: {
          type: "authorization_error",
          code: "permission_denied",
          message: expect.any(String) as string,
          requiredPermission: "invoice:void",
        },
      },
    });
    await page.reload();
    const row = page.getByRole("row", { name: /INV-1003/ });
    expect(await row.getByRole("cell", { name: "open", exact: true }).count()).toBe(1);
    await context.close();
  });
});
