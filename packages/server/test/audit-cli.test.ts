import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { openDatabase } from "../src/db/database.ts";
import { checkpointCommand, EXIT_CHAIN_BROKEN, verifyCommand } from "../src/audit/cli.ts";
import { auditCheckpointJob, listCheckpoints } from "../src/audit/checkpoints.ts";
import { jobs } from "../src/jobs/registry.ts";
import { runDueJobs } from "../src/jobs/scheduler.ts";
import { createOrg, engine, signUp, testApp, type TestApp } from "./helpers.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..", "..");

class Capture {
  text = "";
  write(s: string | Uint8Array): boolean {
    this.text += String(s);
    return true;
  }
}

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

describe(`roster audit commands (${engine})`, () => {
  it("verify prints ok with the head, and exit status 2 with the first bad seq once tampered", async () => {
    const s = await signUp(t.app);
    const org = (await createOrg(t.app, s, "saas")).id;
    const out = new Capture();
    expect(await verifyCommand(t.deps, { org }, out)).toBe(0);
    expect(out.text).toMatch(new RegExp(`^${org}: ok, 1 events verified, last seq 1`));
    await t.db.owner((db) =>
      db.execute(sql`UPDATE audit_events SET action = 'team.invited' WHERE org_id = ${org} AND seq = 1`),
    );
    const bad = new Capture();
    expect(await verifyCommand(t.deps, { org, json: true }, bad)).toBe(EXIT_CHAIN_BROKEN);
    expect(JSON.parse(bad.text)).toMatchObject({ ok: false, brokenAtSeq: 1, reason: "edited" });
    await expect(verifyCommand(t.deps, { org: "org_missing" }, new Capture())).rejects.toThrow(/No organization/);
  });

  it("checkpoint signs every org's head, then has nothing new to sign; a broken chain is refused", async () => {
    const s = await signUp(t.app);
    const a = (await createOrg(t.app, s, "saas", "A")).id;
    const out = new Capture();
    const status = await checkpointCommand(t.deps, {}, out);
    expect(out.text).toContain(`${a}: signed checkpoint at seq 1`);
    // The org tampered with in the previous test is refused, the rest are signed.
    expect(status).toBe(EXIT_CHAIN_BROKEN);
    expect(out.text).toMatch(/NOT checkpointed, the chain is broken at seq 1 \(edited\)/);
    const again = new Capture();
    expect(await checkpointCommand(t.deps, { org: a }, again)).toBe(0);
    expect(again.text).toContain(`${a}: nothing new since the checkpoint at seq 1`);
    expect((await listCheckpoints(t.deps, a)).length).toBe(1);
  });

  it("the periodic checkpoint job is registered with the scheduler and signs new events", async () => {
    expect(jobs).toContain(auditCheckpointJob);
    const s = await signUp(t.app);
    const org = (await createOrg(t.app, s, "operations")).id;
    t.clock.advance(24 * 3600_000);
    const ran = await runDueJobs(t.deps, [auditCheckpointJob], { owner: "test" });
    expect(ran).toEqual(["audit.checkpoint"]);
    const cps = await listCheckpoints(t.deps, org);
    expect(cps.map((c) => Number(c.seq))).toEqual([1]);
  });
});

describe("the roster CLI binary", () => {
  it("runs audit checkpoint and audit verify, exiting 2 on a tampered chain", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "roster-audit-cli-"));
    const env = { ...process.env, ROSTER_DATA_DIR: dir, ROSTER_SECRET_KEY: "33".repeat(32), DATABASE_URL: "" };
    const cli = (...args: string[]) =>
      run(process.execPath, [join(ROOT, "bin", "roster.mjs"), ...args], { env, cwd: ROOT });
    try {
      const created = await cli(
        "create-org",
        "--name",
        "Cli Org",
        "--policy",
        "saas",
        "--owner-email",
        "cli.owner@example.com",
        "--owner-password",
        "a sturdy passphrase 42",
      );
      const org = /Created org (\S+)/.exec(created.stdout)?.[1];
      expect(org).toBeTruthy();
      expect((await cli("audit", "checkpoint")).stdout).toContain(`${org}: signed checkpoint at seq 1`);
      expect((await cli("audit", "verify", "--org", org!)).stdout).toMatch(
        /ok, 1 events verified.*newest signed checkpoint: seq 1/,
      );
      const db = await openDatabase({ dataDir: dir });
      await db.owner((d) =>
        d.execute(sql`UPDATE audit_events SET user_agent = 'someone else' WHERE org_id = ${org} AND seq = 1`),
      );
      await db.close();
      const broken = await cli("audit", "verify", "--org", org!).then(
        () => null,
        (e: { code: number; stdout: string }) => e,
      );
      expect(broken?.code).toBe(EXIT_CHAIN_BROKEN);
      expect(broken?.stdout).toContain("BROKEN at seq 1 (edited)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
