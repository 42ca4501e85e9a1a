// Property: whatever sequence of role creations, edits, deletions, invitations and role changes is
// attempted, every step the policy allows leaves nobody with a permission they did not already have
// unless the member who made the step holds it — and the actor itself never gains anything. For all
// five presets. @see issue 14
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  decideCreateRole,
  decideDeleteRole,
  decideInvite,
  decideMemberAction,
  decideUpdateRole,
  permissionMatrix,
  presets,
  TOP_ROLE_POWERS,
  withCustomRoles,
} from "../src/index.ts";
import type { CustomRoleDefinition, MatrixCell, Policy, Subject } from "../src/index.ts";

type Cells = Map<string, MatrixCell>;

interface Member {
  userId: string;
  role: string;
  department: string | null;
}

type Step =
  | { op: "create"; actor: number; key: number; rank: number; grants: number[] }
  | { op: "update"; actor: number; key: number; rank: number | null; grants: number[] | null }
  | { op: "delete"; actor: number; key: number }
  | { op: "invite"; actor: number; role: number }
  | { op: "change_role"; actor: number; target: number; role: number };

const KEYS = ["alpha", "beta"];

/** Every grant a custom role could be given in this preset: concrete, scoped, wildcard, and a few invalid ones. */
function vocabulary(p: Policy): string[] {
  const out: string[] = ["*", "member:*", "owner:promote", "nothing:read"];
  for (const [resource, actions] of Object.entries(p.resources)) {
    out.push(`${resource}:*`);
    for (const action of actions) {
      out.push(`${resource}:${action}`, `${resource}:${action}@own`);
      if (p.dimensions.store) out.push(`${resource}:${action}@store`);
      if (p.dimensions.department) out.push(`${resource}:${action}@department`);
    }
  }
  return out;
}

function cellsOf(p: Policy, role: string): Cells {
  const cells: Cells = new Map();
  for (const { resource, actions } of permissionMatrix(p).resources) {
    for (const { action, byRole } of actions) cells.set(`${resource}:${action}`, byRole[role] ?? "none");
  }
  return cells;
}

/** The first permission `after` holds that neither `before` nor `giver` covers, or null. */
function gained(after: Cells, before: Cells, giver: Cells): string | null {
  for (const [key, cell] of after) {
    if (cell === "none") continue;
    const had = before.get(key) ?? "none";
    const held = giver.get(key) ?? "none";
    if (had === "all" || had === cell || held === "all" || held === cell) continue;
    return `${key}@${cell}`;
  }
  return null;
}

describe.each(Object.entries<Policy>(presets))("custom roles in the %s preset", (_name, preset) => {
  const grants = vocabulary(preset);
  const departments = preset.dimensions.department ? Object.keys(preset.dimensions.department.values) : [];
  const topRank = preset.roles[0]!.rank;
  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.record({
      op: fc.constant("create" as const),
      actor: fc.nat(),
      key: fc.nat(),
      rank: fc.integer({ min: -1, max: topRank * 2 + 1 }).map((n) => n / 2),
      grants: fc.array(fc.nat(grants.length - 1), { maxLength: 4 }),
    }),
    // edits are where holders change at once: ask for them more often, by the founder half of the time
    ...Array.from({ length: 3 }, () =>
      fc.record({
        op: fc.constant("update" as const),
        actor: fc.oneof(fc.constant(0), fc.nat()),
        key: fc.nat(),
        rank: fc.option(fc.integer({ min: 0, max: topRank * 2 + 1 }).map((n) => n / 2)),
        grants: fc.option(fc.array(fc.nat(grants.length - 1), { maxLength: 4 })),
      }),
    ),
    fc.record({ op: fc.constant("delete" as const), actor: fc.nat(), key: fc.nat() }),
    fc.record({ op: fc.constant("invite" as const), actor: fc.nat(), role: fc.nat() }),
    fc.record({ op: fc.constant("change_role" as const), actor: fc.nat(), target: fc.nat(), role: fc.nat() }),
  );
  const orgArb = fc.record({
    others: fc.array(
      fc.record({
        role: fc.constantFrom(...preset.roles.map((r) => r.name)),
        department: departments.length > 0 ? fc.constantFrom<string | null>(...departments) : fc.constant(null),
      }),
      { maxLength: 4 },
    ),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 30 }),
  });

  test("no sequence of role definitions and assignments lets anyone gain a permission nobody gave them", () => {
    const seen: Record<Step["op"], number> = { create: 0, update: 0, delete: 0, invite: 0, change_role: 0 };
    fc.assert(
      fc.property(orgArb, ({ others, steps }) => {
        let defs: CustomRoleDefinition[] = [];
        let policy: Policy = preset;
        const members: Member[] = [
          { userId: "m0", role: preset.topRole, department: departments[0] ?? null },
          ...others.map((m, i) => ({ userId: `m${i + 1}`, ...m })),
        ];
        for (const step of steps) {
          const actorMember = members[step.actor % members.length]!;
          const actor: Subject = { ...actorMember };
          const before = new Map(members.map((m) => [m.userId, cellsOf(policy, m.role)]));
          const actorCells = before.get(actor.userId)!;
          const roleNames = policy.roles.map((r) => r.name);
          let next = defs;
          const nextMembers = members.map((m) => ({ ...m }));
          switch (step.op) {
            case "create": {
              const input = {
                key: KEYS[step.key % KEYS.length]!,
                title: "Role",
                rank: step.rank,
                permissions: step.grants.map((g) => grants[g]!),
              };
              if (!decideCreateRole(policy, actor, input).allowed) continue;
              next = [...defs, { ...input, description: "" }];
              break;
            }
            case "update": {
              const key = KEYS[step.key % KEYS.length]!;
              const patch = {
                ...(step.rank !== null ? { rank: step.rank } : {}),
                ...(step.grants !== null ? { permissions: step.grants.map((g) => grants[g]!) } : {}),
              };
              if (!decideUpdateRole(policy, actor, key, patch).allowed) continue;
              next = defs.map((d) => (d.key === key ? { ...d, ...patch } : d));
              break;
            }
            case "delete": {
              const key = KEYS[step.key % KEYS.length]!;
              if (!decideDeleteRole(policy, actor, key).allowed) continue;
              if (members.some((m) => m.role === key)) continue; // 409 role_in_use, decided by the server
              next = defs.filter((d) => d.key !== key);
              break;
            }
            case "invite": {
              const role = roleNames[step.role % roleNames.length]!;
              if (!decideInvite(policy, actor, { role, department: actor.department ?? null }).allowed) continue;
              nextMembers.push({ userId: `m${members.length}`, role, department: actor.department ?? null });
              break;
            }
            case "change_role": {
              const target = nextMembers[step.target % nextMembers.length]!;
              const role = roleNames[step.role % roleNames.length]!;
              const topRoleCount = members.filter((m) => m.role === preset.topRole).length;
              if (!decideMemberAction(policy, actor, target, "change_role", { newRole: role, topRoleCount }).allowed) {
                continue;
              }
              target.role = role;
              break;
            }
          }
          seen[step.op]++;
          const nextPolicy = withCustomRoles(preset, next);
          // every role the engine let through is still in the compiled policy, unchanged
          expect(nextPolicy.roles.filter((r) => r.custom === true).length).toBe(next.length);
          for (const m of nextMembers) {
            const after = cellsOf(nextPolicy, m.role);
            const had = before.get(m.userId) ?? new Map<string, MatrixCell>();
            if (m.userId === actor.userId) {
              expect(gained(after, had, new Map()), `${actor.role} gained through ${step.op}`).toBeNull();
            } else {
              expect(gained(after, had, actorCells), `${m.role} via ${actor.role} ${step.op}`).toBeNull();
            }
          }
          // nobody grants what they do not hold: the role as defined is within its definer's own permissions
          if (step.op === "create" || step.op === "update") {
            const key = KEYS[step.key % KEYS.length]!;
            expect(gained(cellsOf(nextPolicy, key), new Map(), actorCells), `${actor.role} defines ${key}`).toBeNull();
          }
          for (const role of nextPolicy.roles.filter((r) => r.custom === true)) {
            const cells = cellsOf(nextPolicy, role.name);
            for (const power of TOP_ROLE_POWERS) expect(cells.get(power), `${role.name} ${power}`).toBe("none");
            expect(role.rank).toBeLessThan(topRank);
          }
          defs = next;
          policy = nextPolicy;
          members.splice(0, members.length, ...nextMembers);
        }
      }),
      // A fixed seed: every run checks the same 150 sequences, in which every kind of step happens (a random
      // seed once produced no allowed delete in the saas preset, and the check below is about coverage).
      { numRuns: 150, seed: 20261129 },
    );
    // the property is about allowed steps: each kind must actually have happened
    for (const [op, count] of Object.entries(seen)) expect(count, op).toBeGreaterThan(0);
  });
});
