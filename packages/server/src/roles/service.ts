import { and, eq, gt, inArray, sql } from "drizzle-orm";
import {
  decideCreateRole,
  decideDeleteRole,
  decideUpdateRole,
  type Decision,
  type Permission,
  type PolicyRole,
  type RolePatch,
} from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { members } from "../db/schema.ts";
import { invitations } from "../invitations/tables.ts";
import { AppError, invalid, notFound } from "../http/errors.ts";
import type { OrgContext } from "../http/principal.ts";
import { roleMemberScope } from "../http/scope.ts";
import { record, type RequestMeta } from "../audit/record.ts";
import { roleVersion } from "./effective.ts";
import { holdRole } from "./guard.ts";
import { orgRoles, type OrgRoleRow } from "./tables.ts";

export interface RoleView {
  key: string;
  title: string;
  description: string;
  rank: number;
  permissions: Permission[];
  builtIn: boolean;
  memberCount: number;
}

export interface RoleCreateInput {
  key: string;
  title: string;
  description?: string | undefined;
  rank: number;
  permissions: string[];
}

/**
 * Every role of the org: the preset's (`builtIn`), then the org's own, each highest rank first, with how many
 * active or inactive members hold it among the members the caller may read.
 */
export async function listRoles(deps: AppDeps, ctx: OrgContext): Promise<RoleView[]> {
  const scope = roleMemberScope(ctx);
  const counts = new Map<string, number>();
  if (scope !== null) {
    const rows = await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, (tx) =>
      tx
        .select({ role: members.role, count: sql<number>`count(*)::int` })
        .from(members)
        .where(and(eq(members.orgId, ctx.org.id), inArray(members.status, ["active", "inactive"]), scope))
        .groupBy(members.role),
    );
    for (const r of rows) counts.set(r.role, Number(r.count));
  }
  const view = (r: PolicyRole): RoleView => ({
    key: r.name,
    title: r.title,
    description: r.description,
    rank: r.rank,
    permissions: [...r.permissions],
    builtIn: r.custom !== true,
    memberCount: counts.get(r.name) ?? 0,
  });
  const roles = ctx.policy.roles;
  return [...roles.filter((r) => r.custom !== true).map(view), ...roles.filter((r) => r.custom === true).map(view)];
}

/** Creates a custom role; the policy decides (role:manage, vocabulary, rank below the caller, nothing not held). */
export async function createRole(
  deps: AppDeps,
  ctx: OrgContext,
  input: RoleCreateInput,
  meta: RequestMeta,
): Promise<RoleView> {
  const permissions = unique(input.permissions);
  const title = input.title.trim();
  const description = (input.description ?? "").trim();
  if (title.length === 0) throw invalid("title", "`title` cannot be blank.");
  assertRole(
    decideCreateRole(ctx.policy, ctx.subject, {
      key: input.key,
      title,
      description,
      rank: input.rank,
      permissions,
    }),
  );
  const now = deps.clock.now();
  const row: OrgRoleRow = {
    orgId: ctx.org.id,
    key: input.key,
    title,
    description,
    rank: input.rank,
    permissions,
    version: 1,
    createdBy: ctx.member.userId,
    createdAt: now,
    updatedAt: now,
  };
  await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    await holdRole(tx, ctx, ctx.subject.role);
    // A concurrent create of the same key, decided against a policy without it: the first one wins.
    const inserted = await tx.insert(orgRoles).values(row).onConflictDoNothing().returning({ key: orgRoles.key });
    if (inserted.length === 0) {
      throw new AppError("role_key_taken", `This organization already has a role with the key "${input.key}".`, {
        param: "key",
      });
    }
    await record(tx, ctx.org.id, now, {
      action: "role.created",
      actorId: ctx.member.userId,
      targetId: row.key,
      entityType: "role",
      after: definitionOf(row),
      ...meta,
    });
  });
  return viewOf(row, 0);
}

/** Changes a custom role; the result must pass the creation rules against the editor. */
export async function updateRole(
  deps: AppDeps,
  ctx: OrgContext,
  key: string,
  patch: RolePatch,
  meta: RequestMeta,
): Promise<RoleView> {
  const title = patch.title?.trim();
  if (title !== undefined && title.length === 0) throw invalid("title", "`title` cannot be blank.");
  const permissions = patch.permissions === undefined ? undefined : unique(patch.permissions);
  const clean: RolePatch = {
    ...(title !== undefined ? { title } : {}),
    ...(patch.description !== undefined ? { description: patch.description.trim() } : {}),
    ...(patch.rank !== undefined ? { rank: patch.rank } : {}),
    ...(permissions !== undefined ? { permissions } : {}),
  };
  assertRole(decideUpdateRole(ctx.policy, ctx.subject, key, clean));
  const now = deps.clock.now();
  return deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    await holdRole(tx, ctx, ctx.subject.role);
    const before = await lockRow(tx, ctx, key);
    const after: OrgRoleRow = {
      ...before,
      title: clean.title ?? before.title,
      description: clean.description ?? before.description,
      rank: clean.rank ?? before.rank,
      permissions: clean.permissions !== undefined ? [...clean.permissions] : before.permissions,
      version: before.version + 1,
      updatedAt: now,
    };
    await tx
      .update(orgRoles)
      .set({
        title: after.title,
        description: after.description,
        rank: after.rank,
        permissions: after.permissions,
        version: after.version,
        updatedAt: now,
      })
      .where(and(eq(orgRoles.orgId, ctx.org.id), eq(orgRoles.key, key)));
    await record(tx, ctx.org.id, now, {
      action: "role.updated",
      actorId: ctx.member.userId,
      targetId: key,
      entityType: "role",
      before: definitionOf(before),
      after: definitionOf(after),
      ...meta,
    });
    const [count] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(members)
      .where(
        and(eq(members.orgId, ctx.org.id), eq(members.role, key), inArray(members.status, ["active", "inactive"])),
      );
    return viewOf(after, Number(count?.count ?? 0));
  });
}

/**
 * Deletes a custom role that nobody holds: no member (active, inactive, or removed and still restorable) and
 * no pending invitation. The row lock makes a concurrent invitation or role change with this role either
 * commit first (and then be counted here) or find the role gone.
 */
export async function deleteRole(deps: AppDeps, ctx: OrgContext, key: string, meta: RequestMeta): Promise<void> {
  assertRole(decideDeleteRole(ctx.policy, ctx.subject, key));
  const now = deps.clock.now();
  await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    await holdRole(tx, ctx, ctx.subject.role);
    const row = await lockRow(tx, ctx, key);
    const [held] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(members)
      .where(and(eq(members.orgId, ctx.org.id), eq(members.role, key)));
    const [invited] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(invitations)
      .where(
        and(
          eq(invitations.orgId, ctx.org.id),
          eq(invitations.role, key),
          eq(invitations.status, "pending"),
          gt(invitations.expiresAt, now),
        ),
      );
    const memberCount = Number(held?.count ?? 0);
    const invitationCount = Number(invited?.count ?? 0);
    if (memberCount > 0 || invitationCount > 0) {
      const parts = [
        memberCount > 0 ? `${memberCount} member${memberCount === 1 ? "" : "s"}` : null,
        invitationCount > 0 ? `${invitationCount} pending invitation${invitationCount === 1 ? "" : "s"}` : null,
      ].filter((p) => p !== null);
      throw new AppError(
        "role_in_use",
        `${row.title} is held by ${parts.join(" and ")} (removed members count until they are purged). Give them another role or revoke the invitations first.`,
      );
    }
    await tx.delete(orgRoles).where(and(eq(orgRoles.orgId, ctx.org.id), eq(orgRoles.key, key)));
    await record(tx, ctx.org.id, now, {
      action: "role.deleted",
      actorId: ctx.member.userId,
      targetId: key,
      entityType: "role",
      before: definitionOf(row),
      ...meta,
    });
  });
}

/** The role's row, locked, at the version the decision was made against. */
async function lockRow(tx: Parameters<typeof holdRole>[0], ctx: OrgContext, key: string): Promise<OrgRoleRow> {
  const [row] = await tx
    .select()
    .from(orgRoles)
    .where(and(eq(orgRoles.orgId, ctx.org.id), eq(orgRoles.key, key)))
    .for("update");
  if (!row) throw notFound("Role");
  if (row.version !== roleVersion(ctx.policy, key)) {
    throw new AppError("role_changed", `The role "${key}" was changed while this request ran. Reload and try again.`);
  }
  return row;
}

/** A policy refusal about a role definition, as the contract's error. */
function assertRole(d: Decision): void {
  if (d.allowed) return;
  switch (d.code) {
    case "invalid_role_key":
      throw invalid("key", d.reason);
    case "role_key_taken":
      throw new AppError("role_key_taken", d.reason, { param: "key" });
    case "unknown_permission":
      throw new AppError("unknown_permission", d.reason, { param: "permissions" });
    case "top_role_power":
      throw new AppError("top_role_power", d.reason, {
        param: "permissions",
        requiredPermission: d.requiredPermission,
      });
    case "rank_not_below_actor":
      throw new AppError("rank_not_below_actor", d.reason, { param: "rank", requiredPermission: d.requiredPermission });
    case "role_outranks_actor":
      throw new AppError("role_outranks_actor", d.reason, { requiredPermission: d.requiredPermission });
    case "role_built_in":
      throw new AppError("role_built_in", d.reason, { requiredPermission: d.requiredPermission });
    case "unknown_role":
      throw notFound("Role");
    default:
      throw new AppError("permission_denied", d.reason, { requiredPermission: d.requiredPermission });
  }
}

function definitionOf(row: OrgRoleRow): Record<string, unknown> {
  return {
    key: row.key,
    title: row.title,
    description: row.description,
    rank: row.rank,
    permissions: [...row.permissions],
  };
}

function viewOf(row: OrgRoleRow, memberCount: number): RoleView {
  return {
    key: row.key,
    title: row.title,
    description: row.description,
    rank: row.rank,
    permissions: [...row.permissions],
    builtIn: false,
    memberCount,
  };
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
