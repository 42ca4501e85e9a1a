import { eq } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { organizations } from "../db/schema.ts";
import { invalid, notFound } from "../http/errors.ts";
import { authorize, type OrgContext } from "../http/context.ts";
import { record, type RequestMeta } from "../audit/record.ts";
import { orgSettings, type OrgSettings } from "../orgs/settings.ts";
import { hasConfirmedFactor } from "../mfa/service.ts";

export type SecurityPatch = { [K in keyof OrgSettings]?: OrgSettings[K] | undefined };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Domains compare case-insensitively and a list is a set: stored lower-case, sorted, without duplicates. */
function normalize(patch: SecurityPatch): SecurityPatch {
  const out: SecurityPatch = { ...patch };
  if (patch.allowedEmailDomains)
    out.allowedEmailDomains = [...new Set(patch.allowedEmailDomains.map((d) => d.trim().toLowerCase()))].sort();
  if (patch.allowedFactors) out.allowedFactors = [...new Set(patch.allowedFactors)];
  return out;
}

/**
 * Applies a partial change to the org's security settings in one transaction with its `security.updated`
 * event, which carries the before and after of the changed fields only. A change that changes nothing
 * records nothing.
 */
export async function updateSecurity(
  deps: AppDeps,
  ctx: OrgContext,
  patch: SecurityPatch,
  meta: RequestMeta,
): Promise<OrgSettings> {
  authorize(ctx, "update", { type: "security" });
  const orgId = ctx.org.id;
  const wanted = normalize(patch);
  return deps.db.tx({ orgId, userId: ctx.member.userId }, async (tx) => {
    const [current] = await tx.select().from(organizations).where(eq(organizations.id, orgId)).for("update");
    if (!current) throw notFound("Organization");
    const before = orgSettings(current, ctx.policy);
    const changedFrom: Record<string, unknown> = {};
    const after: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(wanted) as Array<[keyof OrgSettings, unknown]>) {
      if (value === undefined || same(before[key], value)) continue;
      changedFrom[key] = before[key];
      after[key] = value;
    }
    if (Object.keys(after).length === 0) return before;
    if (after.requireMfa === true && !(await hasConfirmedFactor(tx, ctx.member.userId))) {
      // Otherwise the admin who turns it on is the first person locked out of this very page.
      throw invalid("requireMfa", "Set up two-factor authentication for yourself before requiring it for everyone.");
    }
    const next = { ...before, ...after };
    if (next.allowedFactors.length === 0) throw invalid("allowedFactors", "At least one factor must stay allowed.");
    const now = deps.clock.now();
    const stored = { ...(current.settings ?? {}), ...after };
    await tx.update(organizations).set({ settings: stored, updatedAt: now }).where(eq(organizations.id, orgId));
    await record(tx, orgId, now, {
      action: "security.updated",
      actorId: ctx.member.userId,
      targetId: orgId,
      entityType: "security",
      before: changedFrom,
      after,
      ...meta,
    });
    return next;
  });
}

/** The org's security settings, for a caller with `security:read`. */
export function readSecurity(ctx: OrgContext): OrgSettings {
  authorize(ctx, "read", { type: "security" });
  return securityOf(ctx);
}

export function securityOf(ctx: OrgContext): OrgSettings {
  return orgSettings(ctx.org, ctx.policy);
}
