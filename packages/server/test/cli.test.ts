import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/db/database.ts";
import { createScratchDatabase } from "../src/db/scratch.ts";
import { rowsOf } from "../src/db/database.ts";
import { engine } from "./helpers.ts";

/**
 * The `roster` binary as an operator runs it: each command is a separate process on a real database
 * (a PGlite data directory, or a new database on the PostgreSQL server named by DATABASE_URL).
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..", "..");
const BIN = join(ROOT, "bin", "roster.mjs");
const KEY = "44".repeat(32);
const NEW_KEY = "55".repeat(32);
const PASSWORD = "a sturdy passphrase 42";

interface Target {
  env: NodeJS.ProcessEnv;
  open: () => ReturnType<typeof openDatabase>;
  drop: () => Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** An empty database (nothing migrated) and the environment that points the CLI at it. */
async function emptyTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "roster-cli-"));
  const base: NodeJS.ProcessEnv = { ...process.env, ROSTER_DATA_DIR: dir, ROSTER_SECRET_KEY: KEY, LOG_LEVEL: "warn" };
  const baseUrl = process.env.DATABASE_URL;
  let target: Target;
  if (!baseUrl) {
    target = {
      env: { ...base, DATABASE_URL: "" },
      open: () => openDatabase({ dataDir: dir }),
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    };
  } else {
    const { url, drop } = await createScratchDatabase(baseUrl, "roster_cli");
    target = {
      env: { ...base, DATABASE_URL: url },
      open: () => openDatabase({ databaseUrl: url, poolSize: 2 }),
      drop: async () => {
        await drop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  cleanups.push(target.drop);
  return target;
}

function cli(target: Target, ...args: string[]) {
  return run(process.execPath, [BIN, ...args], { env: target.env, cwd: ROOT, timeout: 180_000 });
}

/** A CLI run expected to fail: its exit status and what it printed. */
async function cliFails(target: Target, ...args: string[]): Promise<{ code: number; stderr: string }> {
  return cli(target, ...args).then(
    (r) => ({ code: 0, stderr: `unexpected success: ${r.stdout}` }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
}

/** `roster start` on a free port; resolves once it prints its address, with the base URL and a stop function. */
async function start(target: Target): Promise<{ base: string; stop: () => Promise<void> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [BIN, "start"], {
    env: { ...target.env, PORT: String(port), HOST: "127.0.0.1" },
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  };
  const started = Date.now();
  while (!out.includes("Roster is running at") && child.exitCode === null && Date.now() - started < 180_000)
    await new Promise((r) => setTimeout(r, 200));
  if (!out.includes("Roster is running at")) {
    await stop();
    throw new Error(`roster start did not come up:\n${out}`);
  }
  return { base: `http://127.0.0.1:${port}`, stop };
}

async function signIn(base: string, email: string): Promise<string> {
  const res = await fetch(`${base}/v1/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

async function createOrg(target: Target, name: string, policy: string, email: string): Promise<string> {
  const { stdout } = await cli(
    target,
    "create-org",
    "--name",
    name,
    "--policy",
    policy,
    "--owner-email",
    email,
    "--owner-password",
    PASSWORD,
  );
  const id = /Created org (\S+) /.exec(stdout)?.[1];
  expect(id, stdout).toBeTruthy();
  return id!;
}

describe(`the roster CLI, spawned (${engine})`, () => {
  it(
    "migrate, create-org, grant-platform-role, start: the granted developer lists tenants over HTTP",
    { timeout: 900_000 },
    async () => {
      const target = await emptyTarget();
      const first = await cli(target, "migrate");
      expect(first.stdout).toMatch(/^Applied: 0001_\w+\.sql, /);
      expect((await cli(target, "migrate")).stdout).toBe("Database is up to date.\n");

      const crm = await createOrg(target, "Acme CRM", "crm", "owner@acme.example");
      const saas = await createOrg(target, "Beta SaaS", "saas", "beta@acme.example");

      const unknownRole = await cliFails(target, "grant-platform-role", "--email", "dev@acme.example", "--role", "0");
      expect(unknownRole.code).toBe(1);
      expect(unknownRole.stderr).toContain(
        'Unknown platform role "0". Use one of: developer, developer_staff, developer_admin, none.',
      );
      const unknownUser = await cliFails(
        target,
        "grant-platform-role",
        "--email",
        "nobody@acme.example",
        "--role",
        "developer",
      );
      expect(unknownUser.code).toBe(1);
      expect(unknownUser.stderr).toContain("No user with email nobody@acme.example.");

      // A user who is nobody's member yet: the platform role alone gives the developer portal.
      await createOrg(target, "Dev Sandbox", "saas", "dev@acme.example");
      const granted = await cli(target, "grant-platform-role", "--email", "DEV@acme.example", "--role", "developer");
      expect(granted.stdout).toBe("dev@acme.example now has platform role developer.\n");

      const server = await start(target);
      try {
        const dev = await signIn(server.base, "dev@acme.example");
        const res = await fetch(`${server.base}/v1/platform/orgs?limit=200`, {
          headers: { authorization: `Bearer ${dev}` },
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { data: Array<{ id: string; name: string; memberCount: number }> };
        expect(body.data.map((o) => o.name).sort()).toEqual(["Acme CRM", "Beta SaaS", "Dev Sandbox"]);
        expect(body.data.find((o) => o.id === crm)?.memberCount).toBe(1);
        expect(body.data.some((o) => o.id === saas)).toBe(true);

        // An org owner without a platform role is refused.
        const owner = await signIn(server.base, "owner@acme.example");
        const refused = await fetch(`${server.base}/v1/platform/orgs`, {
          headers: { authorization: `Bearer ${owner}` },
        });
        expect(refused.status).toBe(403);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("permission_denied");
      } finally {
        await server.stop();
      }

      // --role none takes the role away again.
      expect((await cli(target, "grant-platform-role", "--email", "dev@acme.example", "--role", "none")).stdout).toBe(
        "dev@acme.example now has platform role none.\n",
      );
      const db = await target.open();
      try {
        const rows = rowsOf<{ platform_role: string | null }>(
          await db.owner((d) => d.execute(sql`SELECT platform_role FROM users WHERE email = 'dev@acme.example'`)),
        );
        expect(rows).toEqual([{ platform_role: null }]);
      } finally {
        await db.close();
      }
    },
  );

  it(
    "backup, restore into a fresh database, then reseal-secrets under a rotated key",
    { timeout: 900_000 },
    async () => {
      const source = await emptyTarget();
      await createOrg(source, "Backed Up", "operations", "ops@acme.example");
      const file = join(mkdtempSync(join(tmpdir(), "roster-cli-backup-")), "roster.jsonl.gz");
      cleanups.push(async () => rmSync(join(file, ".."), { recursive: true, force: true }));
      const backup = await cli(source, "backup", "--file", file);
      expect(backup.stdout).toMatch(
        new RegExp(`^Backed up \\d+ rows from \\d+ tables to ${file.replace(/\./g, "\\.")}\\.`),
      );

      const copy = await emptyTarget();
      const restored = await cli(copy, "restore", "--file", file);
      expect(restored.stdout).toMatch(/^Restored \d+ rows into \d+ tables\./);
      // A second restore into the now non-empty database is refused, and changes nothing.
      const again = await cliFails(copy, "restore", "--file", file);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("restore into a fresh database");

      const rotated = { ...copy, env: { ...copy.env, ROSTER_SECRET_KEY: NEW_KEY, ROSTER_SECRET_KEY_PREVIOUS: KEY } };
      const resealed = await cli(rotated, "reseal-secrets");
      expect(resealed.stdout).toMatch(
        /^Re-sealed 0 TOTP secrets, \d+ queued emails and \d+ signing keys and application\/webhook secrets under the current key\./,
      );

      const server = await start(rotated);
      try {
        const token = await signIn(server.base, "ops@acme.example");
        const me = (await (
          await fetch(`${server.base}/v1/me`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { memberships: Array<{ orgName?: string; policy: string }> };
        expect(me.memberships.map((m) => m.policy)).toEqual(["operations"]);
      } finally {
        await server.stop();
      }
    },
  );
});
