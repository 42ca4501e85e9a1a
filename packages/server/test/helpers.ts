import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { createApp, type AppDeps } from "../src/app.ts";
import { loadConfig, type Config } from "../src/config.ts";
import type { Database } from "../src/db/database.ts";
import { scratchDatabase } from "../src/db/scratch.ts";
import { FakeClock } from "../src/lib/clock.ts";
import type { Mailer, OutgoingMail } from "../src/mail/mailer.ts";

export const engine = process.env.DATABASE_URL ? "postgres" : "pglite";

/**
 * A freshly migrated database per test file: in-memory PGlite by default, or a new database in the
 * PostgreSQL server named by DATABASE_URL (dropped again by `close`).
 */
export async function freshDatabase(): Promise<{ db: Database; close: () => Promise<void>; url?: string }> {
  const { db, url, drop } = await scratchDatabase(process.env.DATABASE_URL, { prefix: "roster_t", poolSize: 25 });
  return { db, close: drop, ...(url ? { url } : {}) };
}

export class MemoryMailer implements Mailer {
  sent: OutgoingMail[] = [];
  async send(mail: OutgoingMail) {
    this.sent.push(mail);
  }
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  const base = loadConfig({
    ROSTER_SECRET_KEY: "11".repeat(32),
    ROSTER_DATA_DIR: "memory://",
    ROSTER_PUBLIC_URL: "http://127.0.0.1:4000",
  });
  // Cheap argon2 in tests only: the production parameters are checked by a test of loadConfig.
  return { ...base, argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 }, ...overrides };
}

export interface TestApp {
  app: FastifyInstance;
  deps: AppDeps;
  clock: FakeClock;
  mailer: MemoryMailer;
  db: Database;
  close: () => Promise<void>;
}

export async function testApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const { db, close, url } = await freshDatabase();
  const clock = new FakeClock();
  const mailer = new MemoryMailer();
  // On PostgreSQL the config names the scratch database, as DATABASE_URL would.
  const config = testConfig({ ...(url ? { databaseUrl: url } : {}), ...overrides });
  const deps: AppDeps = { db, config, clock, mailer, logger: false };
  const app = await createApp(deps);
  return {
    app,
    deps,
    clock,
    mailer,
    db,
    close: async () => {
      await app.close();
      await close();
    },
  };
}

export const json = <T = Record<string, unknown>>(res: LightMyRequestResponse): T => res.json<T>();

export interface Session {
  token: string;
  csrfToken: string;
  user: { id: string; email: string; name: string };
}

let counter = 0;
export const uniqueEmail = (tag = "user") => `${tag}.${Date.now().toString(36)}${(counter++).toString(36)}@example.com`;
export const GOOD_PASSWORD = "correct horse battery staple";

export async function signUp(
  app: FastifyInstance,
  email = uniqueEmail(),
  name = "Test User",
  password = GOOD_PASSWORD,
): Promise<Session> {
  const res = await app.inject({ method: "POST", url: "/v1/auth/sign-up", payload: { email, name, password } });
  if (res.statusCode !== 201) throw new Error(`sign-up failed: ${res.statusCode} ${res.body}`);
  return json<Session>(res);
}

export const bearer = (s: Session | string) => ({ authorization: `Bearer ${typeof s === "string" ? s : s.token}` });

export async function createOrg(app: FastifyInstance, s: Session, policy: string, name = `Org ${policy}`) {
  const res = await app.inject({ method: "POST", url: "/v1/orgs", headers: bearer(s), payload: { name, policy } });
  if (res.statusCode !== 201) throw new Error(`create org failed: ${res.statusCode} ${res.body}`);
  return json<{ id: string; memberId: string; role: string }>(res);
}

/** Adds a member straight into an org (tests that are not about invitations). */
export async function addMember(
  t: TestApp,
  orgId: string,
  role: string,
  extra: {
    department?: string | null;
    storeIds?: string[];
    hiddenModules?: string[];
    status?: "active" | "inactive" | "removed";
    email?: string;
  } = {},
): Promise<{ session: Session; memberId: string; userId: string }> {
  const email = extra.email ?? uniqueEmail(role);
  const session = await signUp(t.app, email, `${role} person`);
  const { newId } = await import("../src/lib/ids.ts");
  const { members } = await import("../src/db/schema.ts");
  const memberId = newId("mem");
  const now = t.clock.now();
  await t.db.tx({ orgId, userId: session.user.id }, (tx) =>
    tx.insert(members).values({
      orgId,
      id: memberId,
      userId: session.user.id,
      role,
      status: extra.status ?? "active",
      department: extra.department ?? null,
      secondaryEmail: null,
      storeIds: extra.storeIds ?? [],
      hiddenModules: extra.hiddenModules ?? [],
      invitedBy: null,
      createdAt: now,
      updatedAt: now,
      removedAt: null,
    }),
  );
  return { session, memberId, userId: session.user.id };
}

/** The billing preset's custom role "Receivables clerk" (`ar_clerk`, invoices read-only), created through the API. */
export async function createClerkRole(app: FastifyInstance, s: Session, orgId: string): Promise<void> {
  const res = await app.inject({
    method: "POST",
    url: `/v1/orgs/${orgId}/roles`,
    headers: bearer(s),
    payload: { key: "ar_clerk", title: "Receivables clerk", description: "", rank: 0.5, permissions: ["invoice:read"] },
  });
  if (res.statusCode !== 201) throw new Error(`create role failed: ${res.statusCode} ${res.body}`);
}
