// Member export at 100,000 members: peak memory of the process above idle while a client downloads the file
// over HTTP (CSV and XLSX), plus time and rows per second. PostgreSQL when DATABASE_URL is set (a scratch
// database is created and dropped), embedded PGlite otherwise (then the database lives in this process too).
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { execFile } from "node:child_process";
import { sql } from "drizzle-orm";
import { createApp } from "../../packages/server/src/app.ts";
import { loadConfig } from "../../packages/server/src/config.ts";
import type { Database } from "../../packages/server/src/db/database.ts";
import { scratchDatabase } from "../../packages/server/src/db/scratch.ts";
import { systemClock } from "../../packages/server/src/lib/clock.ts";
import type { Mailer } from "../../packages/server/src/mail/mailer.ts";
import type { Benchmark } from "./types.ts";

// `BENCH_EXPORT_MEMBERS=200000 npm run bench -- export` checks that the peak does not grow with the org.
const MEMBERS = Number(process.env.BENCH_EXPORT_MEMBERS ?? 100_000);
const TARGET_MB = 150;
const MB = 1024 * 1024;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function bulkMembers(db: Database, orgId: string, n: number): Promise<void> {
  await db.owner(async (d) => {
    await d.execute(sql`
      INSERT INTO users (id, email, name, password_hash, last_login_at, created_at, updated_at)
      SELECT 'usr_bench' || lpad(g::text, 7, '0'), 'bench.' || g || '@example.com', 'Bench Person ' || g, NULL,
             now() - g * interval '1 minute', now(), now()
      FROM generate_series(1, ${n}) AS g`);
    await d.execute(sql`
      INSERT INTO members (org_id, id, user_id, role, status, store_ids, created_at, updated_at)
      SELECT ${orgId}, 'mem_bench' || lpad(g::text, 7, '0'), 'usr_bench' || lpad(g::text, 7, '0'),
             CASE g % 3 WHEN 0 THEN 'staff' WHEN 1 THEN 'read_only' ELSE 'admin' END, 'active', ARRAY['retail'], now(), now()
      FROM generate_series(1, ${n}) AS g`);
    await d.execute(sql`ANALYZE users`);
    await d.execute(sql`ANALYZE members`);
  });
}

async function call(
  port: number,
  method: string,
  path: string,
  body?: object,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Downloads the export, discarding the bytes as they arrive, while sampling the process's memory. */
export function download(
  port: number,
  path: string,
  token: string,
  collectEverySecond = false,
): Promise<{ bytes: number; ms: number; peakRss: number; peakHeap: number; peakLive: number }> {
  return new Promise((resolve, reject) => {
    let peakRss = 0;
    let peakHeap = 0;
    const sample = () => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed + m.external);
    };
    let peakLive = 0;
    const timer = setInterval(sample, 5);
    // Once a second, what is still reachable after a full collection: growth here would be a leak, growth
    // only in the samples above is garbage the collector had not yet reclaimed.
    const live = setInterval(() => {
      if (!collectEverySecond) return;
      gc();
      const m = process.memoryUsage();
      peakLive = Math.max(peakLive, m.heapUsed + m.external);
    }, 1000);
    const started = performance.now();
    let bytes = 0;
    const req = request({ host: "127.0.0.1", port, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`));
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        sample();
      });
      res.on("end", () => {
        clearInterval(timer);
        clearInterval(live);
        sample();
        resolve({ bytes, ms: performance.now() - started, peakRss, peakHeap, peakLive });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * One download made by a client in a process of its own, timed there to the answer's last byte: what a server
 * answers to a real client, without the client's reading sharing the server's event loop (in this process it
 * added 1–1.5 s to a 66 MB report). Memory is not sampled: use {@link download} for that.
 */
export function downloadApart(port: number, path: string, token: string): Promise<{ bytes: number; ms: number }> {
  const client = `
    const { request } = require("node:http");
    const [port, path, token] = process.argv.slice(1);
    const started = performance.now();
    let bytes = 0;
    request({ host: "127.0.0.1", port: Number(port), path, headers: { authorization: "Bearer " + token } }, (res) => {
      if (res.statusCode !== 200) { console.error("answered " + res.statusCode); process.exit(1); }
      res.on("data", (c) => { bytes += c.length; });
      res.on("end", () => console.log(JSON.stringify({ bytes, ms: performance.now() - started })));
    }).end();`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["-e", client, String(port), path, token], (err, stdout, stderr) => {
      if (err) reject(new Error(`${path}: ${stderr.trim() || err.message}`));
      else resolve(JSON.parse(stdout) as { bytes: number; ms: number });
    });
  });
}

export const exportBenchmark: Benchmark = {
  name: "export",
  description: `peak memory above idle while streaming a ${MEMBERS.toLocaleString("en")}-member export over HTTP (target < ${TARGET_MB} MB)`,
  async run() {
    const { db, drop } = await scratchDatabase(process.env.DATABASE_URL, { prefix: "roster_bench" });
    const config = loadConfig({
      ROSTER_SECRET_KEY: "22".repeat(32),
      ROSTER_DATA_DIR: "memory://",
      ROSTER_PUBLIC_URL: "http://127.0.0.1:4000",
    });
    const mailer: Mailer = { send: async () => undefined };
    const app = await createApp({
      db,
      config: { ...config, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } },
      clock: systemClock,
      mailer,
      logger: false,
    });
    try {
      await app.listen({ host: "127.0.0.1", port: 0 });
      const port = (app.server.address() as AddressInfo).port;
      const signUp = await call(port, "POST", "/v1/auth/sign-up", {
        email: "bench-owner@example.com",
        name: "Bench Owner",
        password: "correct horse battery staple",
      });
      const token = String(signUp.json.token);
      const org = await call(port, "POST", "/v1/orgs", { name: "Bench Co", policy: "operations" }, token);
      const orgId = String(org.json.id);
      await bulkMembers(db, orgId, MEMBERS - 1);
      console.log(
        `database: ${db.kind}${db.kind === "pglite" ? " (in this process: its memory counts too)" : ""}; ${MEMBERS.toLocaleString("en")} members`,
      );
      console.log(
        "| format | size | time | rows/s | peak RSS above idle | peak JS heap + external above idle | live after GC above idle |",
      );
      console.log("|---|---|---|---|---|---|---|");
      const results: Array<{ format: string; mb: number }> = [];
      for (const format of ["csv", "xlsx"] as const) {
        // Warm the code path once on a small page so that idle includes loaded modules, not the export itself.
        await download(port, `/v1/orgs/${orgId}/members/export?format=${format}&role=owner`, token);
        gc();
        await new Promise((r) => setTimeout(r, 200));
        gc();
        const idle = process.memoryUsage();
        const idleHeap = idle.heapUsed + idle.external;
        const r = await download(port, `/v1/orgs/${orgId}/members/export?format=${format}`, token);
        // A second download with a full collection every second: the live size, which must not grow with the org.
        gc();
        const live = await download(port, `/v1/orgs/${orgId}/members/export?format=${format}`, token, true);
        const rssMb = (r.peakRss - idle.rss) / MB;
        const heapMb = (r.peakHeap - idleHeap) / MB;
        // RSS alone can hide growth (pages freed earlier get reused), the JS view alone misses native memory:
        // the verdict takes the larger of the two.
        results.push({ format, mb: Math.max(rssMb, heapMb) });
        console.log(
          `| ${format} | ${(r.bytes / MB).toFixed(1)} MB | ${(r.ms / 1000).toFixed(1)} s | ${Math.round(MEMBERS / (r.ms / 1000)).toLocaleString("en")} | ` +
            `${rssMb.toFixed(1)} MB | ${heapMb.toFixed(1)} MB | ${((live.peakLive - idleHeap) / MB).toFixed(1)} MB |`,
        );
      }
      for (const r of results) {
        console.log(
          `${r.format}: peak ${r.mb.toFixed(1)} MB above idle, ${r.mb < TARGET_MB ? "within" : "OVER"} the ${TARGET_MB} MB target`,
        );
      }
    } finally {
      await app.close();
      await drop();
    }
  },
};
