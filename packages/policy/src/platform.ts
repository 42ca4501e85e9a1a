import { compiledOf, decision } from "./compile.ts";
import type { Decision, Policy } from "./types.ts";

/**
 * May an installation-level role do `action` on a platform resource (`tenant`, `affiliate`, …)?
 * Platform roles never reach an organization's own data: any organization resource is refused.
 *
 * @example
 * canPlatform(presets.crm, "developer", "approve", "affiliate").allowed; // false
 */
export function canPlatform(policy: Policy, platformRole: string, action: string, resource: string): Decision {
  const c = compiledOf(policy);
  const key = `${resource}:${action}`;
  if (c.resources.has(resource)) {
    return decision(
      false,
      "Platform roles do not grant access to an organization's own data.",
      key,
      "platform_no_org_access",
    );
  }
  if (c.platform === null) {
    return decision(false, `The ${policy.title} policy has no platform roles.`, key, "unknown_role");
  }
  const role = c.platform.roles.get(platformRole);
  if (role === undefined) {
    return decision(
      false,
      `"${platformRole}" is not a platform role of the ${policy.title} policy.`,
      key,
      "unknown_role",
    );
  }
  const entry = role.grants.get(resource)?.get(action);
  if (entry === undefined) {
    return decision(
      false,
      `"${key}" is not a platform permission of the ${policy.title} policy.`,
      key,
      "unknown_permission",
    );
  }
  return entry.scope === -1 ? entry.denied : entry.allowed;
}
