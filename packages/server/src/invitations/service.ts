import { and, desc, eq, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import { decideInvite, resolveInviteDepartment } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { Tx } from "../db/database.ts";
import { rowsOf } from "../db/database.ts";
import { members, organizations, users, type MemberRow, type UserRow } from "../db/schema.ts";
import { AppError, invalid } from "../http/errors.ts";
import { decodeCursor, encodeCursor } from "../http/cursor.ts";
import { invitationRowScope, invitationScope, notYours, refuseAction } from "../http/scope.ts";
import type { OrgContext, Principal } from "../http/context.ts";
import { newId } from "../lib/ids.ts";
import { hashToken, newToken } from "../lib/tokens.ts";
import { record, type RequestMeta } from "../audit/record.ts";
import { orgSettings } from "../orgs/settings.ts";
import { checkPasswordPolicy, hashPassword } from "../auth/passwords.ts";
import { findUserByEmail, normalizeEmail } from "../auth/service.ts";
import { issueSession, type IssuedSession } from "../auth/sessions.ts";
import { enqueueMail } from "../mail/outbox.ts";
import { invitationMail } from "../mail/templates.ts";
import {
  assertAllowed,
  assertDepartment,
  assertKnownRole,
  assertModules,
  assertStores,
  roleTitle,
} from "../members/rules.ts";
import { invitations, type InvitationRow } from "./tables.ts";
import { holdRole } from "../roles/guard.ts";

export type InvitationStatus = "pending" | "accepted" | "expired" | "revoked";
export const INVITATION_TOKEN_PREFIX = "ri";

/** The format rule of seed 003, applied to every invitation on top of the JSON schema's email format. */
const EMAIL_FORMAT = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$/;

/** Expiry is derived at read time, so an invitation shows `expired` the moment its link stops working. */
export function statusOf(row: Pick<InvitationRow, "status" | "expiresAt">, now: Date): InvitationStatus {
  if (row.status === "pending" && row.expiresAt.getTime() <= now.getTime()) return "expired";
  return row.status;
}

export const invitationLink = (publicUrl: string, token: string) =>
  `${publicUrl}/accept-invitation?token=${encodeURIComponent(token)}`;

const scopeOf = (ctx: OrgContext) => ({ orgId: ctx.org.id, userId: ctx.member.userId });
const domainOf = (email: string) => email.slice(email.lastIndexOf("@") + 1).toLowerCase();

function isUniqueViolation(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 4;
    e = e.cause as typeof e, i++
  ) {
    if (e.code === "23505") return true;
  }
  return false;
}

export interface InviteInput {
  email: string;
  role?: string | undefined;
  secondaryEmail?: string | null | undefined;
  department?: string | null | undefined;
  storeIds?: string[] | undefined;
  hiddenModules?: string[] | undefined;
}

function checkEmails(ctx: OrgContext, email: string, secondaryEmail: string | null): void {
  if (!EMAIL_FORMAT.test(email)) throw invalid("email", `"${email}" is not a valid email address.`);
  const rules = ctx.policy.settings.emailRules;
  const settings = orgSettings(ctx.org, ctx.policy);
  if (rules?.primaryMustMatchAllowedDomains && settings.allowedEmailDomains.length > 0) {
    const allowed = settings.allowedEmailDomains.map((d) => d.toLowerCase());
    if (!allowed.includes(domainOf(email))) {
      throw invalid("email", `The organization's email must be at ${allowed.map((d) => `@${d}`).join(", ")}.`);
    }
  }
  if (secondaryEmail !== null) {
    if (!EMAIL_FORMAT.test(secondaryEmail))
      throw invalid("secondaryEmail", `"${secondaryEmail}" is not a valid email address.`);
    if (
      rules &&
      rules.secondaryEmailDomains.length > 0 &&
      !rules.secondaryEmailDomains.includes(domainOf(secondaryEmail))
    ) {
      throw invalid(
        "secondaryEmail",
        `The secondary email must be at ${rules.secondaryEmailDomains.map((d) => `@${d}`).join(", ")}.`,
      );
    }
  }
}

async function inviterName(tx: Tx, userId: string): Promise<string> {
  const [u] = await tx.select({ name: users.name }).from(users).where(eq(users.id, userId));
  return u?.name ?? "A colleague";
}

async function assertNotMember(tx: Tx, orgId: string, email: string): Promise<void> {
  const existing = await tx
    .select({ status: members.status })
    .from(members)
    .innerJoin(users, eq(users.id, members.userId))
    .where(
      and(
        eq(members.orgId, orgId),
        sql`lower(${users.email}) = ${email}`,
        inArray(members.status, ["active", "inactive"]),
      ),
    );
  if (existing.length > 0)
    throw new AppError("already_member", `${email} is already a member of this organization.`, { param: "email" });
}

async function queueInvitationMail(
  deps: AppDeps,
  tx: Tx,
  ctx: OrgContext,
  row: InvitationRow,
  token: string,
): Promise<void> {
  const hours = Math.round((row.expiresAt.getTime() - row.sentAt.getTime()) / 3_600_000);
  await enqueueMail(tx, deps.config.secretKey, row.sentAt, {
    orgId: ctx.org.id,
    kind: "invitation",
    to: row.email,
    causedBy: ctx.member.userId,
    content: invitationMail({
      orgName: ctx.org.name,
      inviterName: await inviterName(tx, ctx.member.userId),
      roleTitle: roleTitle(ctx.policy, row.role),
      url: invitationLink(deps.config.publicUrl, token),
      lifetimeHours: hours,
    }),
  });
}

/** Invites one address: checks, the invitation, its email and its audit event commit together. */
export type InvitationView = InvitationRow & { inviterName: string | null };

export async function createInvitation(
  deps: AppDeps,
  ctx: OrgContext,
  input: InviteInput,
  meta: RequestMeta,
): Promise<InvitationView> {
  const { policy, subject } = ctx;
  const email = normalizeEmail(input.email);
  const secondaryEmail = input.secondaryEmail ? normalizeEmail(input.secondaryEmail) : null;
  const role = input.role ?? policy.defaultRole;
  assertKnownRole(policy, role);
  assertDepartment(policy, input.department);
  const department = resolveInviteDepartment(policy, subject, input.department);
  const storeIds = input.storeIds ?? [];
  const hiddenModules = input.hiddenModules ?? [];
  assertStores(policy, storeIds);
  assertModules(policy, hiddenModules);
  assertAllowed(
    decideInvite(policy, subject, { role, department, ...(input.storeIds !== undefined ? { storeIds } : {}) }),
  );
  checkEmails(ctx, email, secondaryEmail);
  const lifetimeHours = orgSettings(ctx.org, policy).invitationLifetimeHours;

  try {
    return await deps.db.tx(scopeOf(ctx), async (tx) => {
      const now = deps.clock.now();
      await holdRole(tx, ctx, role);
      await assertNotMember(tx, ctx.org.id, email);
      const open = await tx
        .select()
        .from(invitations)
        .where(
          and(
            eq(invitations.orgId, ctx.org.id),
            sql`lower(${invitations.email}) = ${email}`,
            eq(invitations.status, "pending"),
          ),
        )
        .for("update");
      for (const o of open) {
        if (statusOf(o, now) === "pending") {
          throw new AppError("already_invited", `${email} already has a pending invitation. Resend it instead.`, {
            param: "email",
          });
        }
        // The expired one stays in the history, marked for good, so the new invitation can be the open one.
        await tx
          .update(invitations)
          .set({ status: "expired", updatedAt: now })
          .where(and(eq(invitations.orgId, ctx.org.id), eq(invitations.id, o.id)));
      }
      const token = newToken(INVITATION_TOKEN_PREFIX);
      const row: InvitationRow = {
        orgId: ctx.org.id,
        id: newId("inv"),
        email,
        secondaryEmail,
        role,
        department,
        storeIds,
        hiddenModules,
        tokenHash: hashToken(token),
        status: "pending",
        invitedBy: ctx.member.id,
        invitedByUser: ctx.member.userId,
        createdAt: now,
        sentAt: now,
        expiresAt: new Date(now.getTime() + lifetimeHours * 3_600_000),
        acceptedAt: null,
        acceptedMemberId: null,
        revokedAt: null,
        updatedAt: now,
      };
      await tx.insert(invitations).values(row);
      await queueInvitationMail(deps, tx, ctx, row, token);
      await record(tx, ctx.org.id, now, {
        action: "team.invited",
        actorId: ctx.member.userId,
        targetId: row.id,
        entityType: "team",
        after: {
          email,
          role,
          department,
          storeIds,
          hiddenModules,
          secondaryEmail,
          expiresAt: row.expiresAt.toISOString(),
        },
        ...meta,
      });
      return { ...row, inviterName: await inviterName(tx, ctx.member.userId) };
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("already_invited", `${email} already has a pending invitation. Resend it instead.`, {
        param: "email",
      });
    throw err;
  }
}

export interface InvitationQuery {
  status?: InvitationStatus | "all" | undefined;
  cursor?: string | undefined;
  limit: number;
}

export async function listInvitations(deps: AppDeps, ctx: OrgContext, q: InvitationQuery) {
  const now = deps.clock.now();
  const conds: Array<SQL | undefined> = [eq(invitations.orgId, ctx.org.id), invitationScope(ctx)];
  switch (q.status) {
    case "pending":
      conds.push(and(eq(invitations.status, "pending"), sql`${invitations.expiresAt} > ${now}`));
      break;
    case "expired":
      conds.push(
        or(
          eq(invitations.status, "expired"),
          and(eq(invitations.status, "pending"), sql`${invitations.expiresAt} <= ${now}`),
        ),
      );
      break;
    case "accepted":
    case "revoked":
      conds.push(eq(invitations.status, q.status));
      break;
    default:
      break;
  }
  const where = and(...conds);
  let pageWhere = where;
  if (q.cursor) {
    // Keyset, newest first: the last row's creation time (epoch ms) and id.
    const [ms, id] = decodeCursor(q.cursor, ["int", "string"]);
    const at = new Date(ms);
    if (Number.isNaN(at.getTime()))
      throw new AppError("validation_failed", "`cursor` is not a cursor this endpoint issued.", { param: "cursor" });
    pageWhere = and(
      where,
      or(lt(invitations.createdAt, at), and(eq(invitations.createdAt, at), lt(invitations.id, id))),
    );
  }
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const rows = await tx
      .select({ inv: invitations, inviterName: users.name })
      .from(invitations)
      .leftJoin(users, eq(users.id, invitations.invitedByUser))
      .where(pageWhere)
      .orderBy(desc(invitations.createdAt), desc(invitations.id))
      .limit(q.limit + 1);
    const [{ total } = { total: 0 }] = await tx
      .select({ total: sql<number>`count(*)::int` })
      .from(invitations)
      .where(where);
    const more = rows.length > q.limit;
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      rows: page.map((r) => ({ ...r.inv, inviterName: r.inviterName })),
      nextCursor: more && last ? encodeCursor([last.inv.createdAt.getTime(), last.inv.id]) : null,
      total: Number(total),
      now,
    };
  });
}

/**
 * Loads and locks one invitation for `action`: another org's id, or one outside the caller's reach, is 404;
 * one they can see but the action does not reach is 403.
 */
async function lockInvitation(
  tx: Tx,
  ctx: OrgContext,
  id: string,
  action: "resend" | "revoke",
): Promise<InvitationRow> {
  const scope = invitationRowScope(ctx, action);
  const [found] = await tx
    .select({ row: invitations, allowed: scope.allowed })
    .from(invitations)
    .where(and(eq(invitations.orgId, ctx.org.id), eq(invitations.id, id), scope.visible))
    .for("update");
  if (!found) throw notYours("Invitation");
  if (!found.allowed) throw refuseAction(ctx, "invitation", action);
  return found.row;
}

/** Resend: a new token and a new expiry; the old link stops working at once. */
export async function resendInvitation(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
  meta: RequestMeta,
): Promise<InvitationView> {
  const lifetimeHours = orgSettings(ctx.org, ctx.policy).invitationLifetimeHours;
  try {
    return await deps.db.tx(scopeOf(ctx), async (tx) => {
      const now = deps.clock.now();
      const row = await lockInvitation(tx, ctx, id, "resend");
      await holdRole(tx, ctx, row.role);
      assertAllowed(
        decideInvite(ctx.policy, ctx.subject, {
          role: row.role,
          department: row.department,
          ...(row.storeIds.length > 0 ? { storeIds: row.storeIds } : {}),
        }),
      );
      const status = statusOf(row, now);
      if (status === "accepted" || status === "revoked") {
        throw new AppError(
          "invitation_not_pending",
          `This invitation was ${status}; only pending or expired invitations can be resent.`,
        );
      }
      await assertNotMember(tx, ctx.org.id, row.email);
      const token = newToken(INVITATION_TOKEN_PREFIX);
      const expiresAt = new Date(now.getTime() + lifetimeHours * 3_600_000);
      const [updated] = await tx
        .update(invitations)
        .set({ tokenHash: hashToken(token), status: "pending", sentAt: now, expiresAt, updatedAt: now })
        .where(and(eq(invitations.orgId, ctx.org.id), eq(invitations.id, row.id)))
        .returning();
      await queueInvitationMail(deps, tx, ctx, updated!, token);
      await record(tx, ctx.org.id, now, {
        action: "team.invite_resent",
        actorId: ctx.member.userId,
        targetId: row.id,
        entityType: "team",
        before: { status, expiresAt: row.expiresAt.toISOString() },
        after: { status: "pending", email: row.email, expiresAt: expiresAt.toISOString() },
        ...meta,
      });
      return {
        ...updated!,
        inviterName: updated!.invitedByUser ? await inviterName(tx, updated!.invitedByUser) : null,
      };
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw new AppError("already_invited", "A newer invitation for this address is pending. Resend that one instead.");
    throw err;
  }
}

export async function revokeInvitation(
  deps: AppDeps,
  ctx: OrgContext,
  id: string,
  meta: RequestMeta,
): Promise<InvitationView> {
  return deps.db.tx(scopeOf(ctx), async (tx) => {
    const now = deps.clock.now();
    const row = await lockInvitation(tx, ctx, id, "revoke");
    const status = statusOf(row, now);
    if (status === "accepted" || status === "revoked") {
      throw new AppError("invitation_not_pending", `This invitation was already ${status}.`);
    }
    const [updated] = await tx
      .update(invitations)
      .set({ status: "revoked", revokedAt: now, updatedAt: now })
      .where(and(eq(invitations.orgId, ctx.org.id), eq(invitations.id, row.id)))
      .returning();
    await record(tx, ctx.org.id, now, {
      action: "team.invite_revoked",
      actorId: ctx.member.userId,
      targetId: row.id,
      entityType: "team",
      before: { status, email: row.email, role: row.role },
      after: { status: "revoked" },
      ...meta,
    });
    return { ...updated!, inviterName: updated!.invitedByUser ? await inviterName(tx, updated!.invitedByUser) : null };
  });
}

// ---- public side: the token is the only credential ----

async function orgOfToken(deps: AppDeps, tokenHash: string): Promise<string | null> {
  const rows = await deps.db.tx({}, (tx) => tx.execute(sql`SELECT roster_invitation_org(${tokenHash}) AS org_id`));
  return rowsOf<{ org_id: string | null }>(rows)[0]?.org_id ?? null;
}

const linkInvalid = () =>
  new AppError(
    "not_found",
    "This invitation link is not valid. It may have been replaced by a newer email; ask for a new invitation if needed.",
  );

function assertOpen(row: InvitationRow, now: Date): void {
  const status = statusOf(row, now);
  if (status === "pending") return;
  const why = {
    expired: "This invitation has expired. Ask the person who invited you to resend it.",
    revoked: "This invitation was revoked.",
    accepted: "This invitation was already accepted. Sign in instead.",
  }[status];
  throw new AppError("invitation_not_pending", why);
}

async function readByToken(deps: AppDeps, token: string) {
  if (!token.startsWith(`${INVITATION_TOKEN_PREFIX}_`)) throw linkInvalid();
  const tokenHash = hashToken(token);
  const orgId = await orgOfToken(deps, tokenHash);
  if (!orgId) throw linkInvalid();
  const found = await deps.db.tx({ orgId }, async (tx) => {
    const [row] = await tx
      .select({ inv: invitations, orgName: organizations.name, policy: organizations.policy })
      .from(invitations)
      .innerJoin(organizations, eq(organizations.id, invitations.orgId))
      .where(and(eq(invitations.orgId, orgId), eq(invitations.tokenHash, tokenHash)));
    return row;
  });
  if (!found) throw linkInvalid();
  return { ...found, tokenHash, orgId };
}

/** What the accept page shows: org, email, role, expiry. Nothing else about the org or the inviter. */
export async function lookupInvitation(deps: AppDeps, token: string) {
  const found = await readByToken(deps, token);
  assertOpen(found.inv, deps.clock.now());
  return { orgName: found.orgName, email: found.inv.email, role: found.inv.role, expiresAt: found.inv.expiresAt };
}

export interface AcceptInput {
  name?: string | undefined;
  password?: string | undefined;
}

/**
 * Accepts an invitation. A new address gets an account (name + password); an address that already has an
 * account must be signed in as that account, which proves they own it. The invitation row lock plus a
 * conditional update make exactly one of any number of concurrent accepts succeed.
 */
export async function acceptInvitation(
  deps: AppDeps,
  token: string,
  input: AcceptInput,
  principal: Principal | null,
  meta: RequestMeta,
): Promise<{ issued: IssuedSession; user: UserRow; member: MemberRow }> {
  const found = await readByToken(deps, token);
  assertOpen(found.inv, deps.clock.now());
  const email = found.inv.email;
  const existing = await findUserByEmail(deps, email);
  let newUser: UserRow | null = null;
  if (existing) {
    if (!principal) {
      throw new AppError(
        "authentication_required",
        `An account for ${email} already exists. Sign in with it, then accept the invitation.`,
      );
    }
    if (principal.user.id !== existing.id) {
      throw new AppError(
        "invitation_email_mismatch",
        `This invitation is for ${email}. Sign in with that account to accept it.`,
      );
    }
  } else {
    const name = input.name?.trim();
    if (!name) throw new AppError("validation_failed", "`name` is required to create your account.", { param: "name" });
    if (input.password === undefined)
      throw new AppError("validation_failed", "`password` is required to create your account.", { param: "password" });
    checkPasswordPolicy(input.password);
    const now = deps.clock.now();
    newUser = {
      id: newId("usr"),
      email,
      name,
      passwordHash: await hashPassword(input.password, deps.config.argon2),
      platformRole: null,
      lastLoginAt: null,
      createdAt: now,
      updatedAt: now,
    };
  }
  const userId = existing?.id ?? newUser!.id;

  return deps.db.tx({ orgId: found.orgId, userId }, async (tx) => {
    const now = deps.clock.now();
    const [inv] = await tx
      .select()
      .from(invitations)
      .where(and(eq(invitations.orgId, found.orgId), eq(invitations.tokenHash, found.tokenHash)))
      .for("update");
    if (!inv) throw linkInvalid();
    assertOpen(inv, now);
    let user: UserRow;
    if (newUser) {
      const inserted = await tx.insert(users).values(newUser).onConflictDoNothing().returning();
      if (inserted.length === 0)
        throw new AppError(
          "email_taken",
          `An account for ${email} was just created. Sign in with it, then accept the invitation.`,
        );
      user = inserted[0]!;
    } else {
      user = existing!;
    }
    const [prior] = await tx
      .select()
      .from(members)
      .where(and(eq(members.orgId, found.orgId), eq(members.userId, user.id)))
      .for("update");
    if (prior && prior.status !== "removed")
      throw new AppError("already_member", "You are already a member of this organization.");
    const fields = {
      role: inv.role,
      status: "active" as const,
      department: inv.department,
      secondaryEmail: inv.secondaryEmail,
      storeIds: inv.storeIds,
      hiddenModules: inv.hiddenModules,
      invitedBy: inv.invitedBy,
      updatedAt: now,
      removedAt: null,
    };
    let member: MemberRow;
    if (prior) {
      // A removed member invited back: the same membership row comes back with the invitation's access.
      [member] = (await tx
        .update(members)
        .set(fields)
        .where(and(eq(members.orgId, found.orgId), eq(members.id, prior.id)))
        .returning()) as [MemberRow];
    } else {
      [member] = (await tx
        .insert(members)
        .values({ orgId: found.orgId, id: newId("mem"), userId: user.id, createdAt: now, ...fields })
        .returning()) as [MemberRow];
    }
    const won = await tx
      .update(invitations)
      .set({ status: "accepted", acceptedAt: now, acceptedMemberId: member.id, updatedAt: now })
      .where(and(eq(invitations.orgId, found.orgId), eq(invitations.id, inv.id), eq(invitations.status, "pending")))
      .returning({ id: invitations.id });
    if (won.length === 0)
      throw new AppError("invitation_not_pending", "This invitation was already accepted. Sign in instead.");
    // An existing account accepts from a session of its own: a second factor verified there carries over.
    const issued = await issueSession(tx, deps.config, user.id, meta, now, {
      mfaVerified: principal?.kind === "session" && principal.mfaVerified,
    });
    await record(tx, found.orgId, now, {
      action: "team.invite_accepted",
      actorId: user.id,
      targetId: member.id,
      entityType: "team",
      after: {
        invitationId: inv.id,
        email,
        role: inv.role,
        department: inv.department,
        storeIds: inv.storeIds,
        hiddenModules: inv.hiddenModules,
        newAccount: newUser !== null,
      },
      ...meta,
    });
    return { issued, user: { ...user, lastLoginAt: now }, member };
  });
}
