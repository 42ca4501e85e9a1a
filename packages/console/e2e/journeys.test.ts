import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { parse } from "csv-parse/sync";
import * as OTPAuth from "otpauth";
import { presets } from "@roster/policy";
import {
  addMember,
  apiCall,
  checkPage,
  createOrg,
  email,
  GOOD_PASSWORD,
  launch,
  newContext,
  settle,
  signIn,
  signUp,
  startServer,
  SCREENSHOT_DIR,
  type Account,
  type Server,
} from "./harness.ts";

let server: Server;
let browser: Browser;

beforeAll(async () => {
  server = await startServer();
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  process.stdout.write(`\nConsole screenshots: ${SCREENSHOT_DIR}\n`);
});

interface MailItem {
  kind: string;
  to: string;
  text: string;
  createdAt: string;
}
interface ListedMember {
  id: string;
  email: string;
  role: string;
  status: string;
}

/** The newest link of a kind in the dev mailbox, read through its API as `reader` sees it (bounded wait). */
async function mailboxLink(
  reader: string,
  to: string,
  path: "/accept-invitation" | "/reset-password",
): Promise<string> {
  const pattern = new RegExp(`https?://[^\\s"<>]+${path}\\?token=[^\\s"<>]+`);
  for (let attempt = 0; attempt < 20; attempt++) {
    const box = await apiCall<{ data: MailItem[] }>(
      server,
      "GET",
      `/v1/dev/mailbox?to=${encodeURIComponent(to)}`,
      reader,
    );
    const hit = box.data.map((m) => pattern.exec(m.text)?.[0]).find(Boolean);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`No ${path} link for ${to} in the dev mailbox`);
}

async function memberByEmail(token: string, orgId: string, address: string): Promise<ListedMember | undefined> {
  const list = await apiCall<{ data: ListedMember[] }>(
    server,
    "GET",
    `/v1/orgs/${orgId}/members?status=all&q=${encodeURIComponent(address)}`,
    token,
  );
  return list.data.find((m) => m.email === address);
}

/** The org's audit actions in chain order, read through the feed API. */
async function auditActions(token: string, orgId: string): Promise<string[]> {
  const out: Array<{ seq: number; action: string }> = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const body: { data: Array<{ seq: number; action: string }>; nextCursor: string | null } = await apiCall(
      server,
      "GET",
      `/v1/orgs/${orgId}/audit-events?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      token,
    );
    out.push(...body.data);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return out.sort((a, b) => a.seq - b.seq).map((e) => e.action);
}

/** Waits for a condition the UI reaches after a request or two (vitest's default of 1 s is too short for a browser). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 100 });

const row = (page: Page, address: string) => page.locator("[data-testid=member-row]", { hasText: address });

async function openRowMenu(page: Page, name: string) {
  await page.getByRole("button", { name: `Actions for ${name}` }).click();
  await page.getByRole("menu").waitFor();
}

async function chooseOption(
  page: Page,
  label: string,
  option: string | RegExp,
  scope: Page | ReturnType<Page["getByRole"]> = page,
) {
  await scope.getByRole("combobox", { name: label, exact: true }).click();
  await page.getByRole("option", { name: option }).first().click();
}

interface Journey {
  preset: "billing" | "departments" | "operations";
  invitedRole: string;
  newRole: string;
  department?: string;
  stores?: string[];
}

const JOURNEYS: Journey[] = [
  { preset: "billing", invitedRole: "sales", newRole: "customer_service" },
  { preset: "departments", invitedRole: "user", newRole: "admin", department: "finance" },
  { preset: "operations", invitedRole: "staff", newRole: "read_only", stores: ["store-1"] },
];

const EXPECTED_TEAM_EVENTS = [
  "team.invited",
  "team.invite_accepted",
  "team.role_changed",
  "team.deactivated",
  "team.reactivated",
  "team.removed",
];

describe("team journeys in the browser", () => {
  for (const j of JOURNEYS) {
    it(`${j.preset}: invite → email link → accept → sign in → role change → deactivate → reactivate → remove → audit order`, async () => {
      const policy = presets[j.preset];
      const title = (role: string) => policy.roles.find((r) => r.name === role)!.title;
      const owner = await signUp(server, `Owner ${j.preset}`, `owner-${j.preset}`);
      const orgId = (await createOrg(server, owner, j.preset, `Journey ${j.preset}`)).id;
      const invitee = { email: email(`new-${j.preset}`), name: `Nia ${j.preset}`, password: GOOD_PASSWORD };

      // The owner invites from the Team page.
      const ownerCtx = await newContext(browser, server);
      const admin = await ownerCtx.newPage();
      await signIn(admin, owner, `/orgs/${orgId}/team`);
      await admin.getByRole("button", { name: "Invite", exact: true }).click();
      const dialog = admin.getByRole("dialog", { name: "Invite people" });
      await dialog.getByLabel("Email addresses").fill(invitee.email);
      await dialog.getByLabel("Email addresses").press("Enter");
      await chooseOption(admin, "Role", new RegExp(`^${title(j.invitedRole)}`), dialog);
      if (j.department) await chooseOption(admin, "Department", "Finance", dialog);
      for (const store of j.stores ?? []) {
        await dialog.getByLabel("Stores").fill(store);
        await dialog.getByLabel("Stores").press("Enter");
      }
      await dialog.getByRole("button", { name: "Send invitation" }).click();
      await admin.getByText("1 invitation sent.").waitFor();

      // The Invitations tab lists it as pending, with the inviter.
      await admin.getByRole("link", { name: "Invitations", exact: true }).first().click();
      const invRow = admin.locator("[data-testid=invitation-row]", { hasText: invitee.email });
      await poll(() => invRow.getAttribute("data-status")).toBe("pending");
      await poll(() => invRow.textContent()).toContain(owner.name);

      // The link from the dev mailbox; the mailbox page shows the same link.
      const link = await mailboxLink(owner.token, invitee.email, "/accept-invitation");
      await admin.goto("/mailbox");
      const mail = admin.locator(`[data-testid=mail-item][data-to="${invitee.email}"]`).first();
      await mail.waitFor();
      await poll(() => mail.getByTestId("mail-link").first().getAttribute("href")).toBe(link);

      // The invitee accepts in a browser of their own and creates the account.
      const inviteeCtx = await newContext(browser, server);
      const guest = await inviteeCtx.newPage();
      await guest.goto(link.replace(/^https?:\/\/[^/]+/, ""));
      await guest.getByRole("heading", { name: `Join Journey ${j.preset}` }).waitFor();
      await guest.getByLabel("Your name").fill(invitee.name);
      await guest.locator("input[autocomplete=new-password]").fill(invitee.password);
      await guest.getByRole("button", { name: "Create account and join" }).click();
      await guest.waitForURL((u) => u.pathname.startsWith(`/orgs/${orgId}`));
      await inviteeCtx.close();

      // A fresh browser signs in with the new account and lands in the org.
      const again = await newContext(browser, server);
      const member = await again.newPage();
      await signIn(member, invitee);
      await member.waitForURL((u) => u.pathname.startsWith(`/orgs/${orgId}`));
      await again.close();
      await poll(async () => (await memberByEmail(owner.token, orgId, invitee.email))?.status).toBe("active");
      await admin.goto(`/orgs/${orgId}/invitations`);
      await poll(() => invRow.getAttribute("data-status")).toBe("accepted");

      // Role change inline in the table.
      await admin.goto(`/orgs/${orgId}/team`);
      await row(admin, invitee.email).waitFor();
      await admin.getByRole("combobox", { name: `Role of ${invitee.name}` }).click();
      await admin.getByRole("option", { name: new RegExp(`^${title(j.newRole)}`) }).click();
      await poll(async () => (await memberByEmail(owner.token, orgId, invitee.email))?.role).toBe(j.newRole);

      // Deactivate (with its confirmation), then reactivate, from the row menu.
      await openRowMenu(admin, invitee.name);
      await admin.getByRole("menuitem", { name: "Deactivate" }).click();
      await admin.getByRole("dialog").getByRole("button", { name: "Deactivate" }).click();
      await poll(() => row(admin, invitee.email).locator(".roster-status").textContent()).toBe("Inactive");
      await openRowMenu(admin, invitee.name);
      await admin.getByRole("menuitem", { name: "Reactivate" }).click();
      await poll(() => row(admin, invitee.email).locator(".roster-status").textContent()).toBe("Active");

      // Remove: the admin types the member's email to confirm.
      const removeLabel = policy.memberActions.remove === "member:delete" ? "Delete member" : "Remove member";
      await openRowMenu(admin, invitee.name);
      await admin.getByRole("menuitem", { name: removeLabel }).click();
      const confirm = admin.getByRole("dialog");
      await poll(() => confirm.getByRole("button", { name: removeLabel }).isDisabled()).toBe(true);
      await confirm.getByRole("textbox").fill(invitee.email);
      await confirm.getByRole("button", { name: removeLabel }).click();
      await poll(() => row(admin, invitee.email).count()).toBe(0);
      await poll(async () => (await memberByEmail(owner.token, orgId, invitee.email))?.status).toBe("removed");

      // The audit log page shows those events in order (newest first), and the feed API agrees.
      await admin.goto(`/orgs/${orgId}/audit`);
      const events = admin.getByTestId("audit-row");
      const shownActions = async () => {
        const actions: string[] = [];
        for (let i = 0; i < (await events.count()); i++)
          actions.push((await events.nth(i).getAttribute("data-action")) ?? "");
        return actions.filter((a) => a.startsWith("team.")).reverse();
      };
      await poll(shownActions).toEqual(EXPECTED_TEAM_EVENTS);
      expect((await auditActions(owner.token, orgId)).filter((a) => a.startsWith("team."))).toEqual(
        EXPECTED_TEAM_EVENTS,
      );
      await ownerCtx.close();
    });
  }
});

describe("exports, permissions and MFA in the browser", () => {
  let owner: Account;
  let orgId: string;
  const people: Array<{
    account?: Account;
    name: string;
    role: string;
    status?: "active" | "inactive";
    storeIds?: string[];
  }> = [
    { name: "Ada Admin", role: "admin" },
    { name: 'Sol Staff, "Jr"', role: "staff", storeIds: ["store-1", "store-2"] },
    { name: "=Formula Person", role: "read_only", storeIds: ["store-1"] },
    { name: "Ira Inactive", role: "staff", status: "inactive" },
  ];

  beforeAll(async () => {
    owner = await signUp(server, "Otto Owner", "owner-ops");
    orgId = (await createOrg(server, owner, "operations", "Export Ops")).id;
    for (const p of people) {
      p.account = await signUp(server, p.name, p.role);
      await addMember(server, orgId, p.account, p.role, {
        ...(p.status ? { status: p.status } : {}),
        ...(p.storeIds ? { storeIds: p.storeIds } : {}),
      });
    }
  });

  async function tableRows(page: Page): Promise<Array<{ email: string; status: string }>> {
    const rows = page.getByTestId("member-row");
    const out: Array<{ email: string; status: string }> = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const r = rows.nth(i);
      out.push({
        email: (await r.locator("td").first().locator("p").nth(1).textContent()) ?? "",
        status: ((await r.locator(".roster-status").textContent()) ?? "").toLowerCase(),
      });
    }
    return out.sort((a, b) => a.email.localeCompare(b.email));
  }

  async function exportCsv(page: Page): Promise<Array<Record<string, string>>> {
    await page.getByRole("button", { name: "Export", exact: true }).click();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("menuitem", { name: "CSV" }).click(),
    ]);
    const file = await download.path();
    return parse(readFileSync(file, "utf8"), { columns: true, skip_empty_lines: true }) as Array<
      Record<string, string>
    >;
  }

  it("Export downloads a CSV that parses back to the table's rows, with and without a filter", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/team`);
    await page.getByTestId("member-row").first().waitFor();
    const shown = await tableRows(page);
    expect(shown).toHaveLength(5);
    const all = await exportCsv(page);
    expect(
      all.map((r) => ({ email: r.email!, status: r.status! })).sort((a, b) => a.email.localeCompare(b.email)),
    ).toEqual(shown);
    expect(Object.keys(all[0]!)).toEqual([
      "name",
      "email",
      "role",
      "status",
      "lastLoginAt",
      "createdAt",
      "department",
      "stores",
    ]);
    // Quotes and commas survive the round trip; a formula-looking name is neutralised.
    expect(all.map((r) => r.name)).toContain('Sol Staff, "Jr"');
    expect(all.map((r) => r.name)).toContain("'=Formula Person");
    expect(all.find((r) => r.name === 'Sol Staff, "Jr"')?.stores).toBe("store-1;store-2");

    await page.goto(`/orgs/${orgId}/team?status=inactive`);
    await poll(() => page.getByTestId("member-row").count()).toBe(1);
    const filtered = await exportCsv(page);
    expect(filtered.map((r) => ({ email: r.email!, status: r.status! }))).toEqual(await tableRows(page));
    await ctx.close();
  });

  it("a member without MFA under requireMfa lands on enrolment, enrols, keeps recovery codes, and signs in with one", async () => {
    // The owner enrols first (the server insists), then requires MFA for everyone.
    const seed = await apiCall<{ secret: string }>(server, "POST", "/v1/me/mfa/totp", owner.token);
    const ownerTotp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(seed.secret), digits: 6, period: 30 });
    await apiCall(server, "POST", "/v1/me/mfa/totp/confirm", owner.token, { code: ownerTotp.generate() });
    await apiCall(server, "PATCH", `/v1/orgs/${orgId}/security`, owner.token, { requireMfa: true });

    const staff = people[1]!.account!;
    // Another browser signed in before the factor exists (it is sent to enrolment too, and left there).
    const early = await newContext(browser, server);
    const earlyPage = await early.newPage();
    await signIn(earlyPage, staff, `/orgs/${orgId}/team`);
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, staff, `/orgs/${orgId}/team`);
    await page.waitForURL((u) => u.pathname === "/mfa/enroll");
    await page.getByTestId("mfa-qr").waitFor();
    expect(await page.getByTestId("mfa-qr").getAttribute("src")).toMatch(/^data:image\/png;base64,/);
    const check = await checkPage(browser, server, page, "mfa-enroll", { inPlace: true });
    expect(check.violations).toEqual([]);
    expect(check.errors).toEqual([]);

    const secret = (await page.getByTestId("mfa-secret").textContent())!.trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await page.getByLabel("6-digit code").first().click();
    await page.keyboard.type(totp.generate());
    const codes = page.getByTestId("recovery-codes").locator("li");
    await poll(() => codes.count()).toBe(10);
    const recovery = ((await codes.first().textContent()) ?? "").trim();
    expect(check.files).toHaveLength(4);
    const codesCheck = await checkPage(browser, server, page, "mfa-recovery-codes", { inPlace: true });
    expect(codesCheck.violations).toEqual([]);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download" }).click(),
    ]);
    expect(readFileSync(await download.path(), "utf8")).toContain(recovery);
    expect(await page.getByRole("button", { name: "Continue" }).isDisabled()).toBe(true);
    await page.getByLabel("I saved these codes somewhere safe").check();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL((u) => u.pathname.startsWith(`/orgs/${orgId}`));
    await ctx.close();

    // The earlier browser never showed the factor (403 mfa_required): it is signed out and asked to sign in
    // again, with the 6-digit code this time, and comes back to the page it was opening.
    await earlyPage.goto(`/orgs/${orgId}/team`);
    await earlyPage.waitForURL((u) => u.pathname === "/sign-in" && u.searchParams.get("reason") === "mfa");
    await earlyPage.getByText("Sign in again with two-step verification").waitFor();
    const stepUp = await checkPage(browser, server, earlyPage, "sign-in-step-up", { inPlace: true });
    expect(stepUp.violations).toEqual([]);
    expect(stepUp.errors).toEqual([]);
    expect(await earlyPage.getByLabel("Email").inputValue()).toBe(staff.email);
    await earlyPage.locator("input[autocomplete=current-password]").fill(staff.password);
    await earlyPage.getByRole("button", { name: "Sign in" }).click();
    await earlyPage.getByRole("heading", { name: "Two-step verification" }).waitFor();
    await earlyPage.getByLabel("Authentication code").first().click();
    // The current step's code was spent on enrolment; the next step's is within the accepted window.
    await earlyPage.keyboard.type(totp.generate({ timestamp: Date.now() + 30_000 }));
    await earlyPage.waitForURL((u) => u.pathname === `/orgs/${orgId}/team`);
    await earlyPage.getByRole("heading", { name: "Team" }).waitFor();
    await early.close();

    // Next sign-in asks for the second factor; a recovery code works once.
    const ctx2 = await newContext(browser, server);
    const p2 = await ctx2.newPage();
    await p2.goto(`/sign-in?next=${encodeURIComponent(`/orgs/${orgId}/team`)}`);
    await p2.getByLabel("Email").fill(staff.email);
    await p2.locator("input[autocomplete=current-password]").fill(staff.password);
    await p2.getByRole("button", { name: "Sign in" }).click();
    await p2.getByRole("heading", { name: "Two-step verification" }).waitFor();
    const challenge = await checkPage(browser, server, p2, "sign-in-mfa", { inPlace: true });
    expect(challenge.violations).toEqual([]);
    await p2.getByRole("button", { name: "Use a recovery code" }).click();
    await p2.getByLabel("Recovery code").fill(recovery);
    await p2.getByRole("button", { name: "Verify" }).click();
    await p2.waitForURL((u) => u.pathname.startsWith(`/orgs/${orgId}`));
    await ctx2.close();
    await apiCall(server, "PATCH", `/v1/orgs/${orgId}/security`, owner.token, { requireMfa: false });
  });
});

describe("a non-owner in billing", () => {
  it("sees no Delete, while the owner does", async () => {
    const owner = await signUp(server, "Bea Owner", "owner-billing");
    const orgId = (await createOrg(server, owner, "billing", "Billing Co")).id;
    const admin = await signUp(server, "Abe Admin", "admin-billing");
    await addMember(server, orgId, admin, "admin");
    const sales = await signUp(server, "Sue Sales", "sales-billing");
    await addMember(server, orgId, sales, "sales");

    const look = async (who: Account) => {
      const ctx = await newContext(browser, server);
      const page = await ctx.newPage();
      await signIn(page, who, `/orgs/${orgId}/team`);
      await row(page, sales.email).waitFor();
      await openRowMenu(page, sales.name);
      const menu = await page.getByRole("menu").textContent();
      await page.keyboard.press("Escape");
      await row(page, sales.email).locator("td").first().click();
      await page.getByRole("dialog", { name: sales.name }).waitFor();
      await settle(page);
      const panel = await page.getByRole("dialog", { name: sales.name }).textContent();
      await ctx.close();
      return { menu: menu ?? "", panel: panel ?? "" };
    };
    const asAdmin = await look(admin);
    expect(asAdmin.menu).toContain("Deactivate");
    expect(asAdmin.menu).not.toContain("Delete");
    expect(asAdmin.panel).not.toContain("Delete member");
    const asOwner = await look(owner);
    expect(asOwner.menu).toContain("Delete member");
    expect(asOwner.panel).toContain("Delete member");
  });
});

describe("the pages this part adds pass axe and are screenshotted", () => {
  let owner: Account;
  let staff: Account;
  let orgId: string;
  let invitedA: string;
  let invitedB: string;
  let firstLink: string;

  beforeAll(async () => {
    owner = await signUp(server, "Pia Owner", "owner-pages");
    orgId = (await createOrg(server, owner, "operations", "Pages Ops")).id;
    staff = await signUp(server, "Stan Staff", "staff-pages");
    await addMember(server, orgId, staff, "staff", { storeIds: ["store-9"] });
    // A second session for the staff member, to be listed in the panel.
    await apiCall(server, "POST", "/v1/auth/sign-in", undefined, { email: staff.email, password: staff.password });
    invitedA = email("pages-a");
    invitedB = email("pages-b");
    await apiCall(server, "POST", `/v1/orgs/${orgId}/invitations`, owner.token, { email: invitedA, role: "staff" });
    await apiCall(server, "POST", `/v1/orgs/${orgId}/invitations`, owner.token, { email: invitedB, role: "read_only" });
    firstLink = await mailboxLink(owner.token, invitedA, "/accept-invitation");
  });

  it("invitations: revoke after a confirmation, resend with a new link, history kept", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/team`);
    const r = await checkPage(browser, server, page, "invitations", {
      path: `/orgs/${orgId}/invitations`,
      ready: (p) => p.getByTestId("invitation-row").first().waitFor(),
    });
    expect(r.violations).toEqual([]);
    expect(r.errors).toEqual([]);
    await page.getByRole("button", { name: `Revoke the invitation for ${invitedB}` }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke invitation" }).click();
    const revoked = page.locator("[data-testid=invitation-row]", { hasText: invitedB });
    await poll(() => revoked.getAttribute("data-status")).toBe("revoked");
    expect(await revoked.getByRole("button", { name: /Revoke/ }).count()).toBe(0);
    await page.getByRole("button", { name: `Resend the invitation for ${invitedA}` }).click();
    await page.getByText(`A new link was emailed to ${invitedA}`).waitFor();
    await poll(() => mailboxLink(owner.token, invitedA, "/accept-invitation")).not.toBe(firstLink);
    expect(await page.getByTestId("invitation-row").count()).toBe(2);
    await page.locator(".mantine-SegmentedControl-root").getByText("Revoked", { exact: true }).click();
    await poll(() => page.getByTestId("invitation-row").count()).toBe(1);
    await ctx.close();
  });

  it("dev mailbox and the member panel with sessions and end session", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/team`);
    let r = await checkPage(browser, server, page, "mailbox", {
      path: "/mailbox",
      ready: (p) => p.getByTestId("mail-item").first().waitFor(),
    });
    expect(r.violations).toEqual([]);
    expect(await page.getByTestId("mail-link").first().getAttribute("href")).toMatch(/\/accept-invitation\?token=/);

    const staffId = (await memberByEmail(owner.token, orgId, staff.email))!.id;
    r = await checkPage(browser, server, page, "member-panel", {
      path: `/orgs/${orgId}/team/${staffId}`,
      ready: (p) =>
        p
          .getByTestId("member-sessions")
          .getByText(/started/)
          .first()
          .waitFor(),
    });
    expect(r.violations).toEqual([]);
    await page.getByRole("button", { name: /^End (session|all \d+ sessions)$/ }).click();
    await page
      .getByRole("dialog", { name: /Sign Stan Staff out/ })
      .getByRole("button", { name: "End sessions" })
      .click();
    await page.getByTestId("member-sessions").getByText("Not signed in anywhere.").waitFor();
    await expect(apiCall(server, "GET", "/v1/me", staff.token)).rejects.toThrow(/401/);
    await ctx.close();
  });

  it("member panel: a removed member shows until when it can be restored, and Restore brings it back; Send password reset mails a link", async () => {
    const gone = await signUp(server, "Rex Removed", "removed");
    const goneId = await addMember(server, orgId, gone, "read_only");
    await apiCall(server, "DELETE", `/v1/orgs/${orgId}/members/${goneId}`, owner.token);
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/team?status=removed`);
    await row(page, gone.email).locator("td").first().click();
    const panel = page.getByRole("dialog", { name: gone.name });
    await panel.getByText("Restorable until").waitFor();
    await panel.getByRole("button", { name: "Restore" }).click();
    await page.getByText(`${gone.name} was restored.`).waitFor();
    await poll(async () => (await memberByEmail(owner.token, orgId, gone.email))?.status).toBe("active");

    await page.goto(`/orgs/${orgId}/team/${goneId}`);
    await panel.getByRole("button", { name: "Send password reset" }).click();
    await page.getByText(`A password reset link was emailed to ${gone.email}.`).waitFor();
    const goneToken = (
      await apiCall<{ token: string }>(server, "POST", "/v1/auth/sign-in", undefined, {
        email: gone.email,
        password: gone.password,
      })
    ).token;
    expect(await mailboxLink(goneToken, gone.email, "/reset-password")).toMatch(/\/reset-password\?token=/);
    await ctx.close();
  });

  it("an address that already has an account signs in as it and accepts with one click", async () => {
    const existing = await signUp(server, "Eve Existing", "existing");
    await apiCall(server, "POST", `/v1/orgs/${orgId}/invitations`, owner.token, {
      email: existing.email,
      role: "read_only",
    });
    const link = await mailboxLink(owner.token, existing.email, "/accept-invitation");
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await page.goto(link.replace(/^https?:\/\/[^/]+/, ""));
    await page.getByLabel("Your name").fill("Someone Else");
    await page.locator("input[autocomplete=new-password]").fill("another passphrase 2026");
    await page.getByRole("button", { name: "Create account and join" }).click();
    // The server will not create a second account for the address: the page offers signing in as it instead.
    await page.getByRole("link", { name: `Sign in as ${existing.email}` }).click();
    await page.waitForURL((u) => u.pathname === "/sign-in");
    expect(await page.getByLabel("Email").inputValue()).toBe(existing.email);
    await page.locator("input[autocomplete=current-password]").fill(existing.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((u) => u.pathname === "/accept-invitation");
    await page.getByRole("button", { name: "Accept invitation" }).click();
    await page.waitForURL((u) => u.pathname.startsWith(`/orgs/${orgId}`));
    const joined = await memberByEmail(owner.token, orgId, existing.email);
    expect(joined).toMatchObject({ role: "read_only", status: "active" });
    await ctx.close();
  });

  it("accept invitation (a replaced link says so), forgot password → emailed link → new password → sign in", async () => {
    const guestCtx = await newContext(browser, server);
    const guest = await guestCtx.newPage();
    const link = await mailboxLink(owner.token, invitedA, "/accept-invitation");
    let r = await checkPage(browser, server, guest, "accept-invitation", {
      path: link.replace(/^https?:\/\/[^/]+/, ""),
      ready: (p) => p.getByLabel("Your name").waitFor(),
    });
    expect(r.violations).toEqual([]);
    expect(r.errors).toEqual([]);
    if (link !== firstLink) {
      await guest.goto(firstLink.replace(/^https?:\/\/[^/]+/, ""));
      await guest.getByRole("alert").waitFor();
      expect(await guest.getByRole("alert").textContent()).toMatch(/does not work|can no longer be used/);
    }

    r = await checkPage(browser, server, guest, "forgot-password", {
      path: "/forgot-password",
      ready: (p) => p.getByLabel("Email").waitFor(),
    });
    expect(r.violations).toEqual([]);
    await guest.getByLabel("Email").fill(staff.email);
    await guest.getByRole("button", { name: "Send reset link" }).click();
    await guest.getByText("Check your email").waitFor();
    const sent = await checkPage(browser, server, guest, "forgot-password-sent", { inPlace: true });
    expect(sent.violations).toEqual([]);
    const staffToken = (
      await apiCall<{ token: string }>(server, "POST", "/v1/auth/sign-in", undefined, {
        email: staff.email,
        password: staff.password,
      })
    ).token;
    const reset = await mailboxLink(staffToken, staff.email, "/reset-password");
    r = await checkPage(browser, server, guest, "reset-password", {
      path: reset.replace(/^https?:\/\/[^/]+/, ""),
      ready: (p) => p.getByRole("textbox", { name: "New password", exact: true }).waitFor(),
    });
    expect(r.violations).toEqual([]);
    const newPassword = "a fresh passphrase 2026";
    await guest.getByRole("textbox", { name: "New password", exact: true }).fill(newPassword);
    await guest.getByLabel("Repeat the new password").fill(newPassword);
    await guest.getByRole("button", { name: "Set password" }).click();
    await guest.waitForURL((u) => u.pathname === "/sign-in");
    await expect(apiCall(server, "GET", "/v1/me", staffToken)).rejects.toThrow(/401/);
    await signIn(guest, { email: staff.email, password: newPassword });
    await guest.waitForURL((u) => u.pathname.startsWith(`/orgs/${orgId}`));
    await guestCtx.close();
  });

  it("account: set up two-step verification from the account page, see it on, turn it off with the password", async () => {
    const person = await signUp(server, "Ada Account", "account");
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, person, "/account");
    await page.getByTestId("mfa-status").waitFor();
    expect(await page.getByTestId("mfa-status").textContent()).toBe("Off");
    await page.getByRole("link", { name: "Set up" }).click();
    await page.waitForURL((u) => u.pathname === "/mfa/enroll");
    await page.getByTestId("mfa-secret").waitFor();
    const secret = (await page.getByTestId("mfa-secret").textContent())!.trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    // A wrong code is refused and says so.
    await page.getByLabel("6-digit code").first().click();
    await page.keyboard.type(totp.generate() === "000000" ? "111111" : "000000");
    await page.getByRole("alert").waitFor();
    await page.getByLabel("6-digit code").first().click();
    await page.keyboard.type(totp.generate());
    await poll(() => page.getByTestId("recovery-codes").locator("li").count()).toBe(10);
    await page.getByLabel("I saved these codes somewhere safe").check();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL((u) => u.pathname === "/account");
    await poll(() => page.getByTestId("mfa-status").textContent()).toBe("On: authenticator app");
    const r = await checkPage(browser, server, page, "account-security", {
      ready: (p) => p.getByTestId("mfa-status").waitFor(),
    });
    expect(r.violations).toEqual([]);
    expect(r.errors).toEqual([]);
    await page.getByRole("button", { name: "Turn off" }).click();
    const dialog = page.getByRole("dialog", { name: "Turn off two-step verification?" });
    await dialog.getByLabel("Current password").fill(person.password);
    await dialog.getByRole("button", { name: "Turn off" }).click();
    await poll(() => page.getByTestId("mfa-status").textContent()).toBe("Off");
    expect(
      (
        await apiCall<{ totp: string }>(
          server,
          "GET",
          "/v1/me/mfa",
          (
            await apiCall<{ token: string }>(server, "POST", "/v1/auth/sign-in", undefined, {
              email: person.email,
              password: person.password,
            })
          ).token,
        )
      ).totp,
    ).toBe("none");
    await ctx.close();
  });
});
