// Property tests: whatever sequence of member changes is attempted, the hierarchy rules hold after
// every step the policy allows — for each preset, and for randomly generated policies whose roles
// are not neatly nested (a lower role may hold what a higher one lacks).
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  assignableRoles,
  decideInvite,
  decideMemberAction,
  definePolicy,
  permissionMatrix,
  presets,
} from "../src/index.ts";
import type { MatrixCell, MemberAction, MemberRef, Policy, PolicyDefinition, Subject } from "../src/index.ts";

const PRESETS = Object.entries(presets);
const ACTIONS = [
  "change_role",
  "deactivate",
  "reactivate",
  "remove",
  "restore",
  "delete",
  "update",
  "reset_password",
] as const;
const SELF_OK: ReadonlySet<MemberAction> = new Set(["update", "reset_password", "revoke_sessions"]);

interface Member extends MemberRef {
  status: "active" | "inactive" | "removed";
}

interface History {
  others: Array<{ role: string; department: string | null }>;
  founderDepartment: string | null;
  steps: Array<{ actor: number; target: number; action: (typeof ACTIONS)[number]; newRole: string }>;
}

/** role → "resource:action" → cell, taken from the published matrix */
function cellsByRole(policy: Policy): Map<string, Map<string, MatrixCell>> {
  const out = new Map<string, Map<string, MatrixCell>>(policy.roles.map((r) => [r.name, new Map()]));
  for (const { resource, actions } of permissionMatrix(policy).resources) {
    for (const { action, byRole } of actions) {
      for (const [role, cell] of Object.entries(byRole)) out.get(role)!.set(`${resource}:${action}`, cell);
    }
  }
  return out;
}

/** null when `holder` has at least what `granted` has, permission by permission */
function uncovered(holder: Map<string, MatrixCell>, granted: Map<string, MatrixCell>): string | null {
  for (const [key, cell] of granted) {
    if (cell === "none") continue;
    const held = holder.get(key) ?? "none";
    if (held !== "all" && held !== cell) return `${key}: grants ${cell}, holds ${held}`;
  }
  return null;
}

function model(policy: Policy) {
  const cells = cellsByRole(policy);
  const roleNames = policy.roles.map((r) => r.name);
  const rank = new Map(policy.roles.map((r) => [r.name, r.rank]));
  const peers = new Map(policy.roles.map((r) => [r.name, r.actsOnPeers]));
  const departments = policy.dimensions.department ? Object.keys(policy.dimensions.department.values) : [];
  const departmentBound = (role: string): boolean =>
    policy.dimensions.department !== null &&
    policy.dimensions.department.jurisdiction &&
    !policy.dimensions.department.unscopedRoles.includes(role);
  const roleArb = fc.constantFrom(...roleNames);
  const departmentArb =
    departments.length > 0 ? fc.constantFrom<string | null>(...departments, null) : fc.constant(null);
  const orgArb: fc.Arbitrary<History> = fc.record({
    others: fc.array(fc.record({ role: roleArb, department: departmentArb }), { maxLength: 6 }),
    founderDepartment: departmentArb,
    steps: fc.array(
      fc.record({ actor: fc.nat(), target: fc.nat(), action: fc.constantFrom(...ACTIONS), newRole: roleArb }),
      { minLength: 1, maxLength: 40 },
    ),
  });
  const reachable = (actor: string, target: string): boolean =>
    rank.get(target)! < rank.get(actor)! || (rank.get(target) === rank.get(actor) && peers.get(actor) === true);

  /** Runs one attempted history; returns how many steps were allowed. */
  function play({ others, founderDepartment, steps }: History): number {
    let allowed = 0;
    const org: Member[] = [
      { userId: "m0", role: policy.topRole, department: founderDepartment, status: "active" },
      ...others.map((m, i): Member => ({ userId: `m${i + 1}`, ...m, status: "active" })),
    ];
    for (const step of steps) {
      // inactive members act too: their API keys keep working unless the org pauses them
      const present = org.filter((m) => m.status !== "removed");
      if (present.length === 0) break;
      const actorMember = present[step.actor % present.length]!;
      const target = org[step.target % org.length]!;
      const actor: Subject = { role: actorMember.role, userId: actorMember.userId, department: actorMember.department };
      const topRoleCount = org.filter((m) => m.role === policy.topRole && m.status === "active").length;
      const decision = decideMemberAction(policy, actor, { ...target }, step.action, {
        newRole: step.newRole,
        topRoleCount,
      });
      if (!decision.allowed) {
        expect(decision.code).toBeTruthy();
        continue;
      }
      allowed++;
      if (actor.userId === target.userId) expect(SELF_OK.has(step.action), `self ${step.action}`).toBe(true);
      else {
        expect(reachable(actor.role, target.role), `${actor.role} may not ${step.action} ${target.role}`).toBe(true);
        if (departmentBound(actor.role)) expect(target.department).toBe(actor.department);
      }
      switch (step.action) {
        case "change_role":
          if (step.newRole !== target.role) {
            expect(
              uncovered(cells.get(actor.role)!, cells.get(step.newRole)!),
              `${actor.role} grants ${step.newRole}`,
            ).toBeNull();
            expect(reachable(actor.role, step.newRole)).toBe(true);
            if (step.newRole === policy.topRole) expect(cells.get(actor.role)!.get("owner:promote")).toBe("all");
          }
          target.role = step.newRole;
          break;
        case "deactivate":
          target.status = "inactive";
          break;
        case "reactivate":
        case "restore":
          target.status = "active";
          break;
        case "remove":
          target.status = "removed";
          break;
        case "delete":
          org.splice(org.indexOf(target), 1);
          break;
        default:
          break;
      }
      expect(
        org.some((m) => m.role === policy.topRole && m.status === "active"),
        "an active top-role member remains",
      ).toBe(true);
    }
    return allowed;
  }

  return { cells, roleNames, rank, peers, roleArb, departmentArb, departmentBound, orgArb, play, reachable };
}

describe.each(PRESETS)("%s hierarchy properties", (_, policy) => {
  const m = model(policy);

  test("assignable roles are within reach, never hold a permission the actor lacks, and only owner:promote grants the top role", () => {
    for (const actor of m.roleNames) {
      for (const granted of assignableRoles(policy, { role: actor, userId: "a" })) {
        expect(uncovered(m.cells.get(actor)!, m.cells.get(granted)!), `${actor} grants ${granted}`).toBeNull();
        expect(m.reachable(actor, granted)).toBe(true);
        if (granted === policy.topRole) expect(m.cells.get(actor)!.get("owner:promote")).toBe("all");
      }
    }
  });

  test("an API key narrowed to any subset grants no more roles than its owner's role", () => {
    const allPermissions = Object.entries(policy.resources).flatMap(([r, actions]) => actions.map((a) => `${r}:${a}`));
    fc.assert(
      fc.property(m.roleArb, fc.subarray(allPermissions), (role, narrowTo) => {
        const narrowed = assignableRoles(policy, { role, userId: "a", narrowTo });
        const full = assignableRoles(policy, { role, userId: "a" });
        expect(narrowed.every((r) => full.includes(r))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test("an allowed invitation never hands out more than the inviter holds", () => {
    fc.assert(
      fc.property(
        m.roleArb,
        m.roleArb,
        m.departmentArb,
        m.departmentArb,
        (actor, role, actorDepartment, department) => {
          const d = decideInvite(
            policy,
            { role: actor, userId: "a", department: actorDepartment },
            { role, department },
          );
          if (!d.allowed) return;
          expect(uncovered(m.cells.get(actor)!, m.cells.get(role)!)).toBeNull();
          expect(m.reachable(actor, role)).toBe(true);
          if (m.departmentBound(actor)) expect(department ?? actorDepartment).toBe(actorDepartment);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("no sequence of member changes breaks the hierarchy or loses the last top-role member", () => {
    let allowed = 0;
    fc.assert(
      fc.property(m.orgArb, (history) => void (allowed += m.play(history))),
      { numRuns: 300 },
    );
    expect(allowed).toBeGreaterThan(0);
  });
});

/** Policies with 2–5 roles holding arbitrary slices of the built-in permissions. */
const MEMBER_PERMISSIONS = [
  "member:change_role",
  "member:deactivate",
  "member:remove",
  "member:delete",
  "member:restore",
  "member:update",
  "invitation:create",
  "owner:promote",
  "owner:demote",
  "api_key:create",
  "audit_log:export",
  "security:update",
  "organization:delete",
  "gadget:read",
  "gadget:read@own",
  "gadget:update",
];
const randomPolicyArb = fc
  .array(
    fc.record({
      permissions: fc.subarray(MEMBER_PERMISSIONS, { minLength: 1 }),
      actsOnPeers: fc.boolean(),
      rank: fc.integer({ min: 1, max: 4 }),
    }),
    { minLength: 2, maxLength: 5 },
  )
  .map((roles): PolicyDefinition => ({
    name: "random",
    title: "Random",
    description: "Generated.",
    resources: { gadget: ["read", "update"] },
    roles: Object.fromEntries(
      roles.map((r, i) => [
        `r${i}`,
        {
          // the first role is the unique top; the others may share ranks below it
          rank: i === 0 ? 10 : r.rank,
          title: `Role ${i}`,
          description: "Generated.",
          permissions: r.permissions.filter((p) => !(p === "gadget:read@own" && r.permissions.includes("gadget:read"))),
          actsOnPeers: r.actsOnPeers,
        },
      ]),
    ),
    defaultRole: `r${roles.reduce((low, r, i) => (i > 0 && r.rank <= roles[low]!.rank ? i : low), roles.length - 1)}`,
  }));

describe("random policies", () => {
  test("no sequence of member changes lets an actor grant what it lacks, reach above itself or lose the last top-role member", () => {
    let allowed = 0;
    fc.assert(
      fc.property(
        randomPolicyArb.chain((def) => {
          let policy: Policy;
          try {
            policy = definePolicy(def);
          } catch {
            return fc.constant(null);
          }
          return model(policy).orgArb.map((history) => ({ policy, history }));
        }),
        (run) => {
          fc.pre(run !== null);
          allowed += model(run.policy).play(run.history);
        },
      ),
      { numRuns: 400 },
    );
    expect(allowed).toBeGreaterThan(0);
  });
});
