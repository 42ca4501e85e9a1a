import { randomBytes } from "node:crypto";
import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { can, getPreset } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { rowsOf, type Tx } from "../db/database.ts";
import { members, organizations, users, type MemberRow, type OrgRow, type UserRow } from "../db/schema.ts";
import { AppError, invalid } from "../http/errors.ts";
import type { OrgContext } from "../http/principal.ts";
import { newId } from "../lib/ids.ts";
import { hashToken } from "../lib/tokens.ts";
import { record, type RequestMeta } from "../audit/record.ts";
import { orgSettings } from "../orgs/settings.ts";
import { apiKeys, type ApiKeyRow } from "./tables.ts";
import { apiKeyRowScope, apiKeyScope, holds, notYours, refuseAction } from "../http/scope.ts";
import { assertAllowed } from "../members/rules.ts";
import { tag } from "../cache/hub.ts";

export const API_KEY_PREFIX = "rk";
/** `rk_<8-character prefix>_<43 characters of base64url>`: the prefix is what lists show, the rest is 256 random bits. */
const KEY_FORMAT = /^rk_([0-9a-z]{8})_([A-Za-z0-9_-]{43})$/;
const PREFIX_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
// Like sessions: a write per request would turn every read into a write; a minute is precise enough for reviews.
const TOUCH_INTERVAL_MS = 60_000;
const PERMISSION_FORMAT = /^([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)(?:@(own|store|department))?$/;

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(`${API_KEY_PREFIX}_`);
}

function newKey(): { key: string; prefix: string } {
  let prefix = "";
  for (const b of randomBytes(8)) prefix += PREFIX_ALPHABET[b & 31];
  return { key: `${API_KEY_PREFIX}_${prefix}_${randomBytes(32).toString("base64url")}`, prefix };
}

export interface AuthenticatedKey {
  key: ApiKeyRow;
  member: MemberRow;
  org: OrgRow;
  user: Pick<UserRow, "id" | "email" | "name">;
}

/**
 * Resolves a presented key to its org, member and user, or null when it is not a live key. The lookup runs
 * before any org is known, through a SECURITY DEFINER function that maps the hash to ids only; the rest is
 * read with that org bound. The member's current row decides: removed → not a key any more; deactivated →
 * the org's `suspendedMemberApiKeys` (keep working, or 403 api_key_paused). A live key stays in this
 * instance's cache until the database reports a change to the key, its member, its org or its user.
 */
export async function authenticateApiKey(deps: AppDeps, token: string): Promise<AuthenticatedKey | null> {
  if (!KEY_FORMAT.test(token)) return null;
  const now = deps.clock.now();
  const secretHash = hashToken(token);
  const cache = deps.db.cache.apiKeys;
  const row =
    cache.get(secretHash) ??
    (await cache.load(secretHash, async () => {
      const value = await readKey(deps, secretHash);
      if (!value) return null;
      const { orgId, id } = value.key;
      const tags = [tag.key(orgId, id), tag.member(orgId, value.user.id), tag.org(orgId), tag.user(value.user.id)];
      return { value, tags };
    }));
  if (!row || row.member.status === "removed") return null;
  if (row.member.status === "inactive") {
    const policy = getPreset(row.org.policy);
    if (!policy || orgSettings(row.org, policy).suspendedMemberApiKeys === "paused") {
      throw new AppError(
        "api_key_paused",
        "This API key's member is deactivated, and this organization pauses their keys until they are reactivated.",
      );
    }
  }
  const lastUsedAt = row.key.lastUsedAt;
  if (!lastUsedAt || now.getTime() - lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
    // At most once a minute per key and instance, and never seen by the caches (migration 0007).
    row.key.lastUsedAt = now;
    await deps.db.tx({ orgId: row.key.orgId }, (tx) =>
      tx
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(
          and(
            eq(apiKeys.orgId, row.key.orgId),
            eq(apiKeys.id, row.key.id),
            or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, new Date(now.getTime() - TOUCH_INTERVAL_MS))),
          ),
        ),
    );
  }
  // Copies: the request never touches what the next one is served from.
  return { key: { ...row.key }, member: { ...row.member }, org: { ...row.org }, user: { ...row.user } };
}

async function readKey(deps: AppDeps, secretHash: string): Promise<AuthenticatedKey | null> {
  return deps.db.tx({}, async (tx) => {
    const found = rowsOf<{ org_id: string; key_id: string }>(
      await tx.execute(sql`SELECT org_id, key_id FROM roster_api_key_lookup(${secretHash})`),
    )[0];
    if (!found) return null;
    await tx.execute(sql`SELECT set_config('roster.org_id', ${found.org_id}, true)`);
    const [row] = await tx
      .select({
        key: apiKeys,
        member: members,
        org: organizations,
        user: { id: users.id, email: users.email, name: users.name },
      })
      .from(apiKeys)
      .innerJoin(members, and(eq(members.orgId, apiKeys.orgId), eq(members.id, apiKeys.memberId)))
      .innerJoin(organizations, eq(organizations.id, apiKeys.orgId))
      .innerJoin(users, eq(users.id, members.userId))
      .where(and(eq(apiKeys.orgId, found.org_id), eq(apiKeys.id, found.key_id), isNull(apiKeys.revokedAt)));
    return row ?? null;
  });
}

/**
 * Normalises a key's narrowing list. Each entry must be a permission of the org's policy that the member holds
 * (in some scope); nobody can hand a key more than they have. The key is still checked against the member's
 * current role on every request, so a later demotion narrows it further.
 */
function checkPermissions(ctx: OrgContext, requested: readonly string[]): string[] {
  const out = [...new Set(requested)];
  const seen = new Map<string, string>();
  out.forEach((permission, i) => {
    const m = PERMISSION_FORMAT.exec(permission);
    if (!m)
      throw invalid(
        `permissions.${i}`,
        `"${permission}" is not a permission: use "resource:action", optionally with @own, @store or @department.`,
      );
    const [, resource = "", action = ""] = m;
    // The policy engine reads one grant under two scopes as ambiguous and a key with it would fail closed on
    // every request: refuse it here instead of minting a key that can do nothing.
    const other = seen.get(`${resource}:${action}`);
    if (other !== undefined)
      throw invalid(
        `permissions.${i}`,
        `"${permission}" and "${other}" name the same permission twice with different scopes; keep one.`,
      );
    seen.set(`${resource}:${action}`, permission);
    if (!ctx.policy.resources[resource]?.includes(action)) {
      throw invalid(
        `permissions.${i}`,
        `"${resource}:${action}" is not a permission of the ${ctx.policy.title} policy.`,
      );
    }
    if (!holds(ctx, resource, action)) {
      throw new AppError(
        "permission_denied",
        `You cannot give a key "${resource}:${action}": your role does not have it.`,
        { requiredPermission: `${resource}:${action}` },
      );
    }
  });
  return out;
}

export interface MintedKey {
  id: string;
  name: string;
  prefix: string;
  secret: string;
  createdAt: Date;
}

/** Mints a key for the caller's own membership; the secret is in this answer and nowhere else. */
export async function mintKey(
  deps: AppDeps,
  ctx: OrgContext,
  input: { name: string; permissions?: string[] | undefined },
  meta: RequestMeta,
): Promise<MintedKey> {
  // A key acts as the caller's own membership: it is theirs.
  assertAllowed(can(ctx.policy, ctx.subject, "create", { type: "api_key", ownerId: ctx.member.userId }));
  const permissions = input.permissions === undefined ? null : checkPermissions(ctx, input.permissions);
  const now = deps.clock.now();
  const { key, prefix } = newKey();
  const row: ApiKeyRow = {
    orgId: ctx.org.id,
    id: newId("key"),
    memberId: ctx.member.id,
    name: input.name.trim(),
    prefix,
    secretHash: hashToken(key),
    permissions,
    createdBy: ctx.member.userId,
    createdAt: now,
    rotatedAt: null,
    lastUsedAt: null,
    revokedAt: null,
    revokedReason: null,
  };
  await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    await tx.insert(apiKeys).values(row);
    await record(tx, ctx.org.id, now, {
      action: "api_key.created",
      actorId: ctx.member.userId,
      targetId: row.id,
      entityType: "api_key",
      after: { name: row.name, prefix, memberId: row.memberId, permissions },
      ...meta,
    });
  });
  return { id: row.id, name: row.name, prefix, secret: key, createdAt: now };
}

export interface KeyListItem extends Omit<ApiKeyRow, "secretHash" | "orgId" | "createdBy" | "revokedReason"> {
  ownerName: string;
}

/** The keys the caller may see (`api_key:read`, within their row scope), newest first. */
export async function listKeys(deps: AppDeps, ctx: OrgContext): Promise<KeyListItem[]> {
  const scope = apiKeyScope(ctx);
  const rows = await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, (tx) =>
    tx
      .select({ key: apiKeys, ownerName: users.name })
      .from(apiKeys)
      .innerJoin(members, and(eq(members.orgId, apiKeys.orgId), eq(members.id, apiKeys.memberId)))
      .innerJoin(users, eq(users.id, members.userId))
      .where(and(eq(apiKeys.orgId, ctx.org.id), scope))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id)),
  );
  return rows.map(({ key, ownerName }) => ({
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    memberId: key.memberId,
    ownerName,
    permissions: key.permissions,
    createdAt: key.createdAt,
    rotatedAt: key.rotatedAt,
    lastUsedAt: key.lastUsedAt,
    revokedAt: key.revokedAt,
  }));
}

/**
 * Loads and locks one key for `action`: another org's id, or a key outside the caller's reach, is 404; one
 * they can see but the action does not reach is 403.
 */
async function keyFor(tx: Tx, ctx: OrgContext, keyId: string, action: "rotate" | "revoke"): Promise<ApiKeyRow> {
  const scope = apiKeyRowScope(ctx, action);
  const [row] = await tx
    .select({ key: apiKeys, allowed: scope.allowed })
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, ctx.org.id), eq(apiKeys.id, keyId), scope.visible))
    .for("update");
  if (!row) throw notYours("API key");
  if (!row.allowed) throw refuseAction(ctx, "api_key", action);
  return row.key;
}

/**
 * Replaces a key's secret at once: the old secret fails from this moment. Only the key's own member may rotate
 * it, because the new secret acts as that member: rotating someone else's key would hand over their role.
 */
export async function rotateKey(deps: AppDeps, ctx: OrgContext, keyId: string, meta: RequestMeta): Promise<MintedKey> {
  const now = deps.clock.now();
  const { key, prefix } = newKey();
  return deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    const current = await keyFor(tx, ctx, keyId, "rotate");
    if (current.revokedAt) throw new AppError("conflict", "This API key is revoked; mint a new one instead.");
    if (current.memberId !== ctx.member.id) {
      throw new AppError(
        "permission_denied",
        "Only the member a key belongs to can rotate it; you can revoke it instead.",
        { requiredPermission: "api_key:rotate" },
      );
    }
    await tx
      .update(apiKeys)
      .set({ secretHash: hashToken(key), prefix, rotatedAt: now })
      .where(and(eq(apiKeys.orgId, ctx.org.id), eq(apiKeys.id, keyId)));
    await record(tx, ctx.org.id, now, {
      action: "api_key.rotated",
      actorId: ctx.member.userId,
      targetId: keyId,
      entityType: "api_key",
      before: { prefix: current.prefix },
      after: { prefix },
      ...meta,
    });
    return { id: keyId, name: current.name, prefix, secret: key, createdAt: current.createdAt };
  });
}

/** Revokes a key at once. Revoking an already revoked key changes nothing and records nothing. */
export async function revokeKey(deps: AppDeps, ctx: OrgContext, keyId: string, meta: RequestMeta): Promise<void> {
  const now = deps.clock.now();
  await deps.db.tx({ orgId: ctx.org.id, userId: ctx.member.userId }, async (tx) => {
    const current = await keyFor(tx, ctx, keyId, "revoke");
    if (current.revokedAt) return;
    await tx
      .update(apiKeys)
      .set({ revokedAt: now, revokedReason: "revoked" })
      .where(and(eq(apiKeys.orgId, ctx.org.id), eq(apiKeys.id, keyId)));
    await record(tx, ctx.org.id, now, {
      action: "api_key.revoked",
      actorId: ctx.member.userId,
      targetId: keyId,
      entityType: "api_key",
      before: { name: current.name, prefix: current.prefix, memberId: current.memberId },
      after: { reason: "revoked" },
      ...meta,
    });
  });
}

/**
 * Removal revokes the member's keys, inside the removal's own transaction (bound to `orgId`). Restoring the
 * member later does not bring them back: keys that outlived a removal are not trusted again.
 */
export async function revokeKeysOfMember(tx: Tx, orgId: string, memberId: string, now: Date): Promise<number> {
  const revoked = await tx
    .update(apiKeys)
    .set({ revokedAt: now, revokedReason: "member_removed" })
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.memberId, memberId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return revoked.length;
}
