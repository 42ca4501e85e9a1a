// Custom roles in the console: an owner creates "Billing viewer" in the matrix editor, invites someone with it,
// and that member's session sees only what the role allows. @see issue 14
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import {
  apiCall,
  checkPage,
  createOrg,
  email,
  ensureBuilt,
  GOOD_PASSWORD,
  launch,
  newContext,
  settle,
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
  await ensureBuilt();
  server = await startServer();
  browser = await launch();
  owner = await signUp(server, "Olivia Owner", "owner");
  orgId = (await createOrg(server, owner, "billing", "Ledger Co")).id;
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** The invitation token from the dev mailbox, read through its API as the inviter (bounded wait). */
async function invitationToken(reader: string, to: string): Promise<string> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const box = await apiCall<{ data: Array<{ text: string }> }>(
      server,
      "GET",
      `/v1/dev/mailbox?to=${encodeURIComponent(to)}`,
      reader,
    );
    const hit = box.data.map((m) => /accept-invitation\?token=([A-Za-z0-9_-]+)/.exec(m.text)?.[1]).find(Boolean);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`No invitation for ${to} in the dev mailbox`);
}

describe("custom roles", () => {
  it("the owner creates Billing viewer, an invited member sees only invoices and customers, then the owner changes it", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/roles`);
    await page.getByRole("button", { name: "Create role" }).click();
    const dialog = page.getByRole("dialog", { name: "Create role" });
    await dialog.getByLabel("Title").fill("Billing viewer");
    await dialog.getByRole("checkbox", { name: "View invoices" }).check();
    await dialog.getByRole("checkbox", { name: "View customers" }).check();
    // a top-role power is offered disabled, with the reason
    expect(await dialog.getByRole("checkbox", { name: /grant the owner role/i }).isDisabled()).toBe(true);
    expect(await dialog.getByText("View invoices.").count()).toBe(1);
    expect(await dialog.getByText("View customers.").count()).toBe(1);
    const editor = await checkPage(browser, server, page, "role-editor", { inPlace: true });
    expect(editor.violations).toEqual([]);
    expect(editor.errors).toEqual([]);
    await dialog.getByRole("button", { name: "Create role" }).click();
    await page.getByText("Role “Billing viewer” created.").waitFor();
    await settle(page);
    expect(await page.getByText("Billing viewer").count()).toBeGreaterThan(0);

    // invite with the new role, as the owner would from the invite dialog, and accept as a new person
    const address = email("viewer");
    await apiCall(server, "POST", `/v1/orgs/${orgId}/invitations`, owner.token, {
      email: address,
      role: "billing_viewer",
    });
    const roles = await apiCall<{ data: Array<{ key: string; memberCount: number }> }>(
      server,
      "GET",
      `/v1/orgs/${orgId}/roles`,
      owner.token,
    );
    expect(roles.data.map((r) => r.key)).toContain("billing_viewer");
    const token = await invitationToken(owner.token, address);
    await apiCall(server, "POST", `/v1/invitations/${token}/accept`, undefined, {
      name: "Vera Viewer",
      password: GOOD_PASSWORD,
    });

    const vctx = await newContext(browser, server);
    const vpage = await vctx.newPage();
    await signIn(vpage, { email: address, password: GOOD_PASSWORD }, `/orgs/${orgId}/roles`);
    await settle(vpage);
    const nav = vpage.getByRole("navigation");
    expect(await nav.getByRole("link", { name: "Team" }).count()).toBe(0);
    expect(await nav.getByRole("link", { name: "Invitations" }).count()).toBe(0);
    expect(await nav.getByRole("link", { name: "API keys" }).count()).toBe(0);
    expect(await vpage.getByRole("button", { name: "Create role" }).count()).toBe(0);
    const viewerToken = (
      await apiCall<{ token: string }>(server, "POST", "/v1/auth/sign-in", undefined, {
        email: address,
        password: GOOD_PASSWORD,
      })
    ).token;
    const ask = async (action: string, type: string) =>
      (
        await apiCall<{ allowed: boolean }>(server, "POST", "/v1/authorize", viewerToken, {
          orgId,
          action,
          resource: { type },
        })
      ).allowed;
    expect(await ask("read", "invoice")).toBe(true);
    expect(await ask("read", "customer")).toBe(true);
    expect(await ask("void", "invoice")).toBe(false);
    expect(await ask("read", "plan")).toBe(false);

    // The owner changes the role: its holders get the new permission on their next request.
    await page.getByRole("button", { name: "Edit Billing viewer" }).click();
    const edit = page.getByRole("dialog", { name: "Edit role “Billing viewer”" });
    expect(await edit.getByLabel("Title").inputValue()).toBe("Billing viewer");
    expect(await edit.getByRole("checkbox", { name: "View invoices" }).isChecked()).toBe(true);
    await edit.getByRole("checkbox", { name: "View plans" }).check();
    await edit.getByRole("checkbox", { name: "View customers" }).uncheck();
    const editing = await checkPage(browser, server, page, "role-editor-edit", { inPlace: true });
    expect(editing.violations).toEqual([]);
    await edit.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Role “Billing viewer” saved.").waitFor();
    expect(await ask("read", "plan")).toBe(true);
    expect(await ask("read", "customer")).toBe(false);
    expect(await ask("read", "invoice")).toBe(true);
    await vctx.close();
    await ctx.close();
  });
});
