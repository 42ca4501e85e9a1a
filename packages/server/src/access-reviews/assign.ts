import { can, decideMemberAction, type Decision, type Policy, type Subject } from "@roster/policy";
import type { MemberRow } from "../db/schema.ts";

/** A member as the review rules see them. */
export type Reviewable = Pick<MemberRow, "id" | "userId" | "role" | "department" | "status" | "storeIds">;

const subject = (m: Reviewable): Subject => ({
  role: m.role,
  userId: m.userId,
  department: m.department,
  storeIds: m.storeIds,
});

const refuse = (reason: string, code: Decision["code"]): Decision => ({
  allowed: false,
  reason,
  requiredPermission: "access_review:decide",
  code,
});

/**
 * May `reviewer` review `target` at all: never themself, `access_review:decide` reaching the target's
 * department, and only members they could act on (the policy's member decision for deactivation: rank,
 * jurisdiction, the last-top-role guard). A reviewer cannot be asked to judge someone they could not revoke.
 */
export function mayReview(
  policy: Policy,
  reviewer: { id: string; subject: Subject },
  target: Reviewable,
  topRoleCount: number,
): Decision {
  if (reviewer.id === target.id) return refuse("You cannot review your own access.", "self_action");
  const d = can(policy, reviewer.subject, "decide", {
    type: "access_review",
    ...(target.department != null ? { department: target.department } : {}),
  });
  if (!d.allowed) return d;
  return decideMemberAction(
    policy,
    reviewer.subject,
    { role: target.role, userId: target.userId, department: target.department, status: "active" },
    "deactivate",
    { topRoleCount },
  );
}

const rankOf = (policy: Policy, role: string) => policy.roles.find((r) => r.name === role)?.rank ?? 0;

/**
 * Picks each target's reviewer among `candidates`: the closest manager by hierarchy (the lowest-ranked member
 * who may review them), then whoever has the fewest items so far, then the oldest membership id, so the same
 * org always gets the same assignment. A target nobody may review gets null (someone who manages reviews
 * decides it).
 */
export function assignReviewers(
  policy: Policy,
  targets: readonly Reviewable[],
  candidates: readonly Reviewable[],
  topRoleCount: number,
): Map<string, string | null> {
  const load = new Map<string, number>();
  const out = new Map<string, string | null>();
  for (const t of targets) {
    let best: Reviewable | null = null;
    for (const c of candidates) {
      if (!mayReview(policy, { id: c.id, subject: subject(c) }, t, topRoleCount).allowed) continue;
      if (best === null) {
        best = c;
        continue;
      }
      const byRank = rankOf(policy, c.role) - rankOf(policy, best.role);
      const byLoad = (load.get(c.id) ?? 0) - (load.get(best.id) ?? 0);
      if (byRank < 0 || (byRank === 0 && (byLoad < 0 || (byLoad === 0 && c.id < best.id)))) best = c;
    }
    out.set(t.id, best?.id ?? null);
    if (best) load.set(best.id, (load.get(best.id) ?? 0) + 1);
  }
  return out;
}
