// Better Auth with its organization plugin, served on node:http through its own Node handler, for the HTTP
// benchmark to compare against. Run as a child process of the benchmark: it migrates the database named by
// BETTER_AUTH_DATABASE_URL (its own tables, created programmatically), listens on 127.0.0.1:PORT and prints
// "ready" once it answers.
import { createServer } from "node:http";
import pg from "pg";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { organization } from "better-auth/plugins";

const databaseUrl = process.env.BETTER_AUTH_DATABASE_URL;
const port = Number(process.env.PORT);
const secret = process.env.BETTER_AUTH_SECRET;
if (!databaseUrl || !Number.isInteger(port) || port <= 0 || !secret) {
  console.error("BETTER_AUTH_DATABASE_URL, PORT and BETTER_AUTH_SECRET are required");
  process.exit(2);
}
const baseURL = `http://127.0.0.1:${port}`;

// Pool size 10, as Roster's default pool, so both servers may hold as many connections as the load has.
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
const options = {
  database: pool,
  baseURL,
  secret,
  trustedOrigins: [baseURL],
  emailAndPassword: { enabled: true },
  // Roster does not rate-limit these reads either; Better Auth's limiter is off outside production anyway.
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  plugins: [organization()],
};
const auth = betterAuth(options);

const { runMigrations } = await getMigrations(options);
await runMigrations();

const handler = toNodeHandler(auth);
const server = createServer((req, res) => void handler(req, res));
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => console.log("ready"));

const stop = () => {
  server.close();
  void pool.end().finally(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
