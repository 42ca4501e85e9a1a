// can() decisions per second against CASL and casbin encoding the same matrix, in one process.
import { subject as caslSubject } from "@casl/ability";
import type { MongoAbility } from "@casl/ability";
import { can, permissionMatrix, presets } from "@roster/policy";
import type { Policy, ResourceRef, Subject } from "@roster/policy";
import { formatRate, formatRatio, measure, sink } from "./measure.ts";
import type { Case } from "./measure.ts";
import { caslAbility, casbinAbac, casbinRbac } from "./policy-encodings.ts";
import type { BenchOptions, Benchmark } from "./types.ts";

interface Check {
  policy: Policy;
  subject: Subject;
  action: string;
  resource: ResourceRef;
  ability: MongoAbility;
  /** what CASL is asked: a type name for plain checks, a tagged record for scoped ones */
  caslTarget: string | object;
}

interface Scenario {
  name: string;
  /** what CASL's figure in this row is */
  caslMode: string;
  checks: Check[];
  casbin: (c: Check) => boolean;
}

export const policyBenchmark: Benchmark = {
  name: "policy",
  description: "can() decisions per second vs CASL and casbin on the same matrix",
  run: runPolicyBenchmark,
};

async function runPolicyBenchmark({ timeMs }: BenchOptions): Promise<void> {
  const scenarios = [
    await plainScenario(presets.operations),
    await ownScenario(presets.crm),
    await storeScenario(presets.operations),
  ];
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const scenario of scenarios) {
    const expected = verify(scenario);
    const { checks } = scenario;
    const casbinChecks = checks.slice(0, Math.min(checks.length, 200));
    const cases: Case[] = [
      {
        name: "roster",
        batch: checks.length,
        fn: () => {
          let n = 0;
          for (let i = 0; i < checks.length; i++) {
            const c = checks[i]!;
            if (can(c.policy, c.subject, c.action, c.resource).allowed) n++;
          }
          sink.value += n;
        },
      },
      {
        name: "casl",
        batch: checks.length,
        fn: () => {
          let n = 0;
          for (let i = 0; i < checks.length; i++) {
            const c = checks[i]!;
            if (c.ability.can(c.action, c.caslTarget as never)) n++;
          }
          sink.value += n;
        },
      },
      {
        name: "casbin",
        batch: casbinChecks.length,
        fn: () => {
          let n = 0;
          for (let i = 0; i < casbinChecks.length; i++) if (scenario.casbin(casbinChecks[i]!)) n++;
          sink.value += n;
        },
      },
    ];
    process.stdout.write(`measuring ${scenario.name} (${checks.length} distinct checks, ${expected} allowed)…\n`);
    const rates = await measure(cases, timeMs);
    const [roster, casl, casbin] = [rates.get("roster")!, rates.get("casl")!, rates.get("casbin")!];
    rows.push([
      scenario.name,
      formatRate(roster),
      `${formatRate(casl)} (${scenario.caslMode})`,
      formatRate(casbin),
      formatRatio(roster / casl),
      formatRatio(roster / casbin),
    ]);
    verdicts.push(
      `${scenario.name}: Roster is ${formatRatio(roster / casl)} CASL (target ≥ 1.50×) ${roster / casl >= 1.5 ? "✓" : "✗"}`,
    );
  }
  console.log();
  printTable(
    ["scenario", "Roster can()", "CASL can()", "casbin enforceSync()", "Roster / CASL", "Roster / casbin"],
    rows,
  );
  console.log();
  for (const v of verdicts) console.log(v);
}

/** Plain role checks: every permission of the operations matrix that is either granted outright or refused. */
async function plainScenario(policy: Policy): Promise<Scenario> {
  const enforcer = await casbinRbac(policy);
  const subjects = new Map(
    policy.roles.map((r) => [r.name, { role: r.name, userId: `u-${r.name}` } satisfies Subject]),
  );
  const abilities = new Map([...subjects].map(([role, s]) => [role, caslAbility(policy, s)]));
  const refs = new Map(Object.keys(policy.resources).map((type) => [type, { type } satisfies ResourceRef]));
  const checks: Check[] = [];
  for (const { resource, actions } of permissionMatrix(policy).resources) {
    for (const { action, byRole } of actions) {
      for (const [role, cell] of Object.entries(byRole)) {
        if (cell !== "all" && cell !== "none") continue;
        checks.push({
          policy,
          subject: subjects.get(role)!,
          action,
          resource: refs.get(resource)!,
          ability: abilities.get(role)!,
          caslTarget: resource,
        });
      }
    }
  }
  return {
    name: `plain (${policy.name})`,
    caslMode: "plain",
    checks: shuffle(checks),
    casbin: (c) => enforcer.enforceSync(c.subject.role, c.resource.type, c.action),
  };
}

/** @own: sales reps reading and editing leads, half of them their own. */
async function ownScenario(policy: Policy): Promise<Scenario> {
  const enforcer = await casbinAbac(policy);
  const users = ["u1", "u2", "u3", "u4"];
  const checks: Check[] = [];
  for (const userId of users) {
    const s: Subject = { role: "sales_rep", userId };
    const ability = caslAbility(policy, s);
    for (const ownerId of [...users, "u5", "u6", "u7", "u8"]) {
      const resource: ResourceRef = { type: "lead", ownerId };
      const tagged = caslSubject("lead", { ownerId });
      for (const action of ["read", "update"])
        checks.push({ policy, subject: s, action, resource, ability, caslTarget: tagged });
    }
  }
  return withAbac(`scoped @own (${policy.name})`, shuffle(checks), enforcer);
}

/** @store: staff and read-only members with a few stores each, on records spread over six stores. */
async function storeScenario(policy: Policy): Promise<Scenario> {
  const enforcer = await casbinAbac(policy);
  const matrix = permissionMatrix(policy);
  const members: Subject[] = [
    { role: "staff", userId: "u1", storeIds: ["s1", "s2"] },
    { role: "staff", userId: "u2", storeIds: ["s3"] },
    { role: "read_only", userId: "u3", storeIds: ["s1", "s4", "s5"] },
    { role: "read_only", userId: "u4", storeIds: ["s6"] },
  ];
  const stores = ["s1", "s2", "s3", "s4", "s5", "s6"];
  const checks: Check[] = [];
  for (const s of members) {
    const ability = caslAbility(policy, s);
    for (const { resource, actions } of matrix.resources) {
      for (const { action, byRole } of actions) {
        if (byRole[s.role] !== "store") continue;
        for (const storeId of stores) {
          checks.push({
            policy,
            subject: s,
            action,
            resource: { type: resource, storeId },
            ability,
            caslTarget: caslSubject(resource, { storeId }),
          });
        }
      }
    }
  }
  return withAbac(`scoped @store (${policy.name})`, shuffle(checks), enforcer);
}

function withAbac(name: string, checks: Check[], enforcer: Awaited<ReturnType<typeof casbinAbac>>): Scenario {
  const requests = new Map(
    checks.map((c) => [
      c,
      [
        { role: c.subject.role, userId: c.subject.userId, storeIds: c.subject.storeIds ?? [] },
        { ...c.resource },
        c.action,
      ] as const,
    ]),
  );
  return {
    name,
    caslMode: "conditions",
    checks,
    casbin: (c) => {
      const [sub, obj, act] = requests.get(c)!;
      return enforcer.enforceSync(sub, obj, act);
    },
  };
}

/** All three libraries must give the same answer to every check before any timing counts. */
function verify(scenario: Scenario): number {
  let allowed = 0;
  for (const c of scenario.checks) {
    const roster = can(c.policy, c.subject, c.action, c.resource).allowed;
    const casl = c.ability.can(c.action, c.caslTarget as never);
    const casbin = scenario.casbin(c);
    if (roster !== casl || roster !== casbin) {
      throw new Error(
        `${scenario.name}: libraries disagree on ${c.subject.role} ${c.resource.type}:${c.action} ${JSON.stringify(c.resource)} (roster ${roster}, CASL ${casl}, casbin ${casbin})`,
      );
    }
    if (roster) allowed++;
  }
  return allowed;
}

/** Deterministic shuffle so branch prediction does not see a sorted pattern. */
function shuffle<T>(items: T[]): T[] {
  let seed = 0x2545f491;
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}
