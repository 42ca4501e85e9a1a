import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import type { AppDeps } from "../src/deps.ts";
import { jobStatus, runDueJobs, startScheduler, type Job } from "../src/jobs/scheduler.ts";
import { jobs as registered } from "../src/jobs/registry.ts";
import { engine, testApp, type TestApp } from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

function countingJob(name: string, intervalSeconds: number, body: () => Promise<void> = async () => undefined) {
  const runs: Date[] = [];
  const job: Job = {
    name,
    intervalSeconds,
    run: async (deps: AppDeps) => {
      runs.push(deps.clock.now());
      await body();
    },
  };
  return { job, runs };
}

describe(`job scheduler (${engine})`, () => {
  it("runs a new job at once, then only when its interval has passed", async () => {
    const { job, runs } = countingJob("t.interval", 60);
    expect(await runDueJobs(t.deps, [job])).toEqual(["t.interval"]);
    expect(await runDueJobs(t.deps, [job])).toEqual([]);
    t.clock.advance(59_000);
    expect(await runDueJobs(t.deps, [job])).toEqual([]);
    t.clock.advance(1_000);
    expect(await runDueJobs(t.deps, [job])).toEqual(["t.interval"]);
    expect(runs).toHaveLength(2);
    const row = (await jobStatus(t.deps)).find((r) => r.name === "t.interval")!;
    expect(row.lockedBy).toBeNull();
    expect(row.nextRunAt.getTime()).toBe(t.clock.now().getTime() + 60_000);
  });

  it("gives each due run to exactly one of several instances racing for it", async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    const { job, runs } = countingJob("t.race", 30, async () => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 20));
      concurrent--;
    });
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        ["a", "b", "c", "d", "e"].map((owner) => runDueJobs(t.deps, [job], { owner: `instance-${owner}` })),
      );
      expect(results.flat()).toEqual(["t.race"]);
      t.clock.advance(30_000);
    }
    expect(runs).toHaveLength(3);
    expect(maxConcurrent).toBe(1);
  });

  it("records a failure and retries after the interval", async () => {
    let fail = true;
    const { job, runs } = countingJob("t.failing", 120, async () => {
      if (fail) throw new Error("mail relay unreachable");
    });
    expect(await runDueJobs(t.deps, [job])).toEqual(["t.failing"]);
    let row = (await jobStatus(t.deps)).find((r) => r.name === "t.failing")!;
    expect(row.lastError).toBe("mail relay unreachable");
    expect(row.lockedUntil).toBeNull();
    fail = false;
    t.clock.advance(120_000);
    expect(await runDueJobs(t.deps, [job])).toEqual(["t.failing"]);
    row = (await jobStatus(t.deps)).find((r) => r.name === "t.failing")!;
    expect(row.lastError).toBeNull();
    expect(runs).toHaveLength(2);
  });

  it("does not run a job another live instance holds, and takes it over once that lease has expired", async () => {
    const { job, runs } = countingJob("t.lease", 60);
    job.leaseSeconds = 300;
    const now = t.clock.now();
    await t.db.owner((db) =>
      db.execute(
        sql`INSERT INTO job_runs (name, next_run_at, locked_until, locked_by) VALUES ('t.lease', ${now.toISOString()}::timestamptz - interval '1 minute', ${now.toISOString()}::timestamptz + interval '5 minutes', 'crashed-instance')`,
      ),
    );
    expect(await runDueJobs(t.deps, [job])).toEqual([]);
    t.clock.advance(5 * 60_000 + 1);
    expect(await runDueJobs(t.deps, [job])).toEqual(["t.lease"]);
    expect(runs).toHaveLength(1);
  });

  it("rejects duplicate names and non-positive intervals", async () => {
    const a = countingJob("t.dup", 10).job;
    await expect(runDueJobs(t.deps, [a, a])).rejects.toThrow(/unique/);
    await expect(runDueJobs(t.deps, [countingJob("t.zero", 0).job])).rejects.toThrow(/intervalSeconds/);
  });

  it("startScheduler ticks until stopped, and stop waits for the running job", async () => {
    let finished = 0;
    const { job, runs } = countingJob("t.ticking", 1, async () => {
      await new Promise((r) => setTimeout(r, 30));
      finished++;
    });
    const s = startScheduler(t.deps, [job], { tickMs: 10 });
    while (runs.length === 0) await new Promise((r) => setTimeout(r, 5));
    await s.stop();
    expect(finished).toBe(runs.length);
    const after = runs.length;
    t.clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(runs.length).toBe(after);
  });

  it("the registry has unique job names", () => {
    const names = registered.map((j) => j.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
