import { eq } from "drizzle-orm";
import { getPreset } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { members, organizations, type MemberRow, type OrgRow } from "../db/schema.ts";
import { AppError } from "../http/errors.ts";
import { newId } from "../lib/ids.ts";
import { record, startChain, type RequestMeta } from "../audit/record.ts";
import { authorize, type OrgContext } from "../http/context.ts";

export function policyOrThrow(name: string) {
  const policy = getPreset(name);
  if (!policy)
    throw new AppError(
      "unknown_policy",
      `Unknown policy "${name}". Use one of: saas, billing, crm, departments, operations.`,
      { param: "policy" },
    );
  return policy;
}

/** Creates an org bound to a preset and makes `ownerUserId` its top role, with the first chained audit event. */
export async function createOrg(
  deps: AppDeps,
  input: { name: string; policy: string; ownerUserId: string; department?: string | null },
  meta: RequestMeta,
): Promise<{ org: OrgRow; member: MemberRow }> {
  const policy = policyOrThrow(input.policy);
  const now = deps.clock.now();
  const orgId = newId("org");
  return deps.db.tx({ orgId, userId: input.ownerUserId }, async (tx) => {
    const org: OrgRow = {
      id: orgId,
      name: input.name.trim(),
      policy: policy.name,
      settings: {},
      createdBy: input.ownerUserId,
      createdAt: now,
      updatedAt: now,
    };
    await tx.insert(organizations).values(org);
    const member: MemberRow = {
      orgId,
      id: newId("mem"),
      userId: input.ownerUserId,
      role: policy.topRole,
      status: "active",
      department: input.department ?? null,
      secondaryEmail: null,
      storeIds: [],
      hiddenModules: [],
      invitedBy: null,
      createdAt: now,
      updatedAt: now,
      removedAt: null,
    };
    await tx.insert(members).values(member);
    await startChain(tx, orgId);
    await record(tx, orgId, now, {
      action: "organization.created",
      actorId: input.ownerUserId,
      targetId: orgId,
      entityType: "organization",
      after: { name: org.name, policy: org.policy, ownerMemberId: member.id, ownerRole: member.role },
      ...meta,
    });
    return { org, member };
  });
}

/** The caller's own org, for any member who may read it. */
export function readOrg(ctx: OrgContext): OrgRow {
  authorize(ctx, "read", { type: "organization", id: ctx.org.id });
  return ctx.org;
}

export async function updateOrg(
  deps: AppDeps,
  ctx: OrgContext,
  patch: { name?: string | undefined },
  meta: RequestMeta,
): Promise<OrgRow> {
  authorize(ctx, "update", { type: "organization", id: ctx.org.id });
  const orgId = ctx.org.id;
  return deps.db.tx({ orgId, userId: ctx.member.userId }, async (tx: Tx) => {
    const [current] = await tx.select().from(organizations).where(eq(organizations.id, orgId)).for("update");
    if (!current) throw new AppError("not_found", "Organization not found.");
    const name = patch.name?.trim();
    if (name === undefined || name === current.name) return current;
    const now = deps.clock.now();
    const [updated] = await tx
      .update(organizations)
      .set({ name, updatedAt: now })
      .where(eq(organizations.id, orgId))
      .returning();
    await record(tx, orgId, now, {
      action: "organization.updated",
      actorId: ctx.member.userId,
      targetId: orgId,
      entityType: "organization",
      before: { name: current.name },
      after: { name },
      ...meta,
    });
    return updated!;
  });
}

/**
 * Deletes the org and, by cascade, every row that belongs to it (members, invitations, keys, audit chain).
 * Irreversible by design (a tenant's right to erasure); the server log keeps who did it.
 */
export async function deleteOrg(deps: AppDeps, ctx: OrgContext): Promise<void> {
  authorize(ctx, "delete", { type: "organization", id: ctx.org.id });
  await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    await tx.delete(organizations).where(eq(organizations.id, ctx.org.id));
  });
}
