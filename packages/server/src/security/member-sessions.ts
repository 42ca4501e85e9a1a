import { and, eq } from "drizzle-orm";
import { decideMemberAction } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { members, type MemberRow, type SessionRow } from "../db/schema.ts";
import { AppError, notFound } from "../http/errors.ts";
import { authorize, type OrgContext } from "../http/context.ts";
import { record, type RequestMeta } from "../audit/record.ts";
import { listUserSessions, revokeUserSessions } from "../auth/sessions.ts";

async function targetMember(deps: AppDeps, ctx: OrgContext, memberId: string): Promise<MemberRow> {
  const [target] = await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, (tx) =>
    tx
      .select()
      .from(members)
      .where(and(eq(members.orgId, ctx.org.id), eq(members.id, memberId))),
  );
  if (!target || target.status === "removed") throw notFound("Member");
  return target;
}

/** A member's live sessions. Sessions belong to the user, so these include ones used in other orgs. */
export async function memberSessions(deps: AppDeps, ctx: OrgContext, memberId: string): Promise<SessionRow[]> {
  const target = await targetMember(deps, ctx, memberId);
  authorize(ctx, "read", {
    type: "session",
    id: target.userId,
    ownerId: target.userId,
    ...(target.department ? { department: target.department } : {}),
  });
  return listUserSessions(deps.db, target.userId);
}

/**
 * Ends every session of a member, decided by the policy's member rules (rank, peers, department), and records
 * `team.sessions_revoked`. Their API keys are not sessions and keep working; revoke those separately.
 */
export async function endMemberSessions(
  deps: AppDeps,
  ctx: OrgContext,
  memberId: string,
  meta: RequestMeta,
): Promise<number> {
  const target = await targetMember(deps, ctx, memberId);
  const d = decideMemberAction(
    ctx.policy,
    ctx.subject,
    { role: target.role, userId: target.userId, department: target.department, status: target.status },
    "revoke_sessions",
  );
  if (!d.allowed) {
    if (d.code === "last_top_role") throw new AppError("last_top_role", d.reason);
    throw new AppError("permission_denied", d.reason, { requiredPermission: d.requiredPermission });
  }
  const now = deps.clock.now();
  return deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    const ended = await revokeUserSessions(tx, target.userId, now, "ended_by_admin");
    await record(tx, ctx.org.id, now, {
      action: "team.sessions_revoked",
      actorId: ctx.member.userId,
      targetId: target.id,
      entityType: "team",
      after: { sessionsEnded: ended },
      ...meta,
    });
    return ended;
  });
}
