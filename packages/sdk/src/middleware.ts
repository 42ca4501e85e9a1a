import type { DataFilter, Decision, Policy, ResourceRef } from "@roster/policy";
import { enforcerFromToken, verifyAccessToken, type RosterAccessClaims, type VerifyOptions } from "./tokens.ts";
import { ForbiddenError, TokenError } from "./errors.ts";

/** What the middleware puts on `req.roster`. */
export interface RosterRequestContext {
  user: { id: string };
  org: { id: string; role: string; department: string | null; storeIds: string[] };
  claims: RosterAccessClaims;
  can(action: string, resource: ResourceRef): Decision;
  assert(action: string, resource: ResourceRef): void;
  filter(action: string, resourceType: string): DataFilter;
}

export interface GuardOptions extends Omit<VerifyOptions, "orgId"> {
  /** The org's policy (a preset, or `GET /v1/orgs/{orgId}/policy` cached by the host app). */
  policy: Policy | ((orgId: string) => Policy | Promise<Policy>);
  /** The organization this request is about (from the path, a subdomain…); a token for another one is refused. */
  orgId?: (req: { headers: Record<string, string | string[] | undefined>; params?: unknown }) => string | undefined;
}

/** The error body of Roster's contract, for the host app's own 401/403 answers. */
export function errorBody(err: TokenError | ForbiddenError) {
  return {
    error: {
      type: err.type,
      code: err.code,
      message: err.message,
      ...(err instanceof ForbiddenError ? { requiredPermission: err.requiredPermission } : {}),
    },
  };
}

async function contextFor(
  req: { headers: Record<string, string | string[] | undefined>; params?: unknown },
  options: GuardOptions,
): Promise<RosterRequestContext> {
  const header = req.headers.authorization;
  const m = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m?.[1]) throw new TokenError("Send the Roster access token as `Authorization: Bearer <token>`.");
  const expectedOrg = options.orgId?.(req);
  const claims = await verifyAccessToken(m[1], {
    issuer: options.issuer,
    ...(options.audience ? { audience: options.audience } : {}),
    ...(expectedOrg !== undefined ? { orgId: expectedOrg } : {}),
    ...(options.clockToleranceSeconds !== undefined ? { clockToleranceSeconds: options.clockToleranceSeconds } : {}),
  });
  const policy = typeof options.policy === "function" ? await options.policy(claims.org_id) : options.policy;
  const enforcer = enforcerFromToken(claims, policy);
  return {
    user: { id: claims.sub },
    org: { id: claims.org_id, role: claims.role, department: claims.department, storeIds: claims.store_ids },
    claims,
    can: (action, resource) => enforcer.can(action, resource),
    assert: (action, resource) => enforcer.assert(action, resource),
    filter: (action, type) => enforcer.filter(action, type),
  };
}

/** `"invoice:void"` → the action and resource type of a permission. */
function splitPermission(permission: string): { action: string; type: string } {
  const i = permission.indexOf(":");
  if (i <= 0) throw new TypeError(`"${permission}" is not a permission like "invoice:void"`);
  return { type: permission.slice(0, i), action: permission.slice(i + 1) };
}

type ExpressReq = {
  headers: Record<string, string | string[] | undefined>;
  params?: unknown;
  roster?: RosterRequestContext;
};
type ExpressRes = { status(code: number): { json(body: unknown): unknown } };
type Next = (err?: unknown) => void;

/**
 * Express middleware: verifies the bearer token and sets `req.roster`; answers 401 in Roster's error shape.
 *
 * @example
 * app.use(rosterExpress({ issuer: "https://roster.example.com/oidc", policy: presets.billing }));
 * app.post("/invoices/:id/void", requirePermissionExpress("invoice:void"), handler);
 */
export function rosterExpress(options: GuardOptions) {
  return (req: ExpressReq, res: ExpressRes, next: Next): void => {
    contextFor(req, options).then(
      (ctx) => {
        req.roster = ctx;
        next();
      },
      (err: unknown) => {
        if (err instanceof TokenError) res.status(401).json(errorBody(err));
        else next(err);
      },
    );
  };
}

/** Express: 403 in Roster's error shape unless the member holds the permission (for any record of the type). */
export function requirePermissionExpress(permission: string) {
  const { action, type } = splitPermission(permission);
  return (req: ExpressReq, res: ExpressRes, next: Next): void => {
    const ctx = req.roster;
    if (!ctx) {
      res.status(401).json(errorBody(new TokenError("Sign in through Roster first.")));
      return;
    }
    const d = ctx.filter(action, type);
    if (d.kind === "none") {
      const decision = ctx.can(action, { type });
      res.status(403).json(errorBody(new ForbiddenError(decision.reason, decision.requiredPermission)));
      return;
    }
    next();
  };
}

type FastifyReq = {
  headers: Record<string, string | string[] | undefined>;
  params?: unknown;
  roster?: RosterRequestContext;
};
type FastifyReply = { code(status: number): { send(body: unknown): unknown }; sent?: boolean };

/**
 * Fastify `onRequest`/`preHandler` hook: verifies the bearer token and sets `req.roster`.
 *
 * @example
 * app.decorateRequest("roster", null);
 * app.addHook("preHandler", rosterFastify({ issuer, policy: presets.billing }));
 * app.post("/invoices/:id/void", { preHandler: requirePermission("invoice:void") }, handler);
 */
export function rosterFastify(options: GuardOptions) {
  return async (req: FastifyReq, reply: FastifyReply): Promise<void> => {
    try {
      req.roster = await contextFor(req, options);
    } catch (err) {
      if (err instanceof TokenError) {
        await reply.code(401).send(errorBody(err));
        return;
      }
      throw err;
    }
  };
}

/** Fastify preHandler: 403 in Roster's error shape unless the member holds the permission. */
export function requirePermission(permission: string) {
  const { action, type } = splitPermission(permission);
  return async (req: FastifyReq, reply: FastifyReply): Promise<void> => {
    const ctx = req.roster;
    if (!ctx) {
      await reply.code(401).send(errorBody(new TokenError("Sign in through Roster first.")));
      return;
    }
    if (ctx.filter(action, type).kind === "none") {
      const d = ctx.can(action, { type });
      await reply.code(403).send(errorBody(new ForbiddenError(d.reason, d.requiredPermission)));
    }
  };
}
