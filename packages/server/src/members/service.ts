import { and, asc, eq, sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import { decideMemberAction, type MemberAction, type MemberActionOptions } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { members, users, type MemberRow, type UserRow } from "../db/schema.ts";
import { AppError, invalid } from "../http/errors.ts";
import { subjectOf, type OrgContext } from "../http/context.ts";
import { memberInReach, memberReadReach, memberRowScope, memberScope, notYours, reachOf } from "../http/scope.ts";
import { tag, type MemberReadEntry } from "../cache/hub.ts";
import { Prebuilt } from "../db/prebuilt.ts";
import { record, type AuditInput, type RequestMeta } from "../audit/record.ts";
import { revokeUserSessions } from "../auth/sessions.ts";
import { createResetToken, resetLink, RESET_LIFETIME_MINUTES } from "../auth/password-reset.ts";
import { enqueueMail } from "../mail/outbox.ts";
import { passwordResetMail, removalNoticeMail } from "../mail/templates.ts";
import { revokeKeysOfMember } from "../api-keys/service.ts";
import { countable, selectMemberPage, type MemberPage, type MemberQuery } from "./queries.ts";
import { holdRole } from "../roles/guard.ts";
import {
  assertAllowed,
  assertDepartment,
  assertKnownRole,
  assertModules,
  assertStores,
  roleTitle,
  sameSet,
} from "./rules.ts";

/** Removed members can be restored for this long; the purge job deletes them after. */
export const RESTORE_DAYS = 30;
const DAY_MS = 86_400_000;

export type MemberWithUser = { member: MemberRow; user: UserRow };

const scopeOf = (ctx: OrgContext) => ({ orgId: ctx.org.id, userId: ctx.member.userId });

/** One page of the members the caller may read (`member:read`, within their row scope). */
export async function listMembers(deps: AppDeps, ctx: OrgContext, q: MemberQuery): Promise<MemberPage> {
  const scope = memberScope(ctx, "read");
  const opts = { now: deps.clock.now(), wholeOrg: reachOf(ctx, "member", "read").kind === "all" };
  const page = (tx: Tx) => selectMemberPage(tx, ctx.org.id, q, scope, opts);
  // A page whose total comes from the kept counts is one statement: read outside a transaction (one round trip).
  // Any other may ask EXPLAIN for an estimate, which cannot be prepared: a transaction.
  return opts.wholeOrg && countable(q) ? deps.db.read(scopeOf(ctx), page) : deps.db.tx(scopeOf(ctx), page);
}

/** One member with the user fields the read shows, built once (db/prebuilt.ts). */
const memberRead = new Prebuilt("member_read", (tx, _shape: "one") =>
  tx
    .select({
      member: members,
      user: { email: users.email, name: users.name, lastLoginAt: users.lastLoginAt },
    })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(and(eq(members.orgId, sql.placeholder("orgId")), eq(members.id, sql.placeholder("memberId"))))
    .limit(1),
);

/**
 * Reads one member of the caller's org; another org's id, or one outside the caller's reach, is 404. The row
 * comes from this instance's cache, dropped when the database reports a change to the membership, the user or
 * the org (cache/hub.ts), so it is never older than the last committed change; the reader's reach is applied
 * to it on every read.
 */
export async function getMember(deps: AppDeps, ctx: OrgContext, memberId: string): Promise<MemberReadEntry> {
  const reach = memberReadReach(ctx);
  const orgId = ctx.org.id;
  const key = `${orgId} ${memberId}`;
  const found =
    deps.db.cache.memberReads.get(key) ??
    (await deps.db.cache.memberReads.load(key, async () => {
      const [row] = await deps.db.read(scopeOf(ctx), (tx) => memberRead.run(tx, "one", { orgId, memberId }));
      if (!row) return null;
      const userId = row.member.userId;
      return { value: row, tags: [tag.member(orgId, userId), tag.user(userId), tag.org(orgId)] };
    }));
  if (!found || !memberInReach(reach, found.member)) throw notYours("Member");
  // Copies: a handler never touches what the next request is served from.
  return { member: { ...found.member }, user: { ...found.user } };
}

/** The `member:` actions these member actions need under the org's policy (billing removes with `member:delete`). */
function memberPermissions(ctx: OrgContext, actions: readonly MemberAction[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    const [resource, action] = ctx.policy.memberActions[a].split("@")[0]!.split(":");
    if (resource === "member" && action) out.push(action);
  }
  return out;
}

function patchActions(patch: MemberPatch): MemberAction[] {
  const actions: MemberAction[] = [];
  if (patch.role !== undefined) actions.push("change_role");
  if (patch.department !== undefined) actions.push("change_department");
  if (patch.storeIds !== undefined) actions.push("update_store_access");
  if (patch.hiddenModules !== undefined) actions.push("update_modules");
  if (patch.name !== undefined) actions.push("update");
  if (patch.status === "inactive") actions.push("deactivate");
  if (patch.status === "active") actions.push("reactivate");
  return actions;
}

async function loadMember(
  tx: Tx,
  orgId: string,
  memberId: string,
  lock: boolean,
  scope?: SQL,
): Promise<MemberWithUser | undefined> {
  const q = tx
    .select({ member: members, user: users })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(and(eq(members.orgId, orgId), eq(members.id, memberId), scope))
    .limit(1);
  const rows = lock ? await q.for("update", { of: members }) : await q;
  return rows[0];
}

/**
 * Locks the org's active top-role rows (always first, in id order, so concurrent changes queue instead of
 * deadlocking) and then the target. Two concurrent demotions of the last two owners cannot both pass.
 */
async function lockForChange(
  tx: Tx,
  ctx: OrgContext,
  memberId: string,
  actions: readonly MemberAction[],
): Promise<{ target: MemberWithUser; topRoleCount: number; actor: OrgContext }> {
  const scope = memberRowScope(ctx, memberPermissions(ctx, actions));
  const tops = await tx
    .select({ id: members.id })
    .from(members)
    .where(and(eq(members.orgId, ctx.org.id), eq(members.role, ctx.policy.topRole), eq(members.status, "active")))
    .orderBy(asc(members.id))
    .for("update");
  const target = await loadMember(tx, ctx.org.id, memberId, true, scope);
  if (!target) throw notYours("Member");
  // The actor as of now, not as of the start of the request: a concurrent change may have demoted them.
  const [me] = await tx
    .select()
    .from(members)
    .where(and(eq(members.orgId, ctx.org.id), eq(members.id, ctx.member.id)));
  if (!me || me.status !== "active")
    throw new AppError(
      "member_inactive",
      "Your access to this organization changed while the request ran. Reload and try again.",
    );
  return {
    target,
    topRoleCount: tops.length,
    actor: { ...ctx, member: me, subject: { ...ctx.subject, ...subjectOf(me) } },
  };
}

function decide(ctx: OrgContext, target: MemberRow, action: MemberAction, opts: MemberActionOptions = {}): void {
  assertAllowed(
    decideMemberAction(
      ctx.policy,
      ctx.subject,
      { role: target.role, userId: target.userId, department: target.department, status: target.status },
      action,
      opts,
    ),
  );
}

/**
 * The last active holder of the top role acting on themselves: the policy refuses any self-demotion, but the
 * reason that helps is the org's state (409 `last_top_role`), not a missing permission. Checked before the policy
 * so the person learns what to do: promote someone else first.
 */
function keepLastTopRole(ctx: OrgContext, target: MemberRow, topRoleCount: number): void {
  const top = ctx.policy.topRole;
  if (target.userId !== ctx.member.userId || target.role !== top || target.status !== "active" || topRoleCount > 1)
    return;
  const title = roleTitle(ctx.policy, top).toLowerCase();
  throw new AppError(
    "last_top_role",
    `You are the last active ${title} of this organization, and it must always keep one. Make another member ${title} first; they can then change or remove you.`,
  );
}

function event(
  ctx: OrgContext,
  meta: RequestMeta,
  target: MemberRow,
  e: Omit<AuditInput, "actorId" | "targetId" | "entityType">,
): AuditInput {
  return {
    ...e,
    actorId: ctx.member.userId,
    targetId: target.id,
    entityType: "team",
    ip: meta.ip,
    userAgent: meta.userAgent,
  };
}

export interface MemberPatch {
  role?: string | undefined;
  status?: "active" | "inactive" | "removed" | undefined;
  name?: string | undefined;
  department?: string | null | undefined;
  storeIds?: string[] | undefined;
  hiddenModules?: string[] | undefined;
  secondaryEmail?: string | null | undefined;
}

/** Checks a patch's values against the policy before anything is read; answers the trimmed name. */
function checkPatch(policy: OrgContext["policy"], patch: MemberPatch): string | undefined {
  if (patch.secondaryEmail !== undefined) {
    throw invalid(
      "secondaryEmail",
      "The secondary email is set when the member is invited and cannot be changed afterwards.",
    );
  }
  if (patch.status === "removed")
    throw invalid("status", "To remove a member use DELETE /v1/orgs/{orgId}/members/{memberId}.");
  if (patch.role !== undefined) assertKnownRole(policy, patch.role);
  if (patch.department !== undefined) assertDepartment(policy, patch.department);
  assertStores(policy, patch.storeIds);
  assertModules(policy, patch.hiddenModules);
  const name = patch.name?.trim();
  if (name !== undefined && name.length === 0) throw invalid("name", "`name` cannot be blank.");
  return name;
}

/**
 * Applies every field of the patch in one transaction, each decided by the policy against the member as it
 * was, and records one audit event per changed field. Any refusal rolls the whole patch back.
 */
export async function updateMember(
  deps: AppDeps,
  outer: OrgContext,
  memberId: string,
  patch: MemberPatch,
  meta: RequestMeta,
): Promise<MemberWithUser> {
  checkPatch(outer.policy, patch);
  return deps.db.tx(
    scopeOf(outer),
    async (tx) => (await applyMemberPatch(tx, deps, outer, memberId, patch, meta)).member,
  );
}

/**
 * {@link updateMember} inside the caller's transaction, as `outer`'s member: the same policy decisions, locks
 * and audit events. `link` is added to each event's `after` (an access review names its campaign there).
 */
export async function applyMemberPatch(
  tx: Tx,
  deps: AppDeps,
  outer: OrgContext,
  memberId: string,
  patch: MemberPatch,
  meta: RequestMeta,
  link: Record<string, unknown> = {},
): Promise<{ member: MemberWithUser; changed: boolean }> {
  const { policy } = outer;
  let ctx = outer;
  const name = checkPatch(policy, patch);
  const now = deps.clock.now();
  const { target, topRoleCount, actor } = await lockForChange(tx, outer, memberId, patchActions(patch));
  ctx = actor;
  const m = target.member;
  if (m.status === "removed")
    throw new AppError("conflict", "This member was removed. Restore them before changing anything else.");

  const events: AuditInput[] = [];
  const memberSet: Partial<MemberRow> = {};
  if (patch.role !== undefined && patch.role !== m.role) {
    if (patch.role !== policy.topRole) keepLastTopRole(ctx, m, topRoleCount);
    decide(ctx, m, "change_role", { newRole: patch.role, topRoleCount });
    await holdRole(tx, outer, patch.role);
    memberSet.role = patch.role;
    events.push(
      event(ctx, meta, m, { action: "team.role_changed", before: { role: m.role }, after: { role: patch.role } }),
    );
  }
  if (patch.department !== undefined && patch.department !== m.department) {
    decide(ctx, m, "change_department", { newDepartment: patch.department });
    memberSet.department = patch.department;
    events.push(
      event(ctx, meta, m, {
        action: "team.department_changed",
        before: { department: m.department },
        after: { department: patch.department },
      }),
    );
  }
  if (patch.storeIds !== undefined && !sameSet(patch.storeIds, m.storeIds)) {
    decide(ctx, m, "update_store_access", { storeIds: patch.storeIds });
    memberSet.storeIds = patch.storeIds;
    events.push(
      event(ctx, meta, m, {
        action: "team.store_access_changed",
        before: { storeIds: m.storeIds },
        after: { storeIds: patch.storeIds },
      }),
    );
  }
  if (patch.hiddenModules !== undefined && !sameSet(patch.hiddenModules, m.hiddenModules)) {
    decide(ctx, m, "update_modules");
    memberSet.hiddenModules = patch.hiddenModules;
    events.push(
      event(ctx, meta, m, {
        action: "team.module_visibility_changed",
        before: { hiddenModules: m.hiddenModules },
        after: { hiddenModules: patch.hiddenModules },
      }),
    );
  }
  if (name !== undefined && name !== target.user.name) {
    decide(ctx, m, "update");
    events.push(
      event(ctx, meta, m, { action: "team.name_changed", before: { name: target.user.name }, after: { name } }),
    );
  }
  let endSessions = false;
  if (patch.status !== undefined && patch.status !== m.status) {
    if (patch.status === "inactive") {
      keepLastTopRole(ctx, m, topRoleCount);
      decide(ctx, m, "deactivate", { topRoleCount });
      endSessions = true;
    } else {
      decide(ctx, m, "reactivate");
    }
    memberSet.status = patch.status;
  }

  if (Object.keys(memberSet).length > 0) {
    await tx
      .update(members)
      .set({ ...memberSet, updatedAt: now })
      .where(and(eq(members.orgId, ctx.org.id), eq(members.id, m.id)));
  }
  if (name !== undefined && name !== target.user.name) {
    await tx.update(users).set({ name, updatedAt: now }).where(eq(users.id, m.userId));
  }
  if (patch.status !== undefined && patch.status !== m.status) {
    const ended = endSessions ? await revokeUserSessions(tx, m.userId, now, "member_deactivated") : 0;
    events.push(
      event(
        ctx,
        meta,
        m,
        patch.status === "inactive"
          ? {
              action: "team.deactivated",
              before: { status: m.status },
              after: { status: "inactive", sessionsRevoked: ended },
            }
          : { action: "team.reactivated", before: { status: m.status }, after: { status: "active" } },
      ),
    );
  }
  for (const e of events) await record(tx, ctx.org.id, now, { ...e, after: { ...e.after, ...link } });
  const updated = await loadMember(tx, ctx.org.id, m.id, false);
  return { member: updated!, changed: events.length > 0 };
}

/**
 * Soft removal: the membership is kept as `removed` for RESTORE_DAYS, every session of the person ends and
 * their API keys in this org are revoked before the response, and a notice is emailed.
 */
export async function removeMember(
  deps: AppDeps,
  outer: OrgContext,
  memberId: string,
  meta: RequestMeta,
): Promise<MemberWithUser> {
  return deps.db.tx(scopeOf(outer), async (tx) => {
    const now = deps.clock.now();
    const { target, topRoleCount, actor: ctx } = await lockForChange(tx, outer, memberId, ["remove"]);
    const m = target.member;
    if (m.status === "removed") throw new AppError("conflict", "This member is already removed.");
    keepLastTopRole(ctx, m, topRoleCount);
    decide(ctx, m, "remove", { topRoleCount });
    await tx
      .update(members)
      .set({ status: "removed", removedAt: now, updatedAt: now })
      .where(and(eq(members.orgId, ctx.org.id), eq(members.id, m.id)));
    const sessionsRevoked = await revokeUserSessions(tx, m.userId, now, "member_removed");
    const apiKeysRevoked = await revokeKeysOfMember(tx, ctx.org.id, m.id, now);
    await enqueueMail(tx, deps.config.secretKey, now, {
      orgId: ctx.org.id,
      kind: "removal_notice",
      to: target.user.email,
      causedBy: ctx.member.userId,
      content: removalNoticeMail({ orgName: ctx.org.name, restoreDays: RESTORE_DAYS }),
    });
    await record(
      tx,
      ctx.org.id,
      now,
      event(ctx, meta, m, {
        action: "team.removed",
        before: { role: m.role, status: m.status },
        after: {
          status: "removed",
          restorableUntil: new Date(now.getTime() + RESTORE_DAYS * DAY_MS).toISOString(),
          sessionsRevoked,
          apiKeysRevoked,
        },
      }),
    );
    return (await loadMember(tx, ctx.org.id, m.id, false))!;
  });
}

/** Undoes a removal within RESTORE_DAYS: the member comes back active with the role and access they had. */
export async function restoreMember(
  deps: AppDeps,
  outer: OrgContext,
  memberId: string,
  meta: RequestMeta,
): Promise<MemberWithUser> {
  return deps.db.tx(scopeOf(outer), async (tx) => {
    const now = deps.clock.now();
    const { target, actor: ctx } = await lockForChange(tx, outer, memberId, ["restore"]);
    const m = target.member;
    if (m.status !== "removed")
      throw new AppError("conflict", "Only removed members can be restored; this member is not removed.");
    decide(ctx, m, "restore");
    const until = new Date((m.removedAt ?? now).getTime() + RESTORE_DAYS * DAY_MS);
    if (now.getTime() > until.getTime()) {
      throw new AppError(
        "restore_window_passed",
        `Removed members can be restored for ${RESTORE_DAYS} days; this one was removed on ${m.removedAt?.toISOString()}. Invite them again instead.`,
      );
    }
    await tx
      .update(members)
      .set({ status: "active", removedAt: null, updatedAt: now })
      .where(and(eq(members.orgId, ctx.org.id), eq(members.id, m.id)));
    await record(
      tx,
      ctx.org.id,
      now,
      event(ctx, meta, m, {
        action: "team.restored",
        before: { status: "removed", removedAt: m.removedAt?.toISOString() ?? null },
        after: { status: "active", role: m.role },
      }),
    );
    return (await loadMember(tx, ctx.org.id, m.id, false))!;
  });
}

/** Emails the member a single-use reset link; the admin never sees the token or the password. */
export async function sendMemberPasswordReset(
  deps: AppDeps,
  ctx: OrgContext,
  memberId: string,
  meta: RequestMeta,
): Promise<{ expiresAt: Date }> {
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const now = deps.clock.now();
    const target = await loadMember(
      tx,
      ctx.org.id,
      memberId,
      true,
      memberRowScope(ctx, memberPermissions(ctx, ["reset_password"])),
    );
    if (!target) throw notYours("Member");
    const m = target.member;
    decide(ctx, m, "reset_password");
    if (m.status !== "active")
      throw new AppError("conflict", `Password resets go to active members only; this member is ${m.status}.`);
    const { token, expiresAt } = await createResetToken(tx, m.userId, now, {
      orgId: ctx.org.id,
      requestedBy: ctx.member.userId,
    });
    await enqueueMail(tx, deps.config.secretKey, now, {
      orgId: ctx.org.id,
      kind: "password_reset",
      to: target.user.email,
      causedBy: ctx.member.userId,
      content: passwordResetMail({
        url: resetLink(deps.config.publicUrl, token),
        lifetimeMinutes: RESET_LIFETIME_MINUTES,
        orgName: ctx.org.name,
        requestedByAdmin: true,
      }),
    });
    await record(
      tx,
      ctx.org.id,
      now,
      event(ctx, meta, m, { action: "team.password_reset_requested", after: { expiresAt: expiresAt.toISOString() } }),
    );
    return { expiresAt };
  });
}
