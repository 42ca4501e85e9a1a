import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { and, eq, isNull, lt, lte, or } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { jobRuns, type JobRunRow } from "./tables.ts";

/** A periodic task. `run` must be safe to repeat: a crash after the work but before bookkeeping runs it again. */
export interface Job {
  /** Unique and stable: the row in `job_runs` is keyed by it. */
  name: string;
  intervalSeconds: number;
  /**
   * How long a claim holds before another instance may take the run over (the instance may have died).
   * Default: the interval, at least 60 s and at most 15 min. Must exceed the job's longest run.
   */
  leaseSeconds?: number;
  run(deps: AppDeps): Promise<void>;
}

export interface SchedulerLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Identifies this process in `job_runs.locked_by`, for operators reading the table. */
export const INSTANCE_ID = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;

function leaseMs(job: Job): number {
  const seconds = job.leaseSeconds ?? Math.min(Math.max(job.intervalSeconds, 60), 15 * 60);
  return seconds * 1000;
}

function validate(jobs: readonly Job[]): void {
  const seen = new Set<string>();
  for (const j of jobs) {
    if (!j.name || seen.has(j.name)) throw new Error(`job names must be unique and non-empty: "${j.name}"`);
    if (!(j.intervalSeconds > 0)) throw new Error(`job ${j.name}: intervalSeconds must be positive`);
    seen.add(j.name);
  }
}

/**
 * Atomically takes the job's due run for this instance: due, and not leased by a live instance. Exactly one
 * concurrent caller gets a row back; the UPDATE's row lock decides between instances.
 */
async function claim(deps: AppDeps, job: Job, now: Date, owner: string): Promise<boolean> {
  return deps.db.tx({}, async (tx) => {
    await tx.insert(jobRuns).values({ name: job.name, nextRunAt: now }).onConflictDoNothing();
    const claimed = await tx
      .update(jobRuns)
      .set({ lockedUntil: new Date(now.getTime() + leaseMs(job)), lockedBy: owner, lastRunAt: now })
      .where(
        and(
          eq(jobRuns.name, job.name),
          lte(jobRuns.nextRunAt, now),
          or(isNull(jobRuns.lockedUntil), lt(jobRuns.lockedUntil, now)),
        ),
      )
      .returning({ name: jobRuns.name });
    return claimed.length === 1;
  });
}

async function release(deps: AppDeps, job: Job, startedAt: Date, owner: string, error: string | null): Promise<void> {
  const finished = deps.clock.now();
  await deps.db.tx({}, (tx) =>
    tx
      .update(jobRuns)
      // The next run is counted from the start of this one, so a slow job does not drift later and later.
      .set({
        nextRunAt: new Date(startedAt.getTime() + job.intervalSeconds * 1000),
        lockedUntil: null,
        lockedBy: null,
        lastFinishedAt: finished,
        lastError: error,
      })
      .where(and(eq(jobRuns.name, job.name), eq(jobRuns.lockedBy, owner))),
  );
}

/**
 * One scheduler tick: runs every due job that this instance manages to claim, one after another, and answers
 * their names. A failing job records its error in `job_runs.last_error` and waits for its next interval.
 */
export async function runDueJobs(
  deps: AppDeps,
  jobs: readonly Job[],
  opts: { owner?: string; log?: SchedulerLog } = {},
): Promise<string[]> {
  validate(jobs);
  const owner = opts.owner ?? INSTANCE_ID;
  const ran: string[] = [];
  for (const job of jobs) {
    const startedAt = deps.clock.now();
    if (!(await claim(deps, job, startedAt, owner))) continue;
    let error: string | null = null;
    try {
      await job.run(deps);
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).slice(0, 2000);
      opts.log?.error({ err, job: job.name }, "scheduled job failed");
    }
    await release(deps, job, startedAt, owner, error);
    ran.push(job.name);
  }
  return ran;
}

/** The scheduler's bookkeeping, for operators and tests. */
export async function jobStatus(deps: AppDeps): Promise<JobRunRow[]> {
  return deps.db.tx({}, (tx) => tx.select().from(jobRuns).orderBy(jobRuns.name));
}

/**
 * Runs `runDueJobs` every `tickMs` (default 15 s) until stopped. Ticks never overlap within a process, and the
 * database claim keeps them from overlapping across processes. `stop()` waits for a running tick to finish.
 */
export function startScheduler(
  deps: AppDeps,
  jobs: readonly Job[],
  opts: { tickMs?: number; log?: SchedulerLog; owner?: string } = {},
): { stop(): Promise<void> } {
  validate(jobs);
  const tickMs = opts.tickMs ?? 15_000;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let current: Promise<void> = Promise.resolve();

  const tick = () => {
    timer = null;
    current = runDueJobs(deps, jobs, opts)
      .then(
        (ran) => {
          if (ran.length > 0) opts.log?.info({ jobs: ran }, "scheduled jobs ran");
        },
        (err: unknown) => {
          opts.log?.error({ err }, "scheduler tick failed");
        },
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, tickMs);
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await current;
    },
  };
}
