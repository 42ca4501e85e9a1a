import pino from "pino";
import type { AppDeps } from "./deps.ts";
import { loadConfig, type Config } from "./config.ts";
import { openDatabase } from "./db/database.ts";
import { systemClock } from "./lib/clock.ts";
import { logMailer, smtpMailer } from "./mail/transport.ts";

/** Connections per instance in the request pool (PostgreSQL): 10 unless set. */
function poolSize(value: string | undefined): number {
  if (!value) return 10;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new Error(`ROSTER_DATABASE_POOL_SIZE: "${value}" is not a whole number from 1 to 1000.`);
  return n;
}

/** Wires the real dependencies from the environment: the one place that does. */
export async function productionDeps(env: NodeJS.ProcessEnv = process.env): Promise<AppDeps> {
  const config: Config = loadConfig(env);
  const log = pino({ level: config.logLevel });
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    poolSize: poolSize(env.ROSTER_DATABASE_POOL_SIZE),
    dataDir: config.dataDir,
    // The cache invalidation listener's own connection, when DATABASE_URL cannot carry LISTEN.
    listenUrl: env.ROSTER_DATABASE_LISTEN_URL || undefined,
  });
  const mailer = config.smtpUrl
    ? smtpMailer(config.smtpUrl, env.ROSTER_MAIL_FROM || "Roster <no-reply@roster.localhost>")
    : logMailer(log);
  return {
    db,
    config,
    clock: systemClock,
    mailer,
    logger: { level: config.logLevel, redact: ["req.headers.authorization", "req.headers.cookie"] },
  };
}
