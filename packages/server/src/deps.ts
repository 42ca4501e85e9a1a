import type { FastifyServerOptions } from "fastify";
import type { Config } from "./config.ts";
import type { Database } from "./db/database.ts";
import type { Clock } from "./lib/clock.ts";
import type { Mailer } from "./mail/mailer.ts";

/** Resolves a host name to every address it has, as `dns.lookup(host, { all: true })` does. */
export type HostResolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** What every feature is built from. It sits below `app.ts`, so features never import the app that registers them. */
export interface AppDeps {
  db: Database;
  config: Config;
  clock: Clock;
  mailer: Mailer;
  /** pino options, or false for silence (tests). */
  logger?: FastifyServerOptions["logger"];
  /** How webhook target names are resolved; default the system resolver (tests name hosts of their own). */
  resolveHost?: HostResolver;
}
