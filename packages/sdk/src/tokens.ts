import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { withCustomRoles, type Policy, type Subject } from "@roster/policy";
import { Enforcer } from "./enforcer.ts";
import { TokenError } from "./errors.ts";

/** The claims of a Roster organization access token (RFC 9068 plus Roster's own). */
export interface RosterAccessClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  client_id: string;
  scope?: string;
  org_id: string;
  role: string;
  /** The member's effective grants: `invoice:void`, scoped ones as `lead:update@own`, `order:read@store`. */
  permissions: string[];
  store_ids: string[];
  department: string | null;
  hidden_modules: string[];
}

export interface VerifyOptions {
  /** Roster's issuer: `{ROSTER_PUBLIC_URL}/oidc`. */
  issuer: string;
  /** Expected audience; default: any organization (`urn:roster:org:{org_id}`, matching the token's own org_id). */
  audience?: string;
  /** Only accept a token for this organization. */
  orgId?: string;
  /** Tolerated clock difference, in seconds (default 5). */
  clockToleranceSeconds?: number;
}

const keySets = new Map<string, JWTVerifyGetKey>();

/** One cached key set per issuer: jose fetches it again when a token names a key it does not hold (rotation). */
function keysFor(issuer: string): JWTVerifyGetKey {
  let keys = keySets.get(issuer);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(`${issuer.replace(/\/+$/, "")}/jwks`), { timeoutDuration: 5000 });
    keySets.set(issuer, keys);
  }
  return keys;
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

/**
 * Verifies a Roster organization access token (a JWT with `typ: at+jwt`, signed by the issuer's current or
 * previous key) and returns its claims.
 *
 * @example
 * const claims = await verifyAccessToken(token, { issuer: "https://roster.example.com/oidc" });
 * claims.org_id; claims.role; claims.permissions; // ["invoice:read", "invoice:void", …]
 */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<RosterAccessClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keysFor(options.issuer), {
      issuer: options.issuer,
      typ: "at+jwt",
      ...(options.audience ? { audience: options.audience } : {}),
      clockTolerance: options.clockToleranceSeconds ?? 5,
    }));
  } catch (err) {
    const expired = err instanceof joseErrors.JWTExpired;
    throw new TokenError(expired ? "The access token has expired." : "The access token is not valid.", { cause: err });
  }
  const p = payload;
  const ok =
    typeof p.sub === "string" &&
    typeof p.org_id === "string" &&
    typeof p.role === "string" &&
    strings(p.permissions) &&
    strings(p.store_ids) &&
    strings(p.hidden_modules) &&
    (p.department === null || typeof p.department === "string") &&
    p.aud === `urn:roster:org:${p.org_id}`;
  if (!ok) throw new TokenError("The access token is not a Roster organization token.");
  if (options.orgId !== undefined && p.org_id !== options.orgId) {
    throw new TokenError("The access token is for another organization.");
  }
  return p as unknown as RosterAccessClaims;
}

/** The member a token speaks for, as a policy subject. */
export function subjectFromClaims(claims: RosterAccessClaims): Subject {
  return {
    role: claims.role,
    userId: claims.sub,
    department: claims.department,
    storeIds: claims.store_ids,
    hiddenModules: claims.hidden_modules,
  };
}

/** Policies extended with a custom role read from tokens, per base policy: role and grants → policy. */
const withTokenRoles = new WeakMap<Policy, Map<string, Policy>>();
const MAX_TOKEN_ROLES = 200;

/**
 * The policy to decide a token with: `policy` itself when it knows the token's role, else `policy` with the
 * role defined from the token's own `permissions` (a custom role of the org, which a preset cannot know). The
 * grants are the member's effective ones, signed by Roster; the role's rank is set below every other role,
 * which only matters for member management, never for the host app's own records.
 */
function policyForToken(policy: Policy, claims: RosterAccessClaims): Policy {
  if (policy.roles.some((r) => r.name === claims.role)) return policy;
  let byRole = withTokenRoles.get(policy);
  if (!byRole) withTokenRoles.set(policy, (byRole = new Map<string, Policy>()));
  const key = `${claims.role} ${[...claims.permissions].sort().join(" ")}`;
  let extended = byRole.get(key);
  if (!extended) {
    const lowest = Math.min(...policy.roles.map((r) => r.rank));
    extended = withCustomRoles(policy, [
      { key: claims.role, title: claims.role, description: "", rank: lowest / 2, permissions: claims.permissions },
    ]);
    if (byRole.size >= MAX_TOKEN_ROLES) byRole.delete(byRole.keys().next().value!);
    byRole.set(key, extended);
  }
  return extended;
}

/**
 * An enforcer for the token's member, deciding `@own`, `@store` and `@department` locally with the org's policy
 * (from `GET /v1/orgs/{orgId}/policy` or a preset). A custom role the policy does not define is decided from
 * the token's `permissions`.
 *
 * @example
 * const enforcer = enforcerFromToken(claims, presets.billing);
 * enforcer.can("void", { type: "invoice" }).allowed;
 */
export function enforcerFromToken(claims: RosterAccessClaims, policy: Policy): Enforcer {
  return new Enforcer(policyForToken(policy, claims), subjectFromClaims(claims));
}
