import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { record } from "../src/audit/record.ts";
import type { AppDeps } from "../src/deps.ts";
import { createApp } from "../src/app.ts";
import { sql } from "drizzle-orm";
import { openDatabase, rowsOf } from "../src/db/database.ts";
import { createScratchDatabase } from "../src/db/scratch.ts";
import { EventSignals } from "../src/events/signals.ts";
import { systemClock } from "../src/lib/clock.ts";
import { webhookWorker } from "../src/webhooks/worker.ts";
import { bearer, engine, MemoryMailer, testConfig, uniqueEmail, GOOD_PASSWORD } from "./helpers.ts";
import { Receiver } from "./webhooks.helpers.ts";

/** @see issue 16: two instances on one PostgreSQL, and a Roster killed with SIGKILL mid-delivery. */

const root = join(import.meta.dirname, "..", "..", "..");
const KEY = "22".repeat(32);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

describe.skipIf(engine !== "postgres")("webhooks on PostgreSQL", () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  });

  it("event wake-ups come through the one listening connection at the listen URL, and again after it drops", async () => {
    const { url, drop } = await createScratchDatabase(process.env.DATABASE_URL!, "roster_wl");
    cleanup.push(drop);
    // As behind a transaction-mode pooler: requests through DATABASE_URL, LISTEN through ROSTER_DATABASE_LISTEN_URL.
    const named = (name: string) => `${url}${url.includes("?") ? "&" : "?"}application_name=${name}`;
    const db = await openDatabase({
      databaseUrl: named("roster_pool"),
      listenUrl: named("roster_listen"),
      poolSize: 2,
    });
    cleanup.push(() => db.close());
    const config = testConfig({ databaseUrl: named("roster_pool") });
    const app = await createApp({ db, config, clock: systemClock, mailer: new MemoryMailer(), logger: false });
    cleanup.push(() => app.close());
    const signals = new EventSignals({ db });
    const got: Array<{ orgId: string; seq: number } | null> = [];
    signals.subscribe((s) => got.push(s));
    const listeners = async () =>
      db.owner(async (d) =>
        rowsOf<{ pid: number; app: string }>(
          await d.execute(sql`SELECT pid, application_name AS app FROM pg_stat_activity
                               WHERE datname = current_database() AND query ILIKE 'LISTEN%'`),
        ),
      );
    expect(await listeners()).toEqual([{ pid: db.listenerPid(), app: "roster_listen" }]);

    const owner = (
      await app.inject({
        method: "POST",
        url: "/v1/auth/sign-up",
        payload: { email: uniqueEmail(), name: "Owner", password: GOOD_PASSWORD },
      })
    ).json<{ token: string }>();
    const org = (
      await app.inject({
        method: "POST",
        url: "/v1/orgs",
        headers: bearer(owner.token),
        payload: { name: "L", policy: "saas" },
      })
    ).json<{ id: string }>();
    const until = async (check: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(check()).toBe(true);
    };
    await until(() => got.some((s) => s?.orgId === org.id));

    // The listening connection is cut: it comes back on the listen URL, says "catch up", and wakes again.
    const pid = db.listenerPid();
    got.length = 0;
    await db.owner((d) => d.execute(sql`SELECT pg_terminate_backend(${pid})`));
    await until(() => db.listenerPid() !== null && db.listenerPid() !== pid);
    await until(() => got.includes(null));
    const renamed = await app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org.id}`,
      headers: bearer(owner.token),
      payload: { name: "M" },
    });
    expect(renamed.statusCode).toBe(200);
    await until(() => got.some((s) => s?.orgId === org.id));
    expect(await listeners()).toEqual([{ pid: db.listenerPid(), app: "roster_listen" }]);
    await signals.close();
  }, 60_000);

  it("two instances deliver 1,000 events to one endpoint: each exactly once, in seq order", async () => {
    const { url, drop } = await createScratchDatabase(process.env.DATABASE_URL!, "roster_wh");
    cleanup.push(drop);
    const config = testConfig({ databaseUrl: url, webhookAllowPrivate: true, secretKey: Buffer.from(KEY, "hex") });
    const open = async (): Promise<AppDeps> => ({
      db: await openDatabase({ databaseUrl: url, poolSize: 5 }),
      config,
      clock: systemClock,
      mailer: new MemoryMailer(),
      logger: false,
    });
    const A = await open();
    const B = await open();
    cleanup.push(
      () => A.db.close(),
      () => B.db.close(),
    );
    const app = await createApp(A);
    cleanup.push(() => app.close());
    const receiver = new Receiver();
    await receiver.start();
    cleanup.push(() => receiver.stop());
    const arrivedAt = new Map<number, number>();
    receiver.answer = (r) => {
      if (r.payload?.data.seq) arrivedAt.set(r.payload.data.seq as number, performance.now());
      return 200;
    };

    const signUp = await app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email: uniqueEmail(), name: "Owner", password: GOOD_PASSWORD },
    });
    const owner = signUp.json<{ token: string; user: { id: string } }>();
    const org = (
      await app.inject({
        method: "POST",
        url: "/v1/orgs",
        headers: bearer(owner.token),
        payload: { name: "Load", policy: "saas" },
      })
    ).json<{ id: string }>();
    const ep = await app.inject({
      method: "POST",
      url: `/v1/orgs/${org.id}/webhooks`,
      headers: bearer(owner.token),
      payload: { url: receiver.url, events: ["organization.*"] },
    });
    expect(ep.statusCode, ep.body).toBe(201);
    receiver.secret = ep.json<{ secret: string }>().secret;

    const signalsA = new EventSignals(A);
    const signalsB = new EventSignals(B);
    const workers = [
      webhookWorker(A, { owner: "instance-a", signals: signalsA, endpointsPerRound: 5, perClaim: 50 }),
      webhookWorker(B, { owner: "instance-b", signals: signalsB, endpointsPerRound: 5, perClaim: 50 }),
    ];
    cleanup.push(
      () => signalsA.close(),
      () => signalsB.close(),
    );
    for (const w of workers) w.start();

    const N = 1000;
    const committedAt = new Map<number, number>();
    const started = performance.now();
    for (let i = 0; i < N; i++) {
      const seq = await A.db.tx(
        { orgId: org.id },
        async (tx) =>
          (
            await record(tx, org.id, new Date(), {
              action: "organization.updated",
              actorId: owner.user.id,
              entityType: "organization",
              after: { n: i },
            })
          ).seq,
      );
      committedAt.set(seq, performance.now());
    }
    const deadline = Date.now() + 120_000;
    while (arrivedAt.size < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const finished = performance.now();
    for (const w of workers) await w.stop();

    const got = receiver.received.filter((r) => r.payload?.type === "organization.updated");
    expect(got.every((r) => r.verified)).toBe(true);
    const seqs = got.map((r) => r.payload!.data.seq as number);
    expect(seqs).toHaveLength(N);
    expect(new Set(seqs).size).toBe(N);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(got.map((r) => r.id)).size).toBe(N);
    // Both instances took part (the lease moves between them), yet no attempt was made twice.
    const attempts = await A.db.owner(async (db) =>
      rowsOf<{ n: number; most: number }>(
        await db.execute(sql`SELECT count(*)::int AS n, max(attempt) AS most FROM webhook_attempts`),
      ),
    );
    expect(attempts[0]).toEqual({ n: N, most: 1 });
    const latency = seqs.map((s) => arrivedAt.get(s)! - committedAt.get(s)!);
    process.stdout.write(
      `two instances, ${N} events: ${(N / ((finished - started) / 1000)).toFixed(0)} deliveries/s end to end; commit → delivery p50 ${pct(latency, 0.5).toFixed(1)} ms, p99 ${pct(latency, 0.99).toFixed(1)} ms\n`,
    );
  }, 240_000);

  it("a Roster killed with SIGKILL while the receiver is down delivers every event after both come back", async () => {
    const { url, drop } = await createScratchDatabase(process.env.DATABASE_URL!, "roster_wk");
    cleanup.push(drop);
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: url,
      ROSTER_SECRET_KEY: KEY,
      ROSTER_WEBHOOK_ALLOW_PRIVATE: "true",
      ROSTER_DEMO: "false",
      LOG_LEVEL: "warn",
    };
    let child: ChildProcess | null = null;
    const start = async () => {
      const c = spawn(process.execPath, [join(root, "bin", "roster.mjs"), "start"], {
        env,
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      });
      // Known as the running child from the start: it may deliver (and be killed) before it says it is running.
      child = c;
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const until = Date.now() + 90_000;
      while (!out.includes("Roster is running") && child === c && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      if (child === c) expect(out).toContain("Roster is running");
    };
    const kill = async () => {
      const c = child!;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
      child = null;
    };
    cleanup.push(async () => child && kill());
    await start();

    const call = async (method: string, path: string, token?: string, body?: object) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { ...(token ? bearer(token) : {}), ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
    };
    const owner = (
      await call("POST", "/v1/auth/sign-up", undefined, {
        email: uniqueEmail(),
        name: "Owner",
        password: GOOD_PASSWORD,
      })
    ).body as { token: string };
    const org = (await call("POST", "/v1/orgs", owner.token, { name: "Crash", policy: "saas" })).body as { id: string };

    // The receiver's port is fixed so that it can come back on the same URL.
    const receiver = new Receiver();
    await receiver.start();
    const receiverPort = receiver.port;
    const ep = await call("POST", `/v1/orgs/${org.id}/webhooks`, owner.token, {
      url: receiver.url,
      events: ["organization.*"],
    });
    expect(ep.status).toBe(201);
    receiver.secret = ep.body.secret as string;
    await receiver.stop(); // down

    const names = ["one", "two", "three", "four", "five"];
    for (const name of names)
      expect((await call("PATCH", `/v1/orgs/${org.id}`, owner.token, { name })).status).toBe(200);
    // Wait for the first failed attempt (connection refused), then kill Roster mid-backoff.
    const log = async () =>
      ((await call("GET", `/v1/orgs/${org.id}/webhooks/${ep.body.id as string}/deliveries?limit=100`, owner.token)).body
        .data ?? []) as Array<{ id: string; attempts: number; status: string }>;
    const until = Date.now() + 30_000;
    while (!(await log()).some((d) => d.attempts > 0) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 100));
    expect((await log()).some((d) => d.attempts > 0 && d.status === "pending")).toBe(true);
    await kill();

    // Back up: the receiver first, and it dies (SIGKILL of Roster) after processing the first event it gets,
    // before Roster can record the answer. Roster restarts and sends that one again with the same webhook-id.
    await receiver.start(receiverPort);
    const processed = new Set<string>();
    // The restart waits for the killed process to be gone: started while it still held the port, the new one
    // failed with EADDRINUSE.
    const crash: { killed: Promise<void> | null } = { killed: null };
    receiver.answer = async (r) => {
      if (r.verified) processed.add(r.id);
      crash.killed ??= kill();
      await crash.killed;
      return 200;
    };
    await start();
    // The killed instance's claim on the endpoint runs out after its lease (60 s) before the next one takes over.
    const deadline = Date.now() + 180_000;
    while (!crash.killed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await crash.killed;
    await start();
    while (processed.size < names.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const events = receiver.received.filter((r) => r.verified);
    const unique = [...new Map(events.map((r) => [r.id, r])).values()];
    expect(unique.map((r) => (r.payload!.data.after as { name: string }).name)).toEqual(names);
    // The one repeat carries the same webhook-id as the first copy, so the receiver can drop it.
    const repeats = events.length - unique.length;
    expect(repeats).toBeGreaterThanOrEqual(1);
    expect(events[0]!.id).toBe(events[1]!.id);
    const seqs = unique.map((r) => r.payload!.data.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    await receiver.stop();
  }, 300_000);
});
