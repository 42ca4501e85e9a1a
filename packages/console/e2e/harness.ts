import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";
import type { FastifyInstance } from "fastify";
import { createApp, type AppDeps } from "../../server/src/app.ts";
import { FakeClock } from "../../server/src/lib/clock.ts";
import { MemoryMailer, freshDatabase, testConfig, GOOD_PASSWORD } from "../../server/test/helpers.ts";
import { CONSOLE_DIST } from "../../server/src/console/routes.ts";
import type { Config } from "../../server/src/config.ts";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const SCREENSHOT_DIR = join(repoRoot, "test-results", "screenshots");
export { GOOD_PASSWORD };

/** Real time: the browser keeps cookies by their real expiry, so the server's clock must be the wall clock. */
class WallClock extends FakeClock {
  override now(): Date {
    return new Date();
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the console when dist is missing or older than its sources, so the tests never drive a stale bundle. */
export async function ensureBuilt(): Promise<void> {
  const index = join(CONSOLE_DIST, "index.html");
  const src = fileURLToPath(new URL("../src", import.meta.url));
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(src)) return;
  // Build aside, then add the new hashed assets and swap index.html in with a rename: a browser test running at the
  // same time against dist/ keeps finding every file its pages reference.
  const { build } = await import("vite");
  const tmp = mkdtempSync(join(tmpdir(), "roster-console-"));
  try {
    await build({
      configFile: fileURLToPath(new URL("../vite.config.ts", import.meta.url)),
      logLevel: "warn",
      build: { outDir: tmp, emptyOutDir: true },
    });
    mkdirSync(CONSOLE_DIST, { recursive: true });
    cpSync(tmp, CONSOLE_DIST, { recursive: true, filter: (from) => from !== join(tmp, "index.html") });
    copyFileSync(join(tmp, "index.html"), `${index}.${process.pid}`);
    renameSync(`${index}.${process.pid}`, index);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Server {
  url: string;
  app: FastifyInstance;
  deps: AppDeps;
  mailer: MemoryMailer;
  close: () => Promise<void>;
}

/**
 * A real Roster on a random port, on a fresh database (PGlite, or DATABASE_URL), serving the built console.
 * `config` changes its configuration (e.g. `smtpUrl`); mail still goes to the in-memory mailer, never out.
 */
export async function startServer(config: Partial<Config> = {}): Promise<Server> {
  await ensureBuilt();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { db, close } = await freshDatabase();
  const mailer = new MemoryMailer();
  const deps: AppDeps = {
    db,
    config: testConfig({ port, publicUrl: url, ...config }),
    clock: new WallClock(),
    mailer,
    logger: false,
  };
  const app = await createApp(deps);
  await app.listen({ port, host: "127.0.0.1" });
  return {
    url,
    app,
    deps,
    mailer,
    close: async () => {
      await app.close();
      await close();
    },
  };
}

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is needed for the console's browser tests: apt-get install -y chromium (looked for ${CHROMIUM}; set CHROMIUM_PATH to override).`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };
export type Scheme = "light" | "dark";

export async function newContext(
  browser: Browser,
  server: Server,
  opts: { scheme?: Scheme; viewport?: { width: number; height: number } } = {},
): Promise<BrowserContext> {
  // Bounded: a browser that stops answering fails here by name rather than at the test's timeout.
  return within(
    60_000,
    "the browser did not open a new context",
    browser.newContext({
      baseURL: server.url,
      viewport: opts.viewport ?? DESKTOP,
      colorScheme: opts.scheme ?? "light",
      acceptDownloads: true,
      reducedMotion: "reduce",
    }),
  );
}

/** `work`, or a failure saying `what` did not happen within `ms`. */
export function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

// ---- API seeding (through the public API, as a script would) ----

export interface Account {
  email: string;
  password: string;
  name: string;
  token: string;
  userId: string;
}

let n = 0;
export const email = (tag: string) => `${tag}.${Date.now().toString(36)}${(n++).toString(36)}@example.com`;

export async function apiCall<T>(
  server: Server,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(server.url + path, {
    // Bounded, so a request that never answers fails the test with its path instead of the test's timeout.
    signal: AbortSignal.timeout(60_000),
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function signUp(server: Server, name: string, tag = "user"): Promise<Account> {
  const address = email(tag);
  const res = await apiCall<{ token: string; user: { id: string } }>(server, "POST", "/v1/auth/sign-up", undefined, {
    email: address,
    name,
    password: GOOD_PASSWORD,
  });
  return { email: address, password: GOOD_PASSWORD, name, token: res.token, userId: res.user.id };
}

export async function createOrg(server: Server, owner: Account, policy: string, name: string): Promise<{ id: string }> {
  return apiCall(server, "POST", "/v1/orgs", owner.token, { name, policy });
}

/** Puts an existing user straight into an org (for pages that are not about invitations). */
export async function addMember(
  server: Server,
  orgId: string,
  account: Account,
  role: string,
  extra: { department?: string; storeIds?: string[]; status?: "active" | "inactive" } = {},
): Promise<string> {
  const { newId } = await import("../../server/src/lib/ids.ts");
  const { members } = await import("../../server/src/db/schema.ts");
  const id = newId("mem");
  const now = new Date();
  await server.deps.db.tx({ orgId, userId: account.userId }, (tx) =>
    tx.insert(members).values({
      orgId,
      id,
      userId: account.userId,
      role,
      status: extra.status ?? "active",
      department: extra.department ?? null,
      secondaryEmail: null,
      storeIds: extra.storeIds ?? [],
      hiddenModules: [],
      invitedBy: null,
      createdAt: now,
      updatedAt: now,
      removedAt: null,
    }),
  );
  return id;
}

// ---- browser steps ----

export async function signIn(page: Page, account: { email: string; password: string }, next = "/"): Promise<void> {
  await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Email").fill(account.email);
  await page.locator("input[autocomplete=current-password]").fill(account.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL((u) => !u.pathname.startsWith("/sign-in"));
}

/** Lets transitions and fonts settle, so that screenshots and scans see the finished page. */
export async function settle(page: Page): Promise<void> {
  await page.waitForLoadState("networkidle");
  await page
    .locator("[aria-busy=true]")
    .first()
    .waitFor({ state: "detached" })
    .catch(() => undefined);
  await page.waitForTimeout(150);
}

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  nodes: string[];
}

/** axe-core's serious and critical findings on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"])
    .analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes
        .slice(0, 5)
        .map((x) => `${x.target.join(" ")} — ${(x.failureSummary ?? "").replace(/\s+/g, " ")}`.slice(0, 500)),
    }));
}

export const shots: string[] = [];

/**
 * Saves the page at 1280×800 and 375×812, light and dark, by re-opening the same URL in a context with the
 * same cookies. Returns the four file names.
 */
export async function screenshotAll(
  browser: Browser,
  server: Server,
  from: Page,
  name: string,
  prepare?: (p: Page) => Promise<void>,
): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const state = await from.context().storageState();
  const url = from.url();
  const saved: string[] = [];
  for (const scheme of ["light", "dark"] as const) {
    for (const [label, viewport] of [
      ["1280x800", DESKTOP],
      ["375x812", PHONE],
    ] as const) {
      const ctx = await browser.newContext({
        baseURL: server.url,
        viewport,
        colorScheme: scheme,
        storageState: state,
        reducedMotion: "reduce",
      });
      const page = await ctx.newPage();
      await page.goto(url);
      await settle(page);
      if (prepare) await prepare(page);
      const file = join(SCREENSHOT_DIR, `${name}-${label}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: false });
      saved.push(relative(repoRoot, file));
      await ctx.close();
    }
  }
  shots.push(...saved);
  return saved;
}

/**
 * Saves the page as it is now (no reload, so one-time states such as freshly shown recovery codes can be
 * captured) at 1280×800 and 375×812, light and dark, by resizing and switching the colour scheme in place.
 */
export async function screenshotInPlace(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const original = page.viewportSize() ?? DESKTOP;
  const saved: string[] = [];
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const [label, viewport] of [
      ["1280x800", DESKTOP],
      ["375x812", PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.waitForTimeout(150);
      const file = join(SCREENSHOT_DIR, `${name}-${label}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: false });
      saved.push(relative(repoRoot, file));
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize(original);
  shots.push(...saved);
  return saved;
}

/**
 * One page's checks: no script errors, axe with 0 serious/critical findings in light and in dark, and the four
 * screenshots. `inPlace` keeps the current page (for states a reload would lose) instead of re-opening the URL.
 */
export async function checkPage(
  browser: Browser,
  server: Server,
  page: Page,
  name: string,
  opts: { path?: string; ready?: (p: Page) => Promise<void>; inPlace?: boolean } = {},
): Promise<{ violations: AxeViolation[]; errors: string[]; files: string[] }> {
  const errors: string[] = [];
  const onError = (e: Error) => errors.push(e.message);
  page.on("pageerror", onError);
  if (opts.path) await page.goto(opts.path);
  if (opts.ready) await opts.ready(page);
  await settle(page);
  const violations = (await seriousViolations(page)).map((v) => ({ ...v, help: `${v.help} (light)` }));
  await page.emulateMedia({ colorScheme: "dark" });
  await settle(page);
  violations.push(...(await seriousViolations(page)).map((v) => ({ ...v, help: `${v.help} (dark)` })));
  await page.emulateMedia({ colorScheme: "light" });
  const files = opts.inPlace
    ? await screenshotInPlace(page, name)
    : await screenshotAll(browser, server, page, name, opts.ready);
  page.off("pageerror", onError);
  return { violations, errors, files };
}
