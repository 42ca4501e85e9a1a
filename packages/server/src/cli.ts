import { Command } from "commander";
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { createApp } from "./app.ts";
import { productionDeps } from "./runtime.ts";
import { migrate } from "./db/migrate.ts";
import { openDatabase } from "./db/database.ts";
import { loadConfig } from "./config.ts";
import { seedDemo } from "./demo.ts";
import { createOrg } from "./orgs/service.ts";
import { checkPasswordPolicy, hashPassword } from "./auth/passwords.ts";
import { findUserByEmail, normalizeEmail } from "./auth/service.ts";
import { users } from "./db/schema.ts";
import { newId } from "./lib/ids.ts";
import { presets } from "@roster/policy";
import { startScheduler } from "./jobs/scheduler.ts";
import { jobs } from "./jobs/registry.ts";
import { outboxWorker } from "./mail/worker.ts";
import { webhookWorker } from "./webhooks/worker.ts";
import { EventSignals } from "./events/signals.ts";
import { backupTo, restoreFrom } from "./backup/backup.ts";
import { resealSecrets } from "./ops/reseal.ts";
import { registerAuditCommands } from "./audit/cli.ts";
import { registerOidcCommands } from "./oidc/cli.ts";

const program = new Command().name("roster").description("Roster: team & access management server");
const cliMeta = { ip: null, userAgent: "roster cli" };

program
  .command("start")
  .description("Migrate the database and serve the API and console")
  .action(async () => {
    const deps = await productionDeps();
    const app = await createApp(deps);
    const demo = deps.config.demo ? await seedDemo(deps) : null;
    await app.listen({ port: deps.config.port, host: deps.config.host });
    const scheduler = startScheduler(deps, jobs, { log: app.log });
    const mailWorker = outboxWorker(deps, { log: app.log });
    mailWorker.start();
    const signals = new EventSignals(deps);
    const webhooks = webhookWorker(deps, { log: app.log, signals });
    webhooks.start();
    const engine = deps.db.kind === "pglite" ? `embedded PGlite in ${deps.config.dataDir}` : "PostgreSQL";
    const lines = [
      ``,
      `Roster is running at ${deps.config.publicUrl}  (database: ${engine})`,
      `  API reference: ${deps.config.publicUrl}/docs`,
    ];
    if (demo) {
      lines.push(``, `Demo sign-in (password for every account: ${demo.password})`);
      for (const a of demo.accounts) lines.push(`  ${a.email.padEnd(36)} ${a.role.padEnd(18)} ${a.org}`);
    }
    process.stdout.write(lines.join("\n") + "\n\n");
    const stop = async () => {
      await scheduler.stop();
      await mailWorker.stop();
      await webhooks.stop();
      await signals.close();
      await app.close();
      await deps.db.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop());
    process.once("SIGTERM", () => void stop());
  });

program
  .command("migrate")
  .description("Apply pending database migrations and exit")
  .action(async () => {
    const config = loadConfig(process.env);
    // Opened without applying anything (`migrateUpTo: ""` stops before the first file), so this run reports
    // what it applies itself.
    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrateUpTo: "" });
    try {
      const ran = await migrate(db);
      process.stdout.write(ran.length ? `Applied: ${ran.join(", ")}\n` : "Database is up to date.\n");
    } finally {
      await db.close();
    }
  });

program
  .command("create-org")
  .description("Create an organization and its top-role member (creating the user when needed)")
  .requiredOption("--name <name>", "organization name")
  .requiredOption("--policy <preset>", `one of ${Object.keys(presets).join(", ")}`)
  .requiredOption("--owner-email <email>", "the owner's email")
  .option("--owner-password <password>", "password for a new owner account (generated when omitted)")
  .action(async (opts: { name: string; policy: string; ownerEmail: string; ownerPassword?: string }) => {
    const deps = await productionDeps();
    try {
      let user = await findUserByEmail(deps, opts.ownerEmail);
      let generated: string | undefined;
      if (!user) {
        const password = opts.ownerPassword ?? (generated = randomBytes(12).toString("base64url"));
        checkPasswordPolicy(password);
        const now = deps.clock.now();
        const id = newId("usr");
        const row = {
          id,
          email: normalizeEmail(opts.ownerEmail),
          name: opts.ownerEmail.split("@")[0] ?? "Owner",
          passwordHash: await hashPassword(password, deps.config.argon2),
          platformRole: null,
          lastLoginAt: null,
          createdAt: now,
          updatedAt: now,
        };
        await deps.db.tx({ userId: id }, (tx) => tx.insert(users).values(row));
        user = row;
      }
      const { org, member } = await createOrg(
        deps,
        { name: opts.name, policy: opts.policy, ownerUserId: user.id },
        cliMeta,
      );
      process.stdout.write(
        `Created org ${org.id} (${org.name}, policy ${org.policy}); ${user.email} is ${member.role}.\n`,
      );
      if (generated) process.stdout.write(`Generated password for ${user.email}: ${generated}\n`);
    } finally {
      await deps.db.close();
    }
  });

program
  .command("grant-platform-role")
  .description(
    "Give a user an installation-level role (developer, developer_staff, developer_admin), or --role none to take it away",
  )
  .requiredOption("--email <email>")
  .requiredOption("--role <role>")
  .action(async (opts: { email: string; role: string }) => {
    // The crm preset declares the installation's platform roles, highest rank first.
    const roles = (presets.crm.platform?.roles ?? []).map((r) => r.name).reverse();
    if (opts.role !== "none" && !roles.includes(opts.role))
      throw new Error(`Unknown platform role "${opts.role}". Use one of: ${roles.join(", ")}, none.`);
    const deps = await productionDeps();
    try {
      const user = await findUserByEmail(deps, opts.email);
      if (!user) throw new Error(`No user with email ${opts.email}.`);
      await deps.db.owner((db) =>
        db.execute(
          sql`UPDATE users SET platform_role = ${opts.role === "none" ? null : opts.role}, updated_at = now() WHERE id = ${user.id}`,
        ),
      );
      process.stdout.write(`${user.email} now has platform role ${opts.role}.\n`);
    } finally {
      await deps.db.close();
    }
  });

program
  .command("backup")
  .description(
    "Write a consistent snapshot of the whole database to a file (gzipped JSON lines; works while Roster runs)",
  )
  .requiredOption("--file <path>", "where to write the backup, e.g. roster-2026-11-23.jsonl.gz")
  .action(async (opts: { file: string }) => {
    const deps = await productionDeps();
    try {
      const counts = await backupTo(deps.db, opts.file);
      const rows = Object.values(counts).reduce((a, b) => a + b, 0);
      process.stdout.write(`Backed up ${rows} rows from ${Object.keys(counts).length} tables to ${opts.file}.\n`);
      process.stdout.write("Keep ROSTER_SECRET_KEY with it: MFA secrets in the backup are encrypted under that key.\n");
    } finally {
      await deps.db.close();
    }
  });

program
  .command("restore")
  .description("Load a backup into a fresh database (the embedded one or DATABASE_URL), all or nothing")
  .requiredOption("--file <path>", "a file written by `roster backup`")
  .action(async (opts: { file: string }) => {
    const deps = await productionDeps();
    try {
      const counts = await restoreFrom(deps.db, opts.file);
      const rows = Object.values(counts).reduce((a, b) => a + b, 0);
      process.stdout.write(
        `Restored ${rows} rows into ${Object.keys(counts).length} tables. Start Roster with the ROSTER_SECRET_KEY of the backed-up installation.\n`,
      );
    } finally {
      await deps.db.close();
    }
  });

program
  .command("reseal-secrets")
  .description(
    "After rotating ROSTER_SECRET_KEY (old key in ROSTER_SECRET_KEY_PREVIOUS): re-encrypt every stored secret under the new key",
  )
  .action(async () => {
    const deps = await productionDeps();
    try {
      const r = await resealSecrets(deps.db, deps.config);
      process.stdout.write(
        `Re-sealed ${r.factors} TOTP secrets, ${r.mails} queued emails and ${r.others} signing keys and application/webhook secrets under the current key. ROSTER_SECRET_KEY_PREVIOUS can now be removed (sessions signed in before the rotation then sign in again).\n`,
      );
    } finally {
      await deps.db.close();
    }
  });

registerAuditCommands(program, () => productionDeps());
registerOidcCommands(program, () => productionDeps());

export { program };

program.parseAsync(process.argv).catch((err: unknown) => {
  // A database error arrives wrapped (the statement in the message, the reason in `cause`): print both.
  const cause = err instanceof Error && err.cause instanceof Error ? `\n  cause: ${err.cause.message}` : "";
  process.stderr.write(`roster: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
  process.exit(1);
});
