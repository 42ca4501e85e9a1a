import type { FastifyRequest } from "fastify";
import { and, eq } from "drizzle-orm";
import { can, getPreset, type ResourceRef, type Subject } from "@roster/policy";
import { effectivePolicy } from "../roles/effective.ts";
import type { AppDeps } from "../deps.ts";
import { members, organizations, type MemberRow } from "../db/schema.ts";
import {
  checkSession,
  csrfCandidates,
  CSRF_COOKIE,
  revokeSession,
  SESSION_COOKIE,
  SESSION_TOKEN_PREFIX,
} from "../auth/sessions.ts";
import { authenticateApiKey, looksLikeApiKey } from "../api-keys/service.ts";
import { orgSettings, type OrgSettings } from "../orgs/settings.ts";
import { tag, type OrgMemberEntry } from "../cache/hub.ts";
import { AppError, notFound } from "./errors.ts";
import type { ApiKeyPrincipal, OrgContext, Principal, SessionPrincipal } from "./principal.ts";

export type { ApiKeyPrincipal, OrgContext, Principal, SessionPrincipal } from "./principal.ts";
import { safeEqual } from "../lib/tokens.ts";

/**
 * With requireMfa on, a member without a factor reaches only these (docs/decisions/0004-mfa-api-keys-and-org-security.md):
 * who am I (the console needs it to send them to enrolment), enrolment itself, and signing out.
 */
const MFA_ENROLMENT_ROUTES = new Set([
  "GET /v1/me",
  "POST /v1/me/mfa/totp",
  "POST /v1/me/mfa/totp/confirm",
  "DELETE /v1/me/mfa/totp",
  "GET /v1/me/mfa",
  "POST /v1/auth/sign-out",
]);
/**
 * A session that skipped a factor the user has (signed in before enrolling elsewhere) may only look at itself
 * and sign out: removing the factor or anything else would need the second factor it never showed.
 */
const MFA_VERIFICATION_ROUTES = new Set(["GET /v1/me", "GET /v1/me/mfa", "POST /v1/auth/sign-out"]);
/** Outside its own org's routes, a key may only ask POST /v1/authorize about its org. */
const API_KEY_ROUTES_OUTSIDE_ORGS = new Set(["POST /v1/authorize"]);

export type AuthMode = "required" | "optional" | "none";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Default "required". */
    auth?: AuthMode;
    /** Routes under /v1/orgs/{orgId} bind the caller's membership before the handler runs. */
    org?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    orgContext: OrgContext | null;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function presentedToken(req: FastifyRequest): { token: string; via: "cookie" | "bearer" } | null {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m?.[1]) throw new AppError("authentication_required", "The Authorization header must be `Bearer <token>`.");
    return { token: m[1], via: "bearer" };
  }
  const cookie = req.cookies[SESSION_COOKIE];
  return cookie ? { token: cookie, via: "cookie" } : null;
}

/** onRequest: establishes the principal (or refuses), before any body is read. */
export async function authenticate(deps: AppDeps, req: FastifyRequest): Promise<void> {
  req.principal = null;
  req.orgContext = null;
  // Unknown paths answer 404/405 whoever asks; authentication would only hide that.
  const mode = req.is404 ? "none" : (req.routeOptions.config.auth ?? "required");
  if (mode === "none") return;
  const presented = presentedToken(req);
  if (!presented) {
    if (mode === "optional") return;
    throw new AppError("authentication_required", "Sign in or send an API key to use this endpoint.");
  }
  const routeKey = `${req.method} ${req.routeOptions.url ?? ""}`;
  if (looksLikeApiKey(presented.token) && presented.via === "bearer") {
    if (!req.routeOptions.config.org && !API_KEY_ROUTES_OUTSIDE_ORGS.has(routeKey)) {
      throw new AppError(
        "api_key_not_allowed",
        "API keys work only on their organization's routes and POST /v1/authorize. Sign in for this one.",
      );
    }
    const found = await authenticateApiKey(deps, presented.token);
    if (!found)
      throw new AppError("api_key_invalid", "The API key is not valid (revoked, rotated, or its member was removed).");
    req.principal = {
      kind: "api_key",
      user: { ...found.user, platformRole: null },
      keyId: found.key.id,
      orgId: found.org.id,
      via: "bearer",
      org: found.org,
      member: found.member,
      permissions: found.key.permissions,
    };
    return;
  }
  if (!presented.token.startsWith(`${SESSION_TOKEN_PREFIX}_`)) {
    throw new AppError("authentication_required", "The token is not valid.");
  }
  const result = await checkSession(deps.db, presented.token, deps.clock.now(), deps.config.session);
  if (!result.ok) {
    if (mode === "optional") return;
    throw new AppError("session_expired", "Your session has ended. Sign in again.");
  }
  if (presented.via === "cookie" && !SAFE_METHODS.has(req.method)) {
    const sent = req.headers["x-csrf-token"];
    const expected = csrfCandidates(deps.config, result.session.id);
    const fromCookie = req.cookies[CSRF_COOKIE];
    const matches = (v: string) => expected.some((e) => safeEqual(v, e));
    if (typeof sent !== "string" || !matches(sent) || (fromCookie !== undefined && !matches(fromCookie))) {
      throw new AppError("csrf_token_invalid", "This change needs the x-csrf-token header from the sign-in response.");
    }
  }
  // Also on routes where signing in is optional: a gated session must not act there as its user either.
  if (result.mfa === "enrolment" && !MFA_ENROLMENT_ROUTES.has(routeKey)) {
    throw new AppError(
      "mfa_enrollment_required",
      "Your organization requires two-factor authentication. Set up an authenticator app first (POST /v1/me/mfa/totp).",
    );
  }
  if (result.mfa === "verification" && !MFA_VERIFICATION_ROUTES.has(routeKey)) {
    throw new AppError(
      "mfa_required",
      "Your organization requires two-factor authentication, and this session was signed in without it. Sign in again with your authenticator app.",
    );
  }
  const { id, email, name, platformRole } = result.user;
  req.principal = {
    kind: "session",
    user: { id, email, name, platformRole },
    sessionId: result.session.id,
    via: presented.via,
    sessionCreatedAt: result.session.createdAt,
    idleSince: result.idleSince,
    mfaVerified: result.session.mfaVerifiedAt !== null,
  };
}

export function requirePrincipal(req: FastifyRequest): Principal {
  if (!req.principal) throw new AppError("authentication_required", "Sign in or send an API key to use this endpoint.");
  return req.principal;
}

/** For self-service and account-level changes, which an API key may never make. */
export function requireSession(req: FastifyRequest): SessionPrincipal {
  const p = requirePrincipal(req);
  if (p.kind !== "session") throw new AppError("api_key_not_allowed", "API keys cannot do this. Sign in to do it.");
  return p;
}

export function subjectOf(member: MemberRow): Subject {
  return {
    role: member.role,
    userId: member.userId,
    department: member.department,
    storeIds: member.storeIds,
    hiddenModules: member.hiddenModules,
  };
}

/**
 * preHandler for org routes: loads the org and the caller's membership under row-level security. Another org's
 * id, a removed membership, or a platform role without membership all answer 404, so ids cannot be probed.
 */
export async function bindOrg(deps: AppDeps, req: FastifyRequest): Promise<void> {
  if (!req.routeOptions.config.org) return;
  const orgId = (req.params as { orgId?: string }).orgId;
  req.orgContext = await loadOrgContext(deps, requirePrincipal(req), orgId ?? "");
}

/**
 * The org and one user's membership in it (any status), or null. Kept until the database reports a change to this
 * membership or this org (cache/hub.ts), so every instance stops answering from it when the change commits.
 */
export async function orgMembership(deps: AppDeps, orgId: string, userId: string): Promise<OrgMemberEntry | null> {
  const key = `${orgId} ${userId}`;
  return (
    deps.db.cache.orgMembers.get(key) ??
    (await deps.db.cache.orgMembers.load(key, async () => {
      const row = await deps.db.read({ orgId, userId }, async (tx) => {
        const rows = await tx
          .select({ org: organizations, member: members })
          .from(organizations)
          .innerJoin(members, and(eq(members.orgId, organizations.id), eq(members.userId, userId)))
          .where(eq(organizations.id, orgId))
          .limit(1);
        return rows[0];
      });
      return row ? { value: row, tags: [tag.org(orgId), tag.member(orgId, userId)] } : null;
    }))
  );
}

export async function loadOrgContext(deps: AppDeps, principal: Principal, orgId: string): Promise<OrgContext> {
  if (principal.kind === "api_key") return keyOrgContext(deps, principal, orgId);
  const found = await orgMembership(deps, orgId, principal.user.id);
  if (!found || found.member.status === "removed") throw notFound("Organization");
  if (found.member.status === "inactive") {
    throw new AppError(
      "member_inactive",
      "Your access to this organization is suspended. Ask an administrator to reactivate it.",
    );
  }
  const preset = getPreset(found.org.policy);
  if (!preset) throw new Error(`org ${orgId} is bound to unknown policy ${found.org.policy}`);
  await enforceOrgSessionLimits(deps, principal, orgSettings(found.org, preset));
  // The preset plus the org's custom roles, from this instance's cache: the one place every route,
  // /v1/authorize and the policy endpoint get the org's policy from.
  const policy = await effectivePolicy(deps, found.org);
  // Copies: a handler never touches what the next request is served from.
  const org = { ...found.org };
  const member = { ...found.member };
  return { org, policy, member, subject: subjectOf(member) };
}

/** A key is bound to one org: any other org id answers 404, like an org the caller does not belong to. */
async function keyOrgContext(deps: AppDeps, principal: ApiKeyPrincipal, orgId: string): Promise<OrgContext> {
  if (orgId !== principal.orgId) throw notFound("Organization");
  const policy = await effectivePolicy(deps, principal.org);
  const subject = subjectOf(principal.member);
  return {
    org: principal.org,
    policy,
    member: principal.member,
    subject: principal.permissions ? { ...subject, narrowTo: principal.permissions } : subject,
  };
}

/**
 * An org may end sessions sooner than the installation does. A session that is too idle or too old for this
 * org is revoked (not just refused here), so it cannot be kept warm on other routes and brought back.
 */
async function enforceOrgSessionLimits(
  deps: AppDeps,
  principal: SessionPrincipal,
  settings: OrgSettings,
): Promise<void> {
  const now = deps.clock.now().getTime();
  const idle =
    settings.sessionIdleMinutes !== null && now - principal.idleSince.getTime() >= settings.sessionIdleMinutes * 60_000;
  const old =
    settings.sessionMaxHours !== null &&
    now - principal.sessionCreatedAt.getTime() >= settings.sessionMaxHours * 3_600_000;
  if (!idle && !old) return;
  await deps.db.tx({ userId: principal.user.id }, (tx) =>
    revokeSession(tx, principal.sessionId, deps.clock.now(), idle ? "org_idle_limit" : "org_max_age"),
  );
  throw new AppError(
    "session_expired",
    "Your session has ended under this organization's session policy. Sign in again.",
  );
}

export function orgContext(req: FastifyRequest): OrgContext {
  if (!req.orgContext) throw new Error("route is missing config.org");
  return req.orgContext;
}

/** The single gate for org routes: asks the policy engine and turns a refusal into 403 with the permission needed. */
export function authorize(ctx: OrgContext, action: string, resource: ResourceRef): void {
  const decision = can(ctx.policy, ctx.subject, action, resource);
  if (!decision.allowed) {
    throw new AppError("permission_denied", decision.reason, { requiredPermission: decision.requiredPermission });
  }
}
