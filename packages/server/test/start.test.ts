import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..", "..");
const dataDir = mkdtempSync(join(tmpdir(), "roster-start-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The README's first command: `npm start` on the embedded default, with the demo orgs and printed sign-in details. */
describe("roster start on the embedded default", () => {
  it("answers /healthz, prints demo credentials that sign in, and /v1/me lists the memberships", async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      ROSTER_DATA_DIR: dataDir,
      ROSTER_DEMO: "true",
      LOG_LEVEL: "warn",
    };
    delete env.DATABASE_URL;
    delete env.ROSTER_SECRET_KEY;
    const child = spawn(process.execPath, [join(root, "bin", "roster.mjs"), "start"], {
      env,
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      const started = Date.now();
      while (!/password for every account: (\S+)\)/.test(out) && Date.now() - started < 60_000)
        await new Promise((r) => setTimeout(r, 200));
      const password = /password for every account: (\S+)\)/.exec(out)?.[1];
      expect(password, out).toBeTruthy();
      const base = `http://127.0.0.1:${port}`;
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
      const signIn = await fetch(`${base}/v1/auth/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "owner@roster.example", password }),
      });
      expect(signIn.status).toBe(200);
      const { token } = (await signIn.json()) as { token: string };
      const me = (await (await fetch(`${base}/v1/me`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        memberships: Array<{ policy: string }>;
      };
      expect(me.memberships.map((m) => m.policy).sort()).toEqual([
        "billing",
        "crm",
        "departments",
        "operations",
        "saas",
      ]);
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }, 120_000);
});
