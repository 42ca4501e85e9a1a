// Webhooks: deliveries per second of one instance draining a queue to a receiver on 127.0.0.1, and the delay from
// commit to delivery at a steady load. PGlite by default; DATABASE_URL for PostgreSQL (its own scratch database).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { scratchDatabase } from "../../packages/server/src/db/scratch.ts";
import { record, startChain } from "../../packages/server/src/audit/record.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import { systemClock } from "../../packages/server/src/lib/clock.ts";
import { EventSignals } from "../../packages/server/src/events/signals.ts";
import { webhookWorker } from "../../packages/server/src/webhooks/worker.ts";
import { sealSecret } from "../../packages/server/src/webhooks/service.ts";
import type { AppDeps } from "../../packages/server/src/deps.ts";
import type { Benchmark } from "./types.ts";

export const webhooksBenchmark: Benchmark = {
  name: "webhooks",
  description: "webhook deliveries/s on one instance, and commit → delivery p50/p99 at a steady load",
  run: runWebhooksBenchmark,
};

const QUEUE = 1000;
const STEADY_RATE = 50; // events per second
const STEADY_SECONDS = 5;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

async function runWebhooksBenchmark(): Promise<void> {
  const base = process.env.DATABASE_URL;
  const scratch = await scratchDatabase(base, { prefix: "roster_bench_wh", poolSize: 10 });
  const arrived = new Map<number, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data: { seq: number } };
      arrived.set(body.data.seq, performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const config = {
      ...loadConfig({ ROSTER_SECRET_KEY: "33".repeat(32), ROSTER_DATA_DIR: "memory://" }),
      databaseUrl: scratch.url,
      webhookAllowPrivate: true,
    };
    const deps: AppDeps = { db: scratch.db, config, clock: systemClock, mailer: { send: async () => {} } };
    const orgId = `org_bench_${randomBytes(4).toString("hex")}`;
    const now = new Date();
    await deps.db.tx({ orgId }, async (tx) => {
      await tx.execute(
        sql`INSERT INTO organizations (id, name, policy, settings, created_at, updated_at) VALUES (${orgId}, 'Bench', 'saas', '{}'::jsonb, ${now}, ${now})`,
      );
      await startChain(tx, orgId);
      await tx.execute(
        sql`INSERT INTO webhook_endpoints (org_id, id, url, events, enabled, secret, created_at, updated_at)
            VALUES (${orgId}, 'whk_bench', ${`http://127.0.0.1:${port}/`}, ARRAY['*'], true,
                    ${sealSecret(config.secretKey, "whk_bench", `whsec_${randomBytes(24).toString("base64")}`)}, ${now}, ${now})`,
      );
    });
    const append = (i: number) =>
      deps.db.tx(
        { orgId },
        async (tx) =>
          (
            await record(tx, orgId, new Date(), {
              action: "organization.updated",
              actorId: null,
              entityType: "organization",
              after: { i },
            })
          ).seq,
      );

    // 1. A queue of QUEUE events drained by one worker.
    for (let i = 0; i < QUEUE; i++) await append(i);
    const worker = webhookWorker(deps, { owner: "bench" });
    const t0 = performance.now();
    while (arrived.size < QUEUE) {
      const r = await worker.runOnce();
      if (r.delivered + r.failed === 0) break;
    }
    const drainS = (performance.now() - t0) / 1000;
    await worker.stop();
    console.log(
      `| ${scratch.db.kind} | queue of ${QUEUE} drained by one instance | ${(arrived.size / drainS).toFixed(0)} deliveries/s |`,
    );

    // 2. Steady load: STEADY_RATE events/s for STEADY_SECONDS, worker woken by notifications.
    arrived.clear();
    const signals = new EventSignals(deps);
    const live = webhookWorker(deps, { owner: "bench-live", signals });
    live.start();
    const committed = new Map<number, number>();
    const start = performance.now();
    const total = STEADY_RATE * STEADY_SECONDS;
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / STEADY_RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const seq = await append(i);
      committed.set(seq, performance.now());
    }
    const deadline = Date.now() + 30_000;
    while ([...committed.keys()].some((s) => !arrived.has(s)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await live.stop();
    await signals.close();
    const delays = [...committed].filter(([s]) => arrived.has(s)).map(([s, at]) => arrived.get(s)! - at);
    console.log(
      `| ${scratch.db.kind} | ${STEADY_RATE} events/s for ${STEADY_SECONDS} s | commit → delivery p50 ${pct(delays, 0.5).toFixed(1)} ms, p99 ${pct(delays, 0.99).toFixed(1)} ms (${delays.length}/${total} delivered) |`,
    );
  } finally {
    server.close();
    await scratch.drop();
  }
}
