import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as OTPAuth from "otpauth";
import { sql } from "drizzle-orm";
import type { Browser, Page } from "playwright-core";
import { parse } from "csv-parse/sync";
import {
  addMember,
  apiCall,
  createOrg,
  DESKTOP,
  launch,
  newContext,
  screenshotAll,
  PHONE,
  seriousViolations,
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
let owner: Account;
let orgId: string;
let staff: Account;
let staffMemberId: string;

beforeAll(async () => {
  server = await startServer();
  browser = await launch();
  owner = await signUp(server, "Olivia Owner", "owner");
  orgId = (await createOrg(server, owner, "operations", "Northwind Ops")).id;
  const people: Array<[string, string, { storeIds?: string[]; status?: "active" | "inactive" }]> = [
    ["Adam Admin", "admin", {}],
    ["Sam Staff", "staff", { storeIds: ["store-1", "store-2"] }],
    ["Rita Reader", "read_only", { storeIds: ["store-1"] }],
    ["Ivan Inactive", "staff", { status: "inactive", storeIds: ["store-3"] }],
  ];
  for (const [name, role, extra] of people) {
    const account = await signUp(server, name, role);
    const id = await addMember(server, orgId, account, role, extra);
    if (name === "Sam Staff") {
      staff = account;
      staffMemberId = id;
    }
  }
  // Some history for the audit log: a role change there and back, a security change and an API key.
  await apiCall(server, "PATCH", `/v1/orgs/${orgId}/members/${staffMemberId}`, owner.token, { role: "admin" });
  await apiCall(server, "PATCH", `/v1/orgs/${orgId}/members/${staffMemberId}`, owner.token, { role: "staff" });
  await apiCall(server, "PATCH", `/v1/orgs/${orgId}/security`, owner.token, { sessionIdleMinutes: 120 });
  await apiCall(server, "POST", `/v1/orgs/${orgId}/api-keys`, owner.token, { name: "Nightly export" });
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

describe("governance pages: security, API keys, audit log, reports", () => {
  it("security settings: loads, passes axe, saves a change", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/security`);
    await checkPage(page, `/orgs/${orgId}/security`, "security", async (p) => {
      await p.getByRole("switch", { name: /Require MFA/ }).waitFor();
    });
    await expect.poll(() => page.getByLabel("Idle timeout (minutes)").inputValue()).toBe("120");
    const lifetime = page.getByLabel("Invitation lifetime (hours)");
    await lifetime.fill("48");
    await expect.poll(() => page.getByText("1 unsaved change.").count()).toBe(1);
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Security settings saved.").waitFor();
    const saved = await apiCall<{ invitationLifetimeHours: number; sessionIdleMinutes: number }>(
      server,
      "GET",
      `/v1/orgs/${orgId}/security`,
      owner.token,
    );
    expect(saved.invitationLifetimeHours).toBe(48);
    expect(saved.sessionIdleMinutes).toBe(120);
    await ctx.close();
  });

  it("API keys: create shows the secret once and it works; rotate replaces it; revoke asks first", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/api-keys`);
    await checkPage(page, `/orgs/${orgId}/api-keys`, "api-keys", async (p) => {
      await p.getByTestId("api-key-row").first().waitFor();
    });
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByLabel("Name").fill("Warehouse sync");
    await page.getByRole("dialog").getByRole("button", { name: "Create key" }).click();
    const secret = (await page.getByTestId("api-key-secret").textContent()) ?? "";
    expect(secret).toMatch(/^rk_[A-Za-z0-9]{8}_/);
    await checkInPlace(page, "api-key-secret");
    const viaKey = await apiCall<{ data: unknown[] }>(server, "GET", `/v1/orgs/${orgId}/members`, secret);
    expect(viaKey.data.length).toBe(5);
    await page.getByRole("button", { name: "I have stored it" }).click();
    const row = page.getByTestId("api-key-row").filter({ hasText: "Warehouse sync" });
    await expect.poll(() => row.textContent()).toContain(secret.split("_")[1]!);

    await row.getByRole("button", { name: "Actions for Warehouse sync" }).click();
    await page.getByRole("menuitem", { name: /Rotate secret/ }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Rotate secret" }).click();
    const rotated = (await page.getByTestId("api-key-secret").textContent()) ?? "";
    expect(rotated).toMatch(/^rk_/);
    expect(rotated).not.toBe(secret);
    await expect(apiCall(server, "GET", `/v1/orgs/${orgId}/members`, secret)).rejects.toThrow(/401/);
    expect((await apiCall<{ data: unknown[] }>(server, "GET", `/v1/orgs/${orgId}/members`, rotated)).data.length).toBe(
      5,
    );
    await page.getByRole("button", { name: "I have stored it" }).click();

    await row.getByRole("button", { name: "Actions for Warehouse sync" }).click();
    await page.getByRole("menuitem", { name: "Revoke" }).click();
    const confirm = page.getByRole("dialog", { name: /Revoke/ });
    await confirm.getByText("cannot be undone").waitFor();
    await confirm.getByRole("button", { name: "Revoke key" }).click();
    await row.getByText("Revoked", { exact: true }).waitFor();
    await expect(apiCall(server, "GET", `/v1/orgs/${orgId}/members`, rotated)).rejects.toThrow(/401/);
    await ctx.close();
  });

  it("audit log: newest first, sentences, verified chain, filters, diff, export", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/audit`);
    await checkPage(page, `/orgs/${orgId}/audit`, "audit", async (p) => {
      await p.getByTestId("audit-row").first().waitFor();
    });
    await expect.poll(() => page.getByTestId("audit-verify").textContent()).toMatch(/Chain verified · \d+ events/);
    const seqs = await page.getByTestId("audit-row").locator("text=/^#\\d+$/").allTextContents();
    const numbers = seqs.map((x) => Number(x.slice(1)));
    expect(numbers.length).toBeGreaterThan(3);
    expect(numbers).toEqual([...numbers].sort((a, b) => b - a));
    const sentences = await page.getByTestId("audit-sentence").allTextContents();
    expect(sentences).toContain("Olivia Owner changed Sam Staff's role from Admin to Staff");
    expect(sentences).toContain("Olivia Owner changed Sam Staff's role from Staff to Admin");
    expect(sentences.indexOf("Olivia Owner changed Sam Staff's role from Admin to Staff")).toBeLessThan(
      sentences.indexOf("Olivia Owner changed Sam Staff's role from Staff to Admin"),
    );

    // Filter by action: only role changes remain, and the filter is in the URL.
    await page.getByRole("combobox", { name: "Action", exact: true }).fill("team.role_ch");
    await page.getByRole("option", { name: "team.role_changed" }).click();
    await page.waitForURL(/action=team\.role_changed/);
    const actions = async () =>
      Promise.all((await page.getByTestId("audit-row").all()).map((r) => r.getAttribute("data-action")));
    await expect.poll(async () => new Set(await actions())).toEqual(new Set(["team.role_changed"]));
    expect(await page.getByTestId("audit-row").count()).toBe(2);

    // Expand the newest: its before/after diff.
    await page.getByTestId("audit-row").first().getByRole("button").first().click();
    const diff = page.getByRole("table", { name: /Changes in event/ });
    await diff.waitFor();
    expect((await diff.getByRole("row").nth(1).allInnerTexts()).join(" ")).toMatch(/role\s+admin\s+staff/);
    await checkInPlace(page, "audit-event-diff");

    // Export (filtered) parses back to the rows shown.
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      (async () => {
        await page.getByRole("button", { name: "Export" }).click();
        await page.getByRole("menuitem", { name: /CSV/ }).click();
      })(),
    ]);
    const rows = parse(readFileSync(await file.path()), { columns: true }) as Array<{ action: string; seq: string }>;
    expect(rows.map((r) => r.action)).toEqual(["team.role_changed", "team.role_changed"]);
    await page.getByText("Audit log exported as CSV (filtered).").waitFor();
    await ctx.close();
  });

  it("compliance reports: month picker, sections, verification on the cover", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/reports`);
    await checkPage(page, `/orgs/${orgId}/reports`, "reports", async (p) => {
      await p.getByTestId("report-cover").waitFor();
    });
    await expect.poll(() => page.getByTestId("report-verification").textContent()).toMatch(/Audit chain verified/);
    await page.getByRole("tab", { name: "Role changes" }).click();
    await page.getByRole("table", { name: "Role changes" }).getByText("Sam Staff").first().waitFor();
    const [file] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download XLSX" }).click(),
    ]);
    expect(file.suggestedFilename()).toMatch(/\.xlsx$/);
    await ctx.close();
  });

  it("a staff member sees none of these pages in the navigation, and a direct visit explains why", async () => {
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, staff, `/orgs/${orgId}/roles`);
    await page.getByRole("table", { name: "Permission matrix" }).waitFor();
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Roles & permissions" }).waitFor();
    for (const name of ["Security", "API keys", "Audit log", "Reports"])
      expect(await nav.getByRole("link", { name }).count(), name).toBe(0);
    await checkPage(page, `/orgs/${orgId}/security`, "security-denied", async (p) => {
      await p.getByText("Not available to you").waitFor();
    });
    await ctx.close();
  });
});

/** The same checks for one-time states a reload would lose (a shown secret, a sign-in challenge): saved in place. */
async function checkInPlace(page: Page, name: string) {
  await settle(page);
  expect(await seriousViolations(page), `${name} (light)`).toEqual([]);
  await page.emulateMedia({ colorScheme: "dark" });
  await settle(page);
  expect(await seriousViolations(page), `${name} (dark)`).toEqual([]);
  const original = page.viewportSize() ?? DESKTOP;
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [label, viewport] of [
      ["1280x800", DESKTOP],
      ["375x812", PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(100);
      // Resizing starts CSS transitions (the navigation sliding in or out): save the page once they end.
      await page.evaluate(
        "Promise.all(document.getAnimations().map((a) => a.finished.catch(() => undefined))).then(() => true)",
      );
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${label}-${scheme}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(original);
}

/** The link in the newest mail to `to`, as `reader` may see it (reset links only to their recipient). */
async function mailLink(
  to: string,
  path: "/accept-invitation" | "/reset-password",
  reader = owner.token,
): Promise<string> {
  const pattern = new RegExp(`https?://[^\\s"<>]+${path}\\?token=[^\\s"<>]+`);
  for (let attempt = 0; attempt < 20; attempt++) {
    const box = await apiCall<{ data: Array<{ text: string }> }>(
      server,
      "GET",
      `/v1/dev/mailbox?to=${encodeURIComponent(to)}`,
      reader,
    );
    const hit = box.data.map((m) => pattern.exec(m.text)?.[0]).find(Boolean);
    if (hit) return hit.replace(/^https?:\/\/[^/]+/, "");
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`No ${path} link for ${to} in the dev mailbox`);
}

describe("scoped readers", () => {
  it("a departments admin sees the audit log and reports of their department, and no security or API keys", async () => {
    const boss = await signUp(server, "Dana Director", "dept-owner");
    const deptOrg = (await createOrg(server, boss, "departments", "Dept Co")).id;
    const admin = await signUp(server, "Sally Sales", "dept-admin");
    await addMember(server, deptOrg, admin, "admin", { department: "sales" });
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, admin, `/orgs/${deptOrg}/audit`);
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Audit log" }).waitFor();
    await nav.getByRole("link", { name: "Reports" }).waitFor();
    for (const name of ["Security", "API keys"]) expect(await nav.getByRole("link", { name }).count(), name).toBe(0);
    await checkPage(page, `/orgs/${deptOrg}/audit`, "audit-department-admin", async (p) => {
      await p.getByTestId("audit-row").first().waitFor();
    });
    // Export needs audit_log:export, which this role lacks: the button says so instead of failing.
    expect(await page.getByRole("button", { name: "Export" }).isDisabled()).toBe(true);
    await ctx.close();
  });
});

describe("the rest of the console: invitations, mailbox, member panel, account flows, MFA, platform, home, not found", () => {
  it("invitations tab, dev mailbox and the member panel", async () => {
    await apiCall(server, "POST", `/v1/orgs/${orgId}/invitations`, owner.token, {
      email: "new.hire@example.com",
      role: "staff",
      storeIds: ["store-1"],
    });
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, owner, `/orgs/${orgId}/invitations`);
    await checkPage(page, `/orgs/${orgId}/invitations`, "invitations", async (p) => {
      await p.getByTestId("invitation-row").first().waitFor();
    });
    // Without SMTP_URL the server has a dev mailbox, and the navigation says so.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dev mailbox" }).waitFor();
    await checkPage(page, "/mailbox", "mailbox", async (p) => {
      await p.getByTestId("mail-item").first().waitFor();
    });
    await checkPage(page, `/orgs/${orgId}/team/${staffMemberId}`, "member-panel", async (p) => {
      await p.getByRole("dialog", { name: "Sam Staff" }).waitFor();
    });
    await ctx.close();
  });

  it("accept invitation, forgot password and reset password", async () => {
    const invitee = `guest.${Date.now().toString(36)}@example.com`;
    await apiCall(server, "POST", `/v1/orgs/${orgId}/invitations`, owner.token, { email: invitee, role: "read_only" });
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await checkPage(page, await mailLink(invitee, "/accept-invitation"), "accept-invitation", async (p) => {
      await p.getByLabel("Your name").waitFor();
    });
    await checkPage(page, "/forgot-password", "forgot-password", async (p) => {
      await p.getByLabel("Email").waitFor();
    });
    const rita = await signUp(server, "Rhea Reset", "reset");
    await apiCall(server, "POST", "/v1/auth/password/forgot", undefined, { email: rita.email });
    await checkPage(page, await mailLink(rita.email, "/reset-password", rita.token), "reset-password", async (p) => {
      await p.getByRole("heading", { name: "Choose a new password" }).waitFor();
    });
    await ctx.close();
  });

  it("MFA enrolment with its QR code, and the sign-in challenge", async () => {
    const mia = await signUp(server, "Mia Factor", "mfa");
    await addMember(server, orgId, mia, "staff");
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    // In place: every visit to enrolment issues a new secret, so a reload would orphan the one on this page.
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await signIn(page, mia, "/mfa/enroll");
    await page.getByTestId("mfa-qr").waitFor();
    await checkInPlace(page, "mfa-enroll");
    const secret = ((await page.getByTestId("mfa-secret").textContent()) ?? "").trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await page.getByLabel("6-digit code").first().click();
    await page.keyboard.type(totp.generate());
    await page.getByTestId("recovery-codes").waitFor();
    await checkInPlace(page, "mfa-recovery-codes");
    expect(errors).toEqual([]);
    await ctx.close();

    const ctx2 = await newContext(browser, server);
    const p2 = await ctx2.newPage();
    await p2.goto("/sign-in");
    await p2.getByLabel("Email").fill(mia.email);
    await p2.locator("input[autocomplete=current-password]").fill(mia.password);
    await p2.getByRole("button", { name: "Sign in" }).click();
    await p2.getByRole("heading", { name: "Two-step verification" }).waitFor();
    await checkInPlace(p2, "sign-in-mfa");
    await ctx2.close();
  });

  it("platform tenant list, the create-organization home and the not-found page", async () => {
    const staffer = await signUp(server, "Paula Platform", "platform");
    await server.deps.db.owner((db) =>
      db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${staffer.userId}`),
    );
    const ctx = await newContext(browser, server);
    const page = await ctx.newPage();
    await signIn(page, staffer, "/platform");
    await checkPage(page, "/platform", "platform", async (p) => {
      await p.getByRole("table", { name: "Organizations" }).getByText("Northwind Ops").waitFor();
    });
    await ctx.close();

    const newcomer = await signUp(server, "Nora New", "newcomer");
    const ctx2 = await newContext(browser, server);
    const p2 = await ctx2.newPage();
    await signIn(p2, newcomer, "/");
    await checkPage(p2, "/", "home-create-org", async (p) => {
      await p.getByRole("heading", { name: "Create your organization" }).waitFor();
    });
    await checkPage(p2, "/orgs/org_missing/nowhere", "not-found", async (p) => {
      await p.getByRole("heading", { name: "Page not found" }).waitFor();
    });
    await ctx2.close();
  });
});

describe("an installation with SMTP_URL set", () => {
  let smtp: Server;
  beforeAll(async () => {
    // Only the configuration says SMTP: the harness's mailer keeps every message in memory, nothing is sent.
    smtp = await startServer({ smtpUrl: "smtp://127.0.0.1:2525" });
  });
  afterAll(async () => smtp?.close());

  it("shows no Dev mailbox link, and the page opened directly says mail goes out through SMTP", async () => {
    const admin = await signUp(smtp, "Sally Smtp", "smtp");
    const smtpOrg = (await createOrg(smtp, admin, "saas", "Relay Inc")).id;
    const ctx = await newContext(browser, smtp);
    const page = await ctx.newPage();
    const capabilities = page.waitForResponse(
      (r) => new URL(r.url()).pathname === "/v1/capabilities" && r.status() === 200,
    );
    await signIn(page, admin, `/orgs/${smtpOrg}/team`);
    await page.getByTestId("member-row").first().waitFor();
    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Team" }).waitFor();
    // The link depends on the console's GET /v1/capabilities: its answer is in before the link's absence counts.
    expect(await (await capabilities).json()).toEqual({ devMailbox: false });
    await settle(page);
    expect(await nav.getByRole("link", { name: "Dev mailbox" }).count()).toBe(0);
    await page.goto("/mailbox");
    await page.getByText("Mail goes out through SMTP").waitFor();
    expect(await page.getByTestId("mail-item").count()).toBe(0);
    await settle(page);
    expect(await seriousViolations(page)).toEqual([]);
    expect(await screenshotAll(browser, smtp, page, "mailbox-smtp")).toHaveLength(4);
    await ctx.close();
  });
});
