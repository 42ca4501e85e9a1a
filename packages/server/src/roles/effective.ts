import { eq } from "drizzle-orm";
import { getPreset, withCustomRoles, type Policy } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import type { OrgRow } from "../db/schema.ts";
import { tag, type PolicyEntry } from "../cache/hub.ts";
import { orgRoles, type OrgRoleRow } from "./tables.ts";

/** Versions of the custom roles each effective policy was built from (see roles/guard.ts). */
const versionsOf = new WeakMap<Policy, ReadonlyMap<string, number>>();

/**
 * The org's effective policy: its preset plus its custom roles, compiled once per change. It is kept in the
 * instance's cache until the database reports a change to the org's roles or to the org (migration 0009), so a
 * request served from the caches reads nothing here. `loadOrgContext` (http/context.ts) calls this: every
 * route, `/v1/authorize`, the policy endpoint and the SDK see the same roles; `roleTitle` below names them.
 */
export async function effectivePolicy(deps: AppDeps, org: Pick<OrgRow, "id" | "policy">): Promise<Policy> {
  const cache = deps.db.cache.policies;
  const entry =
    cache.get(org.id) ??
    (await cache.load(org.id, async () => {
      const preset = getPreset(org.policy);
      if (!preset) throw new Error(`org ${org.id} is bound to unknown policy ${org.policy}`);
      const rows = await deps.db.tx({ orgId: org.id }, (tx) =>
        tx.select().from(orgRoles).where(eq(orgRoles.orgId, org.id)),
      );
      return { value: buildEntry(preset, rows), tags: [tag.roles(org.id), tag.org(org.id)] };
    }));
  return entry!.policy;
}

export function buildEntry(preset: Policy, rows: readonly OrgRoleRow[]): PolicyEntry {
  const sorted = [...rows].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.key < b.key ? -1 : 1));
  const policy = withCustomRoles(
    preset,
    sorted.map((r) => ({
      key: r.key,
      title: r.title,
      description: r.description,
      rank: r.rank,
      permissions: r.permissions,
    })),
  );
  const versions = new Map(sorted.map((r) => [r.key, r.version]));
  if (policy !== preset) versionsOf.set(policy, versions);
  return { policy, versions };
}

/** The version of a custom role as this policy knows it; undefined for the preset's roles. */
export function roleVersion(policy: Policy, key: string): number | undefined {
  return versionsOf.get(policy)?.get(key);
}

/**
 * A role's title in an org: the preset's, or the org's own for a custom role (from the cached effective policy);
 * null for a key the org no longer defines, or an org bound to a preset this installation lacks.
 */
export async function roleTitle(
  deps: AppDeps,
  org: Pick<OrgRow, "id" | "policy">,
  key: string,
): Promise<string | null> {
  if (!getPreset(org.policy)) return null;
  const policy = await effectivePolicy(deps, org);
  return policy.roles.find((role) => role.name === key)?.title ?? null;
}
