// Real email: an SMTP server (smtp-server) on 127.0.0.1, the app configured with SMTP_URL pointing at it, the
// outbox worker delivering with nodemailer. Counts deliveries per Message-ID (the outbox idempotency key).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMTPServer } from "smtp-server";
import { sql } from "drizzle-orm";
import { createApp, type AppDeps } from "../src/app.ts";
import { openDatabase, rowsOf, type Database } from "../src/db/database.ts";
import { systemClock } from "../src/lib/clock.ts";
import { smtpMailer } from "../src/mail/transport.ts";
import { outboxWorker, type OutboxWorker } from "../src/mail/worker.ts";
import type { Mailer } from "../src/mail/mailer.ts";
import { sealPayload } from "../src/mail/outbox.ts";
import {
  bearer,
  createOrg,
  engine,
  freshDatabase,
  json,
  signUp,
  testApp,
  testConfig,
  uniqueEmail,
  type Session,
} from "./helpers.ts";
import { api, deliverMail } from "./members.helpers.ts";

interface Received {
  messageId: string;
  idempotencyKey: string;
  to: string[];
  raw: string;
}

/** An SMTP server on 127.0.0.1 with a random port that keeps every message it accepts. */
async function startSmtp(opts: { delayMs?: number } = {}) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const header = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, "im").exec(raw)?.[1]?.trim() ?? "";
        const accept = () => {
          received.push({
            messageId: header("Message-ID"),
            idempotencyKey: header("X-Roster-Idempotency-Key"),
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
          });
          callback();
        };
        if (opts.delayMs) setTimeout(accept, opts.delayMs);
        else accept();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    received,
    url: `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    /** Deliveries per Message-ID. */
    counts(): Map<string, number> {
      const m = new Map<string, number>();
      for (const r of received) m.set(r.messageId, (m.get(r.messageId) ?? 0) + 1);
      return m;
    },
  };
}

/** The text part of a MIME message, with quoted-printable undone. */
function textOf(raw: string): string {
  return raw.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The same database opened again, as a restarted server would: a PostgreSQL database, or a PGlite data directory. */
async function reopenableDatabase(): Promise<{ open: () => Promise<Database>; cleanup: () => Promise<void> }> {
  if (engine === "postgres") {
    // A fresh database; each "instance" opens its own connection pool to it.
    const fresh = await freshDatabase();
    return { open: () => openDatabase({ databaseUrl: fresh.url!, poolSize: 10 }), cleanup: fresh.close };
  }
  const dir = await mkdtemp(join(tmpdir(), "roster-mail-"));
  return { open: () => openDatabase({ dataDir: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function depsFor(db: Database, smtpUrl: string, mailer?: Mailer): AppDeps {
  return {
    db,
    config: testConfig({ smtpUrl }),
    clock: systemClock,
    mailer: mailer ?? smtpMailer(smtpUrl, "Roster <no-reply@roster.test>"),
    logger: false,
  };
}

async function outboxStatus(db: Database): Promise<Record<string, number>> {
  const rows = rowsOf<{ status: string; n: number }>(
    await db.owner((d) => d.execute(sql`SELECT status, count(*)::int AS n FROM outbox GROUP BY status`)),
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

describe(`invitation over real SMTP (${engine})`, () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let db: Database;
  let closeDb: () => Promise<void>;
  let worker: OutboxWorker;
  let deps: AppDeps;
  beforeAll(async () => {
    smtp = await startSmtp();
    const fresh = await freshDatabase();
    db = fresh.db;
    closeDb = fresh.close;
    deps = depsFor(db, smtp.url);
  });
  afterAll(async () => {
    await worker?.stop();
    await closeDb();
    await smtp.close();
  });

  it("reaches the SMTP server on 127.0.0.1 within 5 seconds, and its link accepts the invitation", async () => {
    const app = await createApp(deps);
    try {
      worker = outboxWorker(deps, { pollMs: 100 });
      worker.start();
      const owner = await signUp(app, uniqueEmail("smtp-owner"), "Mail Owner");
      const org = await createOrg(app, owner, "operations", "Mail Works");
      const email = uniqueEmail("smtp-invitee");
      const res = await app.inject({
        method: "POST",
        url: `/v1/orgs/${org.id}/invitations`,
        headers: { authorization: `Bearer ${owner.token}` },
        payload: { email, role: "staff" },
      });
      expect(res.statusCode).toBe(201);
      // The acceptance bound: the message is in the SMTP server's hands within 5 seconds of the request.
      await until(() => smtp.received.some((r) => r.to.includes(email)), 5000, "the invitation email");

      const mail = smtp.received.find((r) => r.to.includes(email))!;
      expect(mail.raw).toMatch(/^Subject: Mail Owner invited you to Mail Works/m);
      expect(mail.raw).toMatch(/Content-Type: text\/plain/);
      expect(mail.raw).toMatch(/Content-Type: text\/html/);
      expect(mail.messageId).toBe(`<${mail.idempotencyKey}@roster>`);
      const link = /http:\/\/127\.0\.0\.1:4000\/accept-invitation\?token=(ri_[A-Za-z0-9_-]+)/.exec(textOf(mail.raw));
      expect(link).not.toBeNull();

      const accepted = await app.inject({
        method: "POST",
        url: `/v1/invitations/${link![1]}/accept`,
        payload: { name: "Mailed Person", password: "a long enough passphrase" },
      });
      expect(accepted.statusCode).toBe(200);
      expect(json<{ member: { role: string }; user: { email: string } }>(accepted)).toMatchObject({
        member: { role: "staff" },
        user: { email },
      });
      // Delivered over SMTP, the body is erased from the outbox; the row stays as a record of the delivery.
      const rows = rowsOf<{ status: string; payload: string | null }>(
        await db.owner((d) => d.execute(sql`SELECT status, payload FROM outbox WHERE to_address = ${email}`)),
      );
      expect(rows).toEqual([{ status: "sent", payload: null }]);
      // No dev mailbox when SMTP is configured.
      expect(
        (
          await app.inject({
            method: "GET",
            url: "/v1/dev/mailbox",
            headers: { authorization: `Bearer ${owner.token}` },
          })
        ).statusCode,
      ).toBe(404);
    } finally {
      await app.close();
    }
  });

  it("a refused delivery is retried with backoff and then delivered once", async () => {
    await worker.stop();
    const down = await startSmtp();
    await down.close();
    // A server that is not listening: the attempt fails and the message waits for its retry.
    const failing = outboxWorker(depsFor(db, down.url));
    const id = `msg_retry_${Date.now()}`;
    const payload = sealPayload(deps.config.secretKey, id, {
      subject: "Retry",
      text: "retry body",
      html: "<p>retry body</p>",
    });
    await db.owner((d) =>
      d.execute(
        sql`INSERT INTO outbox (id, org_id, kind, to_address, payload, status, attempts, next_attempt_at, created_at) VALUES (${id}, NULL, 'password_reset', 'retry@example.com', ${payload}, 'pending', 0, now(), now())`,
      ),
    );
    const r1 = await failing.runOnce();
    expect(r1.failed).toBeGreaterThanOrEqual(1);
    const [row] = rowsOf<{ status: string; attempts: number; next_attempt_at: Date; last_error: string }>(
      await db.owner((d) =>
        d.execute(sql`SELECT status, attempts, next_attempt_at, last_error FROM outbox WHERE id = ${id}`),
      ),
    );
    expect(row).toMatchObject({ status: "pending", attempts: 1 });
    expect(new Date(row!.next_attempt_at).getTime()).toBeGreaterThan(Date.now() + 20_000);
    expect(row!.last_error).toBeTruthy();
    // Due again (as if the backoff had passed): the healthy server gets it exactly once.
    await db.owner((d) =>
      d.execute(sql`UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE id = ${id}`),
    );
    const healthy = outboxWorker(deps);
    while ((await healthy.runOnce()).sent > 0) {
      /* drain */
    }
    expect(smtp.received.filter((r) => r.idempotencyKey === id)).toHaveLength(1);
  });
});

describe(`restart in the middle of sending 100 emails (${engine})`, () => {
  const N = 100;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let store: Awaited<ReturnType<typeof reopenableDatabase>>;
  beforeAll(async () => {
    // Each message takes a little while to be accepted, so a restart lands in the middle of the batch.
    smtp = await startSmtp({ delayMs: 10 });
    store = await reopenableDatabase();
  });
  afterAll(async () => {
    await smtp.close();
    await store.cleanup();
  });

  async function queueInvitations(db: Database): Promise<string[]> {
    const deps = depsFor(db, smtp.url);
    const app = await createApp(deps);
    try {
      const owner: Session = await signUp(app, uniqueEmail("bulk-owner"), "Bulk Owner");
      const org = await createOrg(app, owner, "saas", "Bulk Mail");
      const emails = Array.from({ length: N }, (_, i) => `bulk${i}.${Date.now().toString(36)}@example.com`);
      for (const email of emails) {
        const res = await app.inject({
          method: "POST",
          url: `/v1/orgs/${org.id}/invitations`,
          headers: { authorization: `Bearer ${owner.token}` },
          payload: { email },
        });
        if (res.statusCode !== 201) throw new Error(`invite failed: ${res.body}`);
      }
      return emails;
    } finally {
      await app.close();
    }
  }

  it(
    "a server stopped mid-batch and started again delivers each message exactly once",
    { timeout: 120_000 },
    async () => {
      const db1 = await store.open();
      const emails = await queueInvitations(db1);
      const deps1 = depsFor(db1, smtp.url);
      const app1 = await createApp(deps1);
      const w1 = outboxWorker(deps1, { pollMs: 20, batchSize: 10 });
      w1.start();
      await until(() => smtp.received.length >= 25, 20_000, "the first instance to be under way");
      // The restart: the worker stops (the in-flight message finishes, the rest of its claim is handed back),
      // the app and its database connection close; a new instance starts on the same database.
      await w1.stop();
      await app1.close();
      await db1.close();
      const beforeRestart = smtp.received.length;
      expect(beforeRestart).toBeGreaterThanOrEqual(25);
      expect(beforeRestart).toBeLessThan(N);

      const db2 = await store.open();
      try {
        const deps2 = depsFor(db2, smtp.url);
        const app2 = await createApp(deps2);
        const w2 = outboxWorker(deps2, { pollMs: 20, batchSize: 10 });
        w2.start();
        await until(() => new Set(smtp.received.map((r) => r.messageId)).size >= N, 30_000, "all messages");
        await w2.stop();
        // Nothing is left to send: another round delivers nothing more.
        expect(await outboxWorker(deps2).runOnce()).toEqual({ sent: 0, failed: 0 });
        await app2.close();

        const counts = smtp.counts();
        expect(counts.size).toBe(N);
        expect([...counts.values()].every((c) => c === 1)).toBe(true);
        expect(smtp.received).toHaveLength(N);
        expect(new Set(smtp.received.flatMap((r) => r.to))).toEqual(new Set(emails));
        expect(await outboxStatus(db2)).toEqual({ sent: N });
      } finally {
        await db2.close();
      }
    },
  );

  it(
    "a worker that dies holding a claim: its messages are taken over after the lease, each delivered once",
    { timeout: 120_000 },
    async () => {
      smtp.received.length = 0;
      const db = await store.open();
      try {
        await db.owner((d) => d.execute(sql`DELETE FROM outbox`));
        const emails = await queueInvitations(db);
        const real = smtpMailer(smtp.url, "Roster <no-reply@roster.test>");
        let sent = 0;
        // Dies on its 15th message: the call never returns, as when the process is killed before the SMTP dialogue.
        const dying: Mailer = { send: (m) => (++sent >= 15 ? new Promise<void>(() => undefined) : real.send(m)) };
        const w1 = outboxWorker(depsFor(db, smtp.url, dying), { pollMs: 20, batchSize: 10, leaseSeconds: 1 });
        w1.start();
        await until(() => sent >= 15, 20_000, "the first worker to hang");
        const held = rowsOf<{ n: number }>(
          await db.owner((d) =>
            d.execute(sql`SELECT count(*)::int AS n FROM outbox WHERE status = 'sending' AND locked_by = ${w1.owner}`),
          ),
        )[0]!.n;
        expect(Number(held)).toBeGreaterThan(0);

        const w2 = outboxWorker(depsFor(db, smtp.url), { pollMs: 50, batchSize: 10 });
        w2.start();
        await until(
          () => new Set(smtp.received.map((r) => r.messageId)).size >= N,
          30_000,
          "all messages after the takeover",
        );
        await w2.stop();
        const counts = smtp.counts();
        expect(counts.size).toBe(N);
        expect([...counts.values()].every((c) => c === 1)).toBe(true);
        expect(new Set(smtp.received.flatMap((r) => r.to))).toEqual(new Set(emails));
        expect(await outboxStatus(db)).toEqual({ sent: N });
      } finally {
        await db.close();
      }
    },
  );
});

describe(`\`roster start\` stopped with SIGTERM in the middle of 100 emails, then started again (${engine})`, () => {
  const N = 100;
  const root = join(import.meta.dirname, "..", "..", "..");
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let dataDir: string;
  let fresh: Awaited<ReturnType<typeof freshDatabase>> | null = null;
  beforeAll(async () => {
    // Slow enough (100 messages take at least 15 s) that the restart lands mid-way even when creating the
    // invitations is slow on a busy machine.
    smtp = await startSmtp({ delayMs: 150 });
    dataDir = await mkdtemp(join(tmpdir(), "roster-restart-"));
    if (engine === "postgres") fresh = await freshDatabase();
  });
  afterAll(async () => {
    await smtp.close();
    await rm(dataDir, { recursive: true, force: true });
    await fresh?.close();
  });

  async function startServer(port: number): Promise<{ child: ChildProcess; output: () => string }> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      ROSTER_DATA_DIR: dataDir,
      ROSTER_DEMO: "false",
      LOG_LEVEL: "warn",
      SMTP_URL: smtp.url,
      ROSTER_SECRET_KEY: "33".repeat(32),
      ROSTER_PUBLIC_URL: `http://127.0.0.1:${port}`,
    };
    if (fresh?.url) env.DATABASE_URL = fresh.url;
    else delete env.DATABASE_URL;
    const child = spawn(process.execPath, [join(root, "bin", "roster.mjs"), "start"], {
      env,
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    await until(() => out.includes("Roster is running at") || child.exitCode !== null, 60_000, "the server to start");
    if (child.exitCode !== null) throw new Error(`server exited: ${out}`);
    return { child, output: () => out };
  }

  const stopServer = async (child: ChildProcess) => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };

  it("delivers each of the 100 messages exactly once", { timeout: 240_000 }, async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const base = `http://127.0.0.1:${port}`;
    const first = await startServer(port);
    let emails: string[] = [];
    try {
      const post = async (path: string, body: object, token?: string) => {
        const res = await fetch(`${base}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
        });
        if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as Record<string, unknown>;
      };
      const token = String(
        (
          await post("/v1/auth/sign-up", {
            email: uniqueEmail("restart-owner"),
            name: "Restart Owner",
            password: "correct horse battery staple",
          })
        ).token,
      );
      const orgId = String((await post("/v1/orgs", { name: "Restart Co", policy: "saas" }, token)).id);
      emails = Array.from({ length: N }, (_, i) => `restart${i}.${Date.now().toString(36)}@example.com`);
      for (const email of emails) await post(`/v1/orgs/${orgId}/invitations`, { email }, token);
      await until(() => smtp.received.length >= 20, 60_000, "the first server to be sending");
    } finally {
      await stopServer(first.child);
    }
    const atRestart = smtp.received.length;
    expect(atRestart, "the restart must fall in the middle of the batch").toBeLessThan(N);
    expect(first.output()).not.toMatch(/"level":(50|60)/);

    const second = await startServer(port);
    try {
      await until(() => new Set(smtp.received.map((r) => r.messageId)).size >= N, 90_000, "all 100 messages");
      // A little longer: a duplicate would arrive now if anything were sent twice.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await stopServer(second.child);
    }
    const counts = smtp.counts();
    expect(counts.size).toBe(N);
    expect([...counts.entries()].filter(([, c]) => c !== 1)).toEqual([]);
    expect(new Set(smtp.received.flatMap((r) => r.to))).toEqual(new Set(emails));
  });
});

describe("dev mailbox (no SMTP_URL)", () => {
  it("shows each person their own mail and the invitations they sent; reset links only to their recipient", async () => {
    const t = await testApp();
    try {
      const admin = await signUp(t.app, uniqueEmail("mbx-admin"), "Mailbox Admin");
      const org = await createOrg(t.app, admin, "saas", "Mailbox Co");
      const invitee = uniqueEmail("mbx-invitee");
      expect((await api(t).post(admin, `/v1/orgs/${org.id}/invitations`, { email: invitee })).statusCode).toBe(201);
      const other = await signUp(t.app, uniqueEmail("mbx-other"));
      await t.app.inject({ method: "POST", url: "/v1/auth/password/forgot", payload: { email: other.user.email } });
      await deliverMail(t);

      const mine = json<{
        data: Array<{ kind: string; to: string; subject: string; text: string; html: string; status: string }>;
      }>(await t.app.inject({ url: "/v1/dev/mailbox", headers: bearer(admin) })).data;
      expect(mine.map((m) => [m.kind, m.to])).toEqual([["invitation", invitee]]);
      expect(mine[0]).toMatchObject({ subject: "Mailbox Admin invited you to Mailbox Co", status: "sent" });
      expect(mine[0]!.text).toContain("/accept-invitation?token=ri_");
      expect(mine[0]!.html).toContain("<a href=");

      const theirs = json<{ data: Array<{ kind: string; to: string }> }>(
        await t.app.inject({ url: "/v1/dev/mailbox", headers: bearer(other) }),
      ).data;
      expect(theirs.map((m) => [m.kind, m.to])).toEqual([["password_reset", other.user.email]]);
      // The admin cannot read someone else's reset link, even by asking for their address.
      const probe = json<{ data: unknown[] }>(
        await t.app.inject({
          url: `/v1/dev/mailbox?to=${encodeURIComponent(other.user.email)}`,
          headers: bearer(admin),
        }),
      ).data;
      expect(probe).toEqual([]);
      expect((await t.app.inject({ url: "/v1/dev/mailbox" })).statusCode).toBe(401);
    } finally {
      await t.close();
    }
  });
});
