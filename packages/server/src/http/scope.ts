import { eq, or, sql, type SQL } from "drizzle-orm";
import { can, filterFor, type DataFilter } from "@roster/policy";
import { auditEvents, members, type MemberRow } from "../db/schema.ts";
import { invitations } from "../invitations/tables.ts";
import { apiKeys } from "../api-keys/tables.ts";
import { accessReviewItems } from "../access-reviews/tables.ts";
import { assertAllowed } from "../members/rules.ts";
import { AppError, notFound } from "./errors.ts";
import type { OrgContext } from "./principal.ts";

/**
 * Row scope, decided in one place (docs/decisions/0009-row-scope-and-permission-checks.md).
 *
 * The policy says which records of a type the caller may act on (`filterFor`: all, own, stores, department
 * or none). This module is the only place in the server that asks it, and turns the answer into the SQL
 * condition of each resource's table. Lists filter by it; single-row paths load the row under it, so a row
 * outside the caller's reach is answered exactly like a row that does not exist: 404 `not_found`
 * ({@link notYours}). A caller with no reach at all gets 403 `permission_denied` naming the permission.
 *
 * What "own", "stores" and "department" mean per resource:
 * - member: own = the caller's own membership; department = the member's department; stores = members
 *   whose store grants share a store with the caller's, a member with no store list counting as every store.
 * - invitation: own = invitations the caller sent; department and stores = the department and store
 *   grants the invitation would give (no store list = every store, as seed 004 says: "Default is all").
 * - API key: the keys of the members in the caller's member reach under the same filter (own = the caller's keys).
 * - audit event: the events whose actor or target is one of those members, or whose target is one of
 *   those invitations or API keys.
 * - compliance report: the whole org's report, or one department's part; owner and store scopes have no
 *   meaning for an org's report and are refused.
 */

/** What the policy lets the caller reach; "none" never gets this far. */
export type Reach = Exclude<DataFilter, { kind: "none" }>;

const ALL_ROWS = sql`true`;

/** The caller's reach for `action` on `type`; no reach at all is 403 with the permission needed. */
export function reachOf(ctx: OrgContext, type: string, action: string): Reach {
  const f = filterFor(ctx.policy, ctx.subject, action, type);
  if (f.kind !== "none") return f;
  throw refusal(ctx, type, action);
}

function refusal(ctx: OrgContext, type: string, action: string): AppError {
  const decision = can(ctx.policy, ctx.subject, action, { type });
  try {
    assertAllowed(decision);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  // filterFor and can agree by construction; should they ever not, refuse rather than widen.
  return new AppError("permission_denied", `This needs \`${type}:${action}\`.`, {
    requiredPermission: `${type}:${action}`,
  });
}

/** Does the caller hold `type:action` in any scope? (What a new API key may be narrowed to.) */
export function holds(ctx: OrgContext, type: string, action: string): boolean {
  return filterFor(ctx.policy, ctx.subject, action, type).kind !== "none";
}

/** One way to say "not yours": the same answer as for an id that does not exist (no probing of ids). */
export const notYours = (noun: string): AppError => notFound(noun);

/** A store-list column against the caller's stores; an empty list on the row means every store. */
function sharesStore(column: typeof members.storeIds | typeof invitations.storeIds, storeIds: string[]): SQL {
  const mine = sql`ARRAY[${sql.join(
    storeIds.map((s) => sql`${s}`),
    sql`, `,
  )}]::text[]`;
  return sql`(cardinality(${column}) = 0 OR ${column} && ${mine})`;
}

/** Members of the org within `reach`, as a condition on `members` (the caller adds the org). */
function memberRows(reach: Reach): SQL {
  switch (reach.kind) {
    case "all":
      return ALL_ROWS;
    case "own":
      return eq(members.userId, reach.ownerId);
    case "department":
      return eq(members.department, reach.department);
    case "stores":
      return sharesStore(members.storeIds, reach.storeIds);
  }
}

function invitationRows(reach: Reach): SQL {
  switch (reach.kind) {
    case "all":
      return ALL_ROWS;
    case "own":
      return eq(invitations.invitedByUser, reach.ownerId);
    case "department":
      return eq(invitations.department, reach.department);
    case "stores":
      return sharesStore(invitations.storeIds, reach.storeIds);
  }
}

const memberIdsIn = (orgId: string, reach: Reach) =>
  sql`(SELECT ${members.id} FROM ${members} WHERE ${members.orgId} = ${orgId} AND ${memberRows(reach)})`;
const memberUserIdsIn = (orgId: string, reach: Reach) =>
  sql`(SELECT ${members.userId} FROM ${members} WHERE ${members.orgId} = ${orgId} AND ${memberRows(reach)})`;

function apiKeyRows(orgId: string, reach: Reach): SQL {
  if (reach.kind === "all") return ALL_ROWS;
  return sql`${apiKeys.memberId} IN ${memberIdsIn(orgId, reach)}`;
}

function auditRows(orgId: string, reach: Reach): SQL {
  if (reach.kind === "all") return ALL_ROWS;
  const people = memberUserIdsIn(orgId, reach);
  const memberships = memberIdsIn(orgId, reach);
  const invites = sql`(SELECT ${invitations.id} FROM ${invitations} WHERE ${invitations.orgId} = ${orgId} AND ${invitationRows(reach)})`;
  const keys = sql`(SELECT ${apiKeys.id} FROM ${apiKeys} WHERE ${apiKeys.orgId} = ${orgId} AND ${apiKeyRows(orgId, reach)})`;
  return or(
    sql`${auditEvents.actorId} IN ${people}`,
    sql`${auditEvents.targetId} IN ${memberships}`,
    sql`${auditEvents.targetId} IN ${people}`,
    sql`${auditEvents.targetId} IN ${invites}`,
    sql`${auditEvents.targetId} IN ${keys}`,
  )!;
}

/**
 * The condition a single row is loaded under before `actions`: what the caller may read, widened by what they
 * may do (someone allowed to act on a row may learn that it exists). Nothing at all → 403 for the first action.
 */
function visibleRows(ctx: OrgContext, type: string, actions: readonly string[], build: (r: Reach) => SQL): SQL {
  const reaches: SQL[] = [];
  for (const action of ["read", ...actions]) {
    const f = filterFor(ctx.policy, ctx.subject, action, type);
    if (f.kind === "all") return ALL_ROWS;
    if (f.kind !== "none") reaches.push(build(f));
  }
  if (reaches.length === 0) throw refusal(ctx, type, actions[0] ?? "read");
  return reaches.length === 1 ? reaches[0]! : or(...reaches)!;
}

/**
 * For one row and one action: `visible` to load it under (a miss is {@link notYours}), and `allowed`, selected
 * with the row, saying whether the action reaches it; a visible row the action does not reach is
 * {@link refuseAction}.
 */
export interface RowScope {
  visible: SQL;
  allowed: SQL<boolean>;
}

function rowScope(ctx: OrgContext, type: string, action: string, build: (r: Reach) => SQL): RowScope {
  const visible = visibleRows(ctx, type, [action], build);
  const f = filterFor(ctx.policy, ctx.subject, action, type);
  return { visible, allowed: sql<boolean>`(${f.kind === "none" ? sql`false` : build(f)})` };
}

/** 403 for an action on a row the caller can see but the action does not reach, with the permission needed. */
export function refuseAction(ctx: OrgContext, type: string, action: string): AppError {
  return refusal(ctx, type, action);
}

// ---- one function per resource ----

/** Members the caller may list or export. */
export function memberScope(ctx: OrgContext, action: "read" | "export"): SQL {
  return memberRows(reachOf(ctx, "member", action));
}

/**
 * {@link memberRows} for one member row already in memory (the member read answers from a cache shared by every
 * reader, so each reader's reach is applied here). The same rules, kept beside the SQL they mirror.
 */
export function memberInReach(reach: Reach, m: Pick<MemberRow, "userId" | "department" | "storeIds">): boolean {
  switch (reach.kind) {
    case "all":
      return true;
    case "own":
      return m.userId === reach.ownerId;
    case "department":
      return m.department === reach.department;
    case "stores":
      return m.storeIds.length === 0 || m.storeIds.some((s) => reach.storeIds.includes(s));
  }
}

/** The reach one member is read under ({@link memberRowScope} with no actions, as a reach). */
export function memberReadReach(ctx: OrgContext): Reach {
  return reachOf(ctx, "member", "read");
}

/**
 * The condition one member is loaded under before reading it (no actions) or acting on it. Whether the action
 * itself is allowed on that member is the policy's member decision (rank, jurisdiction, last top role).
 */
export function memberRowScope(ctx: OrgContext, actions: readonly string[] = []): SQL {
  return visibleRows(ctx, "member", actions, memberRows);
}

/** Invitations the caller may list. */
export function invitationScope(ctx: OrgContext): SQL {
  return invitationRows(reachOf(ctx, "invitation", "read"));
}

export function invitationRowScope(ctx: OrgContext, action: "resend" | "revoke"): RowScope {
  return rowScope(ctx, "invitation", action, invitationRows);
}

/** API keys the caller may list (keys of the members in their reach). */
export function apiKeyScope(ctx: OrgContext): SQL {
  return apiKeyRows(ctx.org.id, reachOf(ctx, "api_key", "read"));
}

export function apiKeyRowScope(ctx: OrgContext, action: "rotate" | "revoke"): RowScope {
  return rowScope(ctx, "api_key", action, (r) => apiKeyRows(ctx.org.id, r));
}

/** Audit events the caller may read or export. */
export function auditScope(ctx: OrgContext, action: "read" | "export"): SQL {
  return auditRows(ctx.org.id, reachOf(ctx, "audit_log", action));
}

export type ReportReach = { kind: "all" } | { kind: "department"; department: string };

/** Which part of the org's compliance report the caller may read. */
export function reportScope(ctx: OrgContext): ReportReach {
  const reach = reachOf(ctx, "report", "read");
  if (reach.kind === "all" || reach.kind === "department") return reach;
  throw new AppError(
    "permission_denied",
    "A compliance report covers the organization or one department; it cannot be narrowed to your own records or stores. Reading it needs `report:read` or `report:read@department`.",
    { requiredPermission: "report:read" },
  );
}

/** Members counted per role on the roles page: those the caller may read; null when it may read none. */
export function roleMemberScope(ctx: OrgContext): SQL | null {
  const f = filterFor(ctx.policy, ctx.subject, "read", "member");
  return f.kind === "none" ? null : memberRows(f);
}

/**
 * Access review items the caller may see: those within their `access_review:decide` or `access_review:manage`
 * reach (department = the member's department when the campaign started; own = the items assigned to them;
 * stores = members sharing a store). Nothing at all is 403 naming `access_review:decide`.
 */
export function accessReviewItemScope(ctx: OrgContext): SQL {
  return visibleRows(ctx, "access_review", ["decide", "manage"], (reach) => {
    switch (reach.kind) {
      case "all":
        return ALL_ROWS;
      case "own":
        return eq(accessReviewItems.reviewerId, ctx.member.id);
      case "department":
        return eq(accessReviewItems.department, reach.department);
      case "stores":
        return sql`(cardinality(${accessReviewItems.storeIds}) = 0 OR ${accessReviewItems.storeIds} && ARRAY[${sql.join(
          reach.storeIds.map((s) => sql`${s}`),
          sql`, `,
        )}]::text[])`;
    }
  });
}
