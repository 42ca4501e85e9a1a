import type { Command } from "commander";
import { eq } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { organizations } from "../db/schema.ts";
import { allOrgIds, createCheckpoint, verifyOrg, type CheckpointOutcome } from "./checkpoints.ts";
import { loadSigningKey } from "./signing.ts";
import type { VerifyResult } from "./verify.ts";

/** Exit status of `roster audit verify` and `roster audit checkpoint` when a chain is broken (1 is any other failure). */
export const EXIT_CHAIN_BROKEN = 2;

type Out = Pick<NodeJS.WriteStream, "write">;

async function orgExists(deps: Pick<AppDeps, "db">, orgId: string): Promise<boolean> {
  const rows = await deps.db.tx({ platform: true }, (tx) =>
    tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, orgId)),
  );
  return rows.length === 1;
}

export function describeVerification(orgId: string, v: VerifyResult): string {
  const cp = v.checkpoint
    ? `; newest signed checkpoint: seq ${v.checkpoint.seq} (${v.checkpoint.createdAt})`
    : "; no signed checkpoint yet";
  if (v.ok)
    return `${orgId}: ok, ${v.eventsVerified} events verified, last seq ${v.lastSeq}, last hash ${v.lastHash}${cp}.`;
  return `${orgId}: BROKEN at seq ${v.brokenAtSeq} (${v.reason}): ${v.detail}${cp}.`;
}

function describeCheckpoint(orgId: string, c: CheckpointOutcome): string {
  if (c.status === "created")
    return `${orgId}: signed checkpoint at seq ${c.seq}, hash ${c.hash} (key ${c.keyId.slice(0, 16)}…).`;
  if (c.status === "unchanged") return `${orgId}: nothing new since the checkpoint at seq ${c.seq}.`;
  const v = c.verification;
  return `${orgId}: NOT checkpointed, the chain is broken${v.ok ? "" : ` at seq ${v.brokenAtSeq} (${v.reason}): ${v.detail}`}.`;
}

/** `roster audit verify --org <id>`: prints the result; exit status 2 when the chain is broken. */
export async function verifyCommand(
  deps: Pick<AppDeps, "db" | "config">,
  opts: { org: string; json?: boolean },
  out: Out,
): Promise<number> {
  if (!(await orgExists(deps, opts.org))) throw new Error(`No organization with id ${opts.org}.`);
  const v = await verifyOrg(deps, opts.org);
  out.write(opts.json ? `${JSON.stringify(v)}\n` : `${describeVerification(opts.org, v)}\n`);
  return v.ok ? 0 : EXIT_CHAIN_BROKEN;
}

/** `roster audit checkpoint [--org <id>]`: signs the head of one org or of every org; exit status 2 if any chain is broken. */
export async function checkpointCommand(
  deps: Pick<AppDeps, "db" | "config" | "clock">,
  opts: { org?: string },
  out: Out,
): Promise<number> {
  let orgIds: string[];
  if (opts.org) {
    if (!(await orgExists(deps, opts.org))) throw new Error(`No organization with id ${opts.org}.`);
    orgIds = [opts.org];
  } else {
    orgIds = await allOrgIds(deps);
  }
  let broken = 0;
  for (const orgId of orgIds) {
    const c = await createCheckpoint(deps, orgId);
    if (c.status === "refused") broken++;
    out.write(`${describeCheckpoint(orgId, c)}\n`);
  }
  if (orgIds.length === 0) out.write("No organizations yet.\n");
  return broken > 0 ? EXIT_CHAIN_BROKEN : 0;
}

/** Adds `roster audit verify|checkpoint|public-key` to the CLI. */
export function registerAuditCommands(program: Command, makeDeps: () => Promise<AppDeps>): void {
  const audit = program.command("audit").description("Verify and checkpoint the tamper-evident audit log");
  const run = (fn: (deps: AppDeps) => Promise<number>) => async () => {
    const deps = await makeDeps();
    try {
      process.exitCode = await fn(deps);
    } finally {
      await deps.db.close();
    }
  };
  audit
    .command("verify")
    .description("Re-verify an org's whole chain against its signed checkpoints and head (exit 2 when broken)")
    .requiredOption("--org <id>", "the organization id")
    .option("--json", "print the result as JSON")
    .action((opts: { org: string; json?: boolean }) => run((deps) => verifyCommand(deps, opts, process.stdout))());
  audit
    .command("checkpoint")
    .description(
      "Sign the current head {orgId, seq, hash} with the audit signing key, for one org or all (exit 2 if a chain is broken)",
    )
    .option("--org <id>", "only this organization")
    .action((opts: { org?: string }) => run((deps) => checkpointCommand(deps, opts, process.stdout))());
  audit
    .command("public-key")
    .description("Print the public half of the audit signing key (PEM) and its key id, for auditors")
    .action(() =>
      run(async (deps) => {
        const key = loadSigningKey(deps.config);
        process.stdout.write(`${key.publicKeyPem.trim()}\nkey id: ${key.keyId}\n`);
        return 0;
      })(),
    );
}
