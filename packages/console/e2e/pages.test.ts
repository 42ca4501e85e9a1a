import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import {
  addMember, createOrg, launch, newContext, screenshotAll, seriousViolations, settle, signIn, signUp, startServer, SCREENSHOT_DIR,
  type Account, type Server,
} from "./harness.ts";

let server: Server;
let browser: Browser;
let owner: Account;
let orgId: string;

beforeAll(async () => {
  server = await startServer();
  browser = await launch();
  owner = await signUp(server, "Olivia Owner", "owner");
  orgId = (await createOrg(server, owner, "operations", "Northwind Ops")).id;
  const people: Array<[string, string, { storeIds?: string[]; status?: "active" | "inactive" }]> = [
    ["Adam Admin", "admin", {}], ["Sam Staff", "staff", { storeIds: ["store-1", "store-2"] }], ["Rita Reader", "read_only", { storeIds: ["store-1"] }],
    ["Ivan Inactive", "staff", { status: "inactive", storeIds: ["store-3"] }],
  ];
  for (const [name, role, extra] of people) await addMember(server, orgId, await signUp(server, name, role), role, extra);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  process.stdout.write(`\nConsole screenshots: ${SCREENSHOT_DIR}\n`);
});

/** Each page: loads without errors, passes axe in light and dark, and is saved at both sizes in both schemes. */
async function checkPage(page: Page, path: string, name: string, ready: (p: Page) => Promise<void>) {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(path);
  await ready(page);
  await settle(page);
  expect(await seriousViolations(page), `${name} (light)`).toEqual([]);
  await page.emulateMedia({ colorScheme: "dark" });
  await settle(page);
  expect(await seriousViolations(page), `${name} (dark)`).toEqual([]);
  await page.emulateMedia({ colorScheme: "light" });
  expect(errors).toEqual([]);
  const files = await screenshotAll(browser, server, page, name);
  expect(files).toHaveLength(4);
}

describe("every console page renders, passes axe and is screenshotted", () => {
  it("sign-in", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await checkPage(page, "/sign-in", "sign-in", async (p) => {
      await p.getByRole("button", { name: "Sign in" }).waitFor();
    });
    await ctx.close();
  });

  it("team, roles, account and the member panel, signed in as the owner", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner);
    await page.waitForURL(`**/orgs/${orgId}/team`);
    await checkPage(page, `/orgs/${orgId}/team`, "team", async (p) => {
      await p.getByTestId("member-row").first().waitFor();
    });
    expect(await page.getByTestId("member-row").count()).toBe(5);
    await expect.poll(() => page.getByTestId("member-count").textContent()).toContain("5 members · 1 inactive");

    await checkPage(page, `/orgs/${orgId}/roles`, "roles", async (p) => {
      await p.getByRole("table", { name: "Permission matrix" }).waitFor();
    });
    await checkPage(page, `/account`, "account", async (p) => {
      await p.getByText("This device").waitFor();
    });
    await ctx.close();
  });
});
