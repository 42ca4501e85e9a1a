/**
 * Access reviews in the console (@see issue 17): start a campaign (live scope count), decide by keyboard,
 * complete, download the report; axe in light and dark, screenshots at 1280 and 375.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import ExcelJS from "exceljs";
import type { Browser } from "playwright-core";
import {
  addMember,
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
let owner: Account;
let orgId: string;

beforeAll(async () => {
  server = await startServer();
  browser = await launch();
  owner = await signUp(server, "Olivia Owner", "owner");
  orgId = (await createOrg(server, owner, "operations", "Review Ops")).id;
  const admin = await signUp(server, "Adam Admin", "admin");
  await addMember(server, orgId, admin, "admin");
  for (const name of ["Rita Reader", "Rob Reader", "Ray Reader"]) {
    const a = await signUp(server, name, "reader");
    await addMember(server, orgId, a, "read_only", { storeIds: ["store-1"] });
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe("access reviews page", () => {
  it("starts a campaign, decides by keyboard, completes and downloads the report", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/access-reviews`);
    await page.getByRole("button", { name: "Start a campaign" }).click();
    await page.getByTestId("scope-count").filter({ hasText: "5 members in scope" }).waitFor();
    const startCheck = await checkPage(browser, server, page, "access-review-start", { inPlace: true });
    expect(startCheck.violations).toEqual([]);
    await page.getByRole("button", { name: "Start campaign" }).click();
    await page
      .getByRole("link", { name: /^Access review \d/ })
      .first()
      .click();
    await page.getByRole("table", { name: "Items to review" }).waitFor();

    // Keyboard: the first reader is kept, the next one revoked (focus moves down after each decision).
    const readers = page.locator('tr[data-testid^="item-reader"]');
    await readers.first().waitFor();
    const emails: string[] = [];
    for (let i = 0; i < (await readers.count()); i++)
      emails.push((await readers.nth(i).getAttribute("data-testid")) ?? "");
    await readers.first().focus();
    await page.keyboard.press("k");
    await page.getByText("All", { exact: true }).click();
    const row = (testId: string | undefined) => page.locator(`tr[data-testid="${testId}"]`);
    await row(emails[0]).getByText("Keep", { exact: true }).first().waitFor();
    await row(emails[1]).focus();
    await page.keyboard.press("r");
    await row(emails[1]).locator(".mantine-Badge-root", { hasText: "Revoke" }).waitFor();

    const queue = await checkPage(browser, server, page, "access-review-queue", {
      path: page.url().replace(/^https?:\/\/[^/]+/, ""),
      ready: async (p) => {
        await p.getByRole("table", { name: "Items to review" }).waitFor();
      },
    });
    expect(queue.violations).toEqual([]);
    expect(queue.errors).toEqual([]);
    expect(queue.files).toHaveLength(4);

    await page.getByRole("button", { name: "Complete" }).click();
    await page.getByText("1 member will be deactivated").waitFor();
    await page.getByRole("button", { name: "Apply and seal" }).click();
    await page
      .getByText(/completed$/)
      .first()
      .waitFor();

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Report (XLSX)" }).click(),
    ]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(await download.path());
    const items = wb.getWorksheet("Items")!;
    expect(items.rowCount).toBe(1 + 5);
    const decisions: unknown[] = [];
    items.eachRow((r, i) => {
      if (i > 1) decisions.push(r.getCell(12).value);
    });
    expect(decisions.filter((d) => d === "revoke")).toHaveLength(1);
    expect(decisions.filter((d) => d === "keep")).toHaveLength(1);
    await ctx.close();
  });

  it("the Team page filters by dormancy: members who signed in today, or joined today, are not dormant", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/team`);
    await page.getByText("Rita Reader").first().waitFor();
    await page.getByRole("combobox", { name: "Filter by last sign-in", exact: true }).click();
    await page.getByRole("option", { name: "Dormant 30+ days" }).click();
    await page.getByText("No members match").waitFor();
    expect(new URL(page.url()).searchParams.get("dormant")).toBe("30");
    expect(await page.getByText("Dormant", { exact: true }).count()).toBe(0);
    await page.getByRole("button", { name: "Clear filters" }).click();
    await page.getByText("Rita Reader").first().waitFor();
    expect(new URL(page.url()).searchParams.get("dormant")).toBeNull();
    await ctx.close();
  });
});
