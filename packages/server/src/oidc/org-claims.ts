import { filterFor, type Policy, type Subject } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { loadOrgContext, type SessionPrincipal } from "../http/context.ts";
import { orgSettings } from "../orgs/settings.ts";

/** What an organization access token says about its member (RFC 9068 claims plus Roster's). */
export interface OrgClaims {
  org_id: string;
  role: string;
  permissions: string[];
  store_ids: string[];
  department: string | null;
  hidden_modules: string[];
}

/**
 * The member's effective grants as permission strings, each decided by the policy engine's own filter
 * (`filterFor`, as every list of the API): `invoice:void`, or scoped `lead:update@own`, `order:read@store`,
 * `lead:read@department`. Hidden modules are already applied.
 */
export function grantsOf(policy: Policy, subject: Subject): string[] {
  const out: string[] = [];
  for (const [resource, actions] of Object.entries(policy.resources)) {
    for (const action of actions) {
      const f = filterFor(policy, subject, action, resource);
      const permission = `${resource}:${action}`;
      if (f.kind === "all") out.push(permission);
      else if (f.kind === "own") out.push(`${permission}@own`);
      else if (f.kind === "stores") out.push(`${permission}@store`);
      else if (f.kind === "department") out.push(`${permission}@department`);
    }
  }
  return out;
}

export type OrgTokenRefusal = "not_member" | "inactive" | "mfa_required";

/**
 * The member's claims for an organization access token, read the way `POST /v1/authorize` reads the caller
 * (`loadOrgContext`: the same cache, the same policy lookup, so custom roles and a role change apply the
 * same way). The principal stands for the signed-in person at the moment the token is issued.
 */
export async function orgTokenClaims(
  deps: AppDeps,
  userId: string,
  orgId: string,
  amr: readonly string[],
): Promise<OrgClaims | OrgTokenRefusal> {
  const now = deps.clock.now();
  const principal: SessionPrincipal = {
    kind: "session",
    user: { id: userId, email: "", name: "", platformRole: null },
    sessionId: "",
    via: "bearer",
    sessionCreatedAt: now,
    idleSince: now,
    mfaVerified: amr.includes("otp"),
  };
  let ctx;
  try {
    ctx = await loadOrgContext(deps, principal, orgId);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "member_inactive") return "inactive";
    if (code === "not_found") return "not_member";
    throw err;
  }
  if (orgSettings(ctx.org, ctx.policy).requireMfa && !principal.mfaVerified) return "mfa_required";
  const { member } = ctx;
  return {
    org_id: orgId,
    role: member.role,
    permissions: grantsOf(ctx.policy, ctx.subject),
    store_ids: [...member.storeIds],
    department: member.department,
    hidden_modules: [...member.hiddenModules],
  };
}
