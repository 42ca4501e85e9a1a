/**
 * The Webhooks page (@see issue 16): create an endpoint, copy its secret (shown once), send a test event that a
 * real receiver on 127.0.0.1 verifies with the copied secret (`standardwebhooks`), a 500 shown as retrying, Retry
 * delivers it; the row menu (edit, rotate, disable, delete); axe in light and dark, screenshots at 1280 and 375.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { EventSignals } from "../../server/src/events/signals.ts";
import { webhookWorker, type WebhookWorker } from "../../server/src/webhooks/worker.ts";
import { Receiver } from "../../server/test/webhooks.helpers.ts";
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
let member: Account;
let orgId: string;
let signals: EventSignals;
let worker: WebhookWorker;
const receiver = new Receiver();

beforeAll(async () => {
  // The operator flag that lets webhooks reach 127.0.0.1 (ROSTER_WEBHOOK_ALLOW_PRIVATE=true).
  server = await startServer({ webhookAllowPrivate: true });
  // The delivery worker as `roster start` runs it, woken by commits. The first retry waits 10 minutes here, so
  // a failed delivery that arrives within the test can only have been sent again by the Retry button.
  signals = new EventSignals(server.deps);
  worker = webhookWorker(server.deps, { signals, retryScheduleMs: [600_000, 600_000] });
  worker.start();
  await receiver.start();
  browser = await launch();
  owner = await signUp(server, "Olivia Owner", "owner");
  orgId = (await createOrg(server, owner, "saas", "Hook Works")).id;
  member = await signUp(server, "Mia Member", "member");
  await addMember(server, orgId, member, "member");
});

afterAll(async () => {
  await worker?.stop();
  await signals?.close();
  await receiver.stop();
  await browser?.close();
  await server?.close();
});

const row = (page: Page, id: string) => page.locator(`[data-delivery-id="${id}"]`);

describe("webhooks page", () => {
  it("creates an endpoint, copies its secret once, delivers a test event, retries a failure, then edits, rotates, disables and deletes it", async () => {
    const ctx = await newContext(browser, server);
    await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await signIn(page, owner, `/orgs/${orgId}/webhooks`);
    await page.getByText("No webhook endpoints yet").waitFor();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Webhooks" }).waitFor();

    // Create, by keyboard in the event picker.
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a webhook endpoint" });
    await dialog.getByLabel("Endpoint URL").fill(receiver.url);
    await dialog.getByRole("combobox", { name: /^Events/ }).focus();
    await page.keyboard.type("team.*");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await dialog.getByLabel("Description (optional)").fill("Seat provisioning");
    const pickerCheck = await checkPage(browser, server, page, "webhooks-create", { inPlace: true });
    expect(pickerCheck.violations).toEqual([]);
    await dialog.getByRole("button", { name: "Add endpoint" }).click();

    // The secret, once: copied through the clipboard, as a person would.
    const secretBox = page.getByTestId("webhook-secret");
    await secretBox.waitFor();
    const shown = (await secretBox.textContent())?.trim() ?? "";
    expect(shown).toMatch(/^whsec_/);
    await page.getByRole("button", { name: "Copy secret" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    const copied = await page.evaluate<string>("navigator.clipboard.readText()");
    expect(copied).toBe(shown);
    receiver.secret = copied;
    const secretCheck = await checkPage(browser, server, page, "webhooks-secret", { inPlace: true });
    expect(secretCheck.violations).toEqual([]);
    await page.getByRole("button", { name: "I have stored it" }).click();
    await page.reload();
    const listed = page.getByTestId("webhook-row");
    await listed.first().waitFor();
    await expect(listed.count()).resolves.toBe(1);
    expect(await page.content()).not.toContain(copied);
    await expect(listed.first().textContent()).resolves.toContain("team.*");
    await expect(listed.first().textContent()).resolves.toContain("None yet");

    // A test event: delivered, and verified by the receiver with the copied secret.
    await page.getByRole("link", { name: receiver.url }).click();
    await page.getByRole("table", { name: "Delivery log" }).or(page.getByText("No deliveries yet")).waitFor();
    await page.getByRole("button", { name: "Send test event" }).click();
    const first = page.getByTestId("delivery-row").first();
    await first.getByText("Delivered").waitFor({ timeout: 30_000 });
    const firstId = (await first.getAttribute("data-delivery-id")) ?? "";
    const got = receiver.received.filter((r) => r.id === firstId);
    expect(got).toHaveLength(1);
    expect(got[0]!.verified).toBe(true);
    expect(got[0]!.payload?.type).toBe("webhook.test");
    expect(got[0]!.payload?.orgId).toBe(orgId);

    // The receiver fails once: the log says so; Retry (receiver fine again) delivers it with the same webhook-id.
    receiver.answer = () => 500;
    await page.getByRole("button", { name: "Send test event" }).click();
    const failing = page.getByTestId("delivery-row").first();
    await failing.getByText("Retrying").waitFor({ timeout: 30_000 });
    const failingId = (await failing.getAttribute("data-delivery-id")) ?? "";
    expect(failingId).not.toBe(firstId);
    await expect(row(page, failingId).textContent()).resolves.toContain("HTTP 500");
    const failedCheck = await checkPage(browser, server, page, "webhooks-endpoint", {
      path: new URL(page.url()).pathname,
      ready: async (p) => {
        await p.getByTestId("delivery-row").first().waitFor();
      },
    });
    expect(failedCheck.violations).toEqual([]);
    expect(failedCheck.errors).toEqual([]);
    await row(page, failingId).getByText("Retrying").waitFor();
    receiver.answer = () => 200;
    await row(page, failingId)
      .getByRole("button", { name: /^Retry/ })
      .click();
    await row(page, failingId).getByText("Delivered").waitFor({ timeout: 30_000 });
    const twice = receiver.received.filter((r) => r.id === failingId);
    expect(twice).toHaveLength(2);
    expect(twice.every((r) => r.verified)).toBe(true);

    // The detail view: both attempts, their codes and the start of the bodies.
    await row(page, failingId).getByRole("button", { name: "webhook.test", exact: true }).click();
    const detail = page.getByRole("dialog", { name: "Delivery of webhook.test" });
    await detail.waitFor();
    const attempts = detail.getByTestId("delivery-attempt");
    await expect(attempts.count()).resolves.toBe(2);
    await expect(attempts.nth(0).textContent()).resolves.toContain("HTTP 500");
    await expect(attempts.nth(0).textContent()).resolves.toContain("receiver says no");
    await expect(attempts.nth(1).textContent()).resolves.toContain("HTTP 200");
    const detailCheck = await checkPage(browser, server, page, "webhooks-delivery", { inPlace: true });
    expect(detailCheck.violations).toEqual([]);
    await page.keyboard.press("Escape");
    await detail.waitFor({ state: "hidden" });

    // The list, with the endpoint's newest delivery.
    const listCheck = await checkPage(browser, server, page, "webhooks-list", {
      path: `/orgs/${orgId}/webhooks`,
      ready: async (p) => {
        await p.getByTestId("webhook-row").first().getByText("Delivered").waitFor();
      },
    });
    expect(listCheck.violations).toEqual([]);
    expect(listCheck.errors).toEqual([]);

    // The row menu: edit, rotate (a new secret, once), disable, delete after a confirmation.
    await page.goto(`/orgs/${orgId}/webhooks`);
    const endpointRow = page.getByTestId("webhook-row").first();
    const menu = async (item: string) => {
      await endpointRow.getByRole("button", { name: `Actions for ${receiver.url}` }).click();
      await page.getByRole("menuitem", { name: item }).click();
    };
    await menu("Edit");
    const edit = page.getByRole("dialog", { name: "Edit endpoint" });
    await edit.getByLabel("Description (optional)").fill("Seats and SIEM");
    await edit.getByRole("button", { name: "Save" }).click();
    await endpointRow.getByText("Seats and SIEM").waitFor();
    await menu("Rotate secret");
    await page
      .getByRole("dialog", { name: "Rotate the signing secret?" })
      .getByRole("button", { name: "Rotate secret" })
      .click();
    const rotated = (await page.getByTestId("webhook-secret").textContent())?.trim() ?? "";
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(copied);
    await page.getByRole("button", { name: "I have stored it" }).click();
    await menu("Disable");
    await endpointRow.getByText("Disabled").waitFor();
    await menu("Delete");
    await page
      .getByRole("dialog", { name: "Delete this endpoint?" })
      .getByRole("button", { name: "Delete endpoint" })
      .click();
    await page.getByText("No webhook endpoints yet").waitFor();
    expect(errors).toEqual([]);
    await ctx.close();
  });

  it("is not offered to a member without webhook:manage", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, member, `/orgs/${orgId}/team`);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Team" }).waitFor();
    await expect(nav.getByRole("link", { name: "Webhooks" }).count()).resolves.toBe(0);
    await page.goto(`/orgs/${orgId}/webhooks`);
    await page.getByText(/needs the webhook:manage permission/).waitFor();
    await ctx.close();
  });
});
