import pino from "pino";
import type { AppDeps } from "./deps.ts";
import { loadConfig, type Config } from "./config.ts";
import { openDatabase } from "./db/database.ts";
import { systemClock } from "./lib/clock.ts";
import { logMailer, smtpMailer } from "./mail/transport.ts";

/** Wires the real dependencies from the environment: the one place that does. */
export async function productionDeps(env: NodeJS.ProcessEnv = process.env): Promise<AppDeps> {
  const config: Config = loadConfig(env);
  const log = pino({ level: config.logLevel });
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    // The cache invalidation listener's own connection, when DATABASE_URL is a transaction-mode pooler.
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
