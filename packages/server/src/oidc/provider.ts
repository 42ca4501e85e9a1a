import { hkdfSync } from "node:crypto";
import { and, eq } from "drizzle-orm";
import Provider, { errors, interactionPolicy, type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import type { AppDeps } from "../deps.ts";
import { members, organizations, users } from "../db/schema.ts";
import { checkSession, SESSION_COOKIE } from "../auth/sessions.ts";
import { postgresAdapter } from "./adapter.ts";
import type { KeySet } from "./keys.ts";
import { orgTokenClaims } from "./org-claims.ts";
import { oidcGrantLinks } from "./tables.ts";

/** `resource=urn:roster:org` lets the person pick an organization; `urn:roster:org:{orgId}` names one. */
export const ORG_RESOURCE = "urn:roster:org";
export const ORG_TOKEN_TTL_SECONDS = 5 * 60;
export const TTL = {
  AuthorizationCode: 60,
  ClientCredentials: 600,
  IdToken: 3600,
  Interaction: 3600,
  Grant: 14 * 86_400,
  RefreshToken: 14 * 86_400,
  Session: 14 * 86_400,
} as const;

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

export const issuerOf = (publicUrl: string) => `${publicUrl}/oidc`;

/** The org an `urn:roster:org[:id]` resource names, "" for "the one picked at sign-in", null for anything else. */
export function orgOfResource(resource: string): string | null {
  if (resource === ORG_RESOURCE) return "";
  const m = /^urn:roster:org:([A-Za-z0-9_-]{1,64})$/.exec(resource);
  return m ? m[1]! : null;
}

/** The grant behind a token request, and the org chosen for it at sign-in. */
async function grantLink(deps: AppDeps, ctx: KoaContextWithOIDC) {
  const e = ctx.oidc.entities;
  const grantId = e.AuthorizationCode?.grantId ?? e.RefreshToken?.grantId ?? e.Grant?.jti;
  if (!grantId) return null;
  const rows = await deps.db.tx({}, (tx) =>
    tx.select().from(oidcGrantLinks).where(eq(oidcGrantLinks.grantId, grantId)).limit(1),
  );
  return rows[0] ? { ...rows[0], amr: amrOf(ctx) } : null;
}

/** How the person signed in for the code or refresh token being exchanged (`otp` when a second factor was shown). */
function amrOf(ctx: KoaContextWithOIDC): string[] {
  const e = ctx.oidc.entities;
  return (e.AuthorizationCode ?? e.RefreshToken)?.amr ?? [];
}

const REFUSALS = {
  not_member: "The person is not a member of this organization.",
  inactive: "The member is not active in this organization.",
  mfa_required: "This organization requires two-step verification, and this sign-in did not include it.",
} as const;

/**
 * The resource servers this provider issues tokens for: only organizations. At the authorization endpoint the
 * person is not known yet, so only the form is checked; at the token endpoint the org is the one picked at
 * sign-in, the member must be active in it, and an org that requires MFA needs it in this sign-in.
 */
function resourceServerInfo(deps: AppDeps) {
  return async (ctx: KoaContextWithOIDC, indicator: string) => {
    const named = orgOfResource(indicator);
    if (named === null) throw new errors.InvalidTarget("Roster issues access tokens for organizations only.");
    if (ctx.oidc.route !== "token") {
      return { scope: "organizations", audience: indicator, accessTokenTTL: ORG_TOKEN_TTL_SECONDS };
    }
    if (ctx.oidc.client?.grantTypeAllowed("client_credentials")) {
      throw new errors.InvalidTarget("Machine applications get no organization tokens.");
    }
    const link = await grantLink(deps, ctx);
    if (!link?.orgId) throw new errors.InvalidTarget("No organization was chosen at sign-in for this grant.");
    if (named !== "" && named !== link.orgId) {
      throw new errors.InvalidTarget("This grant is for another organization.");
    }
    const claims = await orgTokenClaims(deps, link.accountId, link.orgId, link.amr);
    if (typeof claims === "string") throw new errors.InvalidGrant(REFUSALS[claims]);
    return {
      scope: "organizations",
      audience: `${ORG_RESOURCE}:${link.orgId}`,
      accessTokenTTL: ORG_TOKEN_TTL_SECONDS,
      accessTokenFormat: "jwt" as const,
      jwt: { sign: { alg: "RS256" as const } },
    };
  };
}

/** The person's claims: from the users table, with their active memberships under scope `organizations`. */
function findAccount(deps: AppDeps): Configuration["findAccount"] {
  return async (_ctx, sub) => {
    const found = await deps.db.tx({ userId: sub }, async (tx) => {
      const [user] = await tx.select().from(users).where(eq(users.id, sub)).limit(1);
      if (!user) return null;
      const orgs = await tx
        .select({ id: organizations.id, name: organizations.name, role: members.role, invitedBy: members.invitedBy })
        .from(members)
        .innerJoin(organizations, eq(organizations.id, members.orgId))
        .where(and(eq(members.userId, sub), eq(members.status, "active")));
      return { user, orgs };
    });
    if (!found) return undefined;
    const { user, orgs } = found;
    return {
      accountId: sub,
      claims: async () => ({
        sub,
        email: user.email,
        // Known to reach this address: joined through an emailed invitation.
        email_verified: orgs.some((o) => o.invitedBy !== null),
        name: user.name,
        organizations: orgs.map((o) => ({ id: o.id, name: o.name, role: o.role })),
      }),
    };
  };
}

/** The provider signs in through Roster: its own login state lasts only as long as the Roster session. */
function rosterSessionCheck(deps: AppDeps) {
  return new interactionPolicy.Check(
    "roster_session",
    "The Roster session this sign-in came from has ended",
    async (ctx: KoaContextWithOIDC) => {
      const token = ctx.cookies.get(SESSION_COOKIE);
      if (!token) return interactionPolicy.Check.REQUEST_PROMPT;
      const result = await checkSession(deps.db, token, deps.clock.now(), deps.config.session);
      if (!result.ok || result.user.id !== ctx.oidc.session?.accountId) return interactionPolicy.Check.REQUEST_PROMPT;
      return interactionPolicy.Check.NO_NEED_TO_PROMPT;
    },
  );
}

function cookieKey(secretKey: Buffer): string {
  return Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "roster:oidc-cookies:v1", 32)).toString("hex");
}

/** The OpenID Provider (oidc-provider), configured for Roster; mounted under /oidc by oidc/routes.ts. */
export function buildProvider(deps: AppDeps, keys: KeySet): Provider {
  const policy = interactionPolicy.base();
  policy.get("login")?.checks.add(rosterSessionCheck(deps));
  const configuration: Configuration = {
    adapter: postgresAdapter(deps),
    jwks: { keys: keys.keys },
    cookies: {
      keys: [cookieKey(deps.config.secretKey), ...deps.config.previousSecretKeys.map(cookieKey)],
      long: { secure: deps.config.session.cookieSecure, sameSite: "lax" },
      short: { secure: deps.config.session.cookieSecure, sameSite: "lax" },
    },
    findAccount: findAccount(deps),
    claims: {
      // `amr`: how the person signed in (`otp` once a second factor was shown), in every ID token.
      openid: ["sub", "amr"],
      email: ["email", "email_verified"],
      profile: ["name"],
      organizations: ["organizations"],
    },
    scopes: ["openid", "offline_access", "email", "profile", "organizations"],
    extraClientMetadata: { properties: ["roster_first_party"] },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy,
    },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed("refresh_token") && code.scopes.has("offline_access"),
    ttl: {
      ...TTL,
      // Organization tokens live 5 minutes (their resource server says so); the userinfo token an hour.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 3600,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: resourceServerInfo(deps),
      },
    },
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== "AccessToken") return undefined;
      const audience = (token as { aud?: string }).aud;
      const orgId = typeof audience === "string" ? orgOfResource(audience) : null;
      if (!orgId) return undefined;
      const claims = await orgTokenClaims(deps, (token as { accountId: string }).accountId, orgId, amrOf(ctx));
      if (typeof claims === "string") throw new errors.InvalidGrant(REFUSALS[claims]);
      return { ...claims };
    },
    // The provider's only outbound requests are back-channel logout notices, to URIs that operators registered
    // (https, or http on loopback). Its guard against special-use addresses stays on, except for loopback:
    // an application running beside Roster on the same machine.
    fetch: (url, options) => {
      const target = new URL(url);
      if (!LOOPBACK.has(target.hostname)) return fetch(url, options);
      const { dispatcher: _guard, ...direct } = options as RequestInit & { dispatcher?: unknown };
      return fetch(url, direct);
    },
    // Browser calls to the token, userinfo and revocation endpoints: an origin the operator listed
    // (ROSTER_CORS_ORIGINS), or a public client's own redirect origin (the provider's default rule).
    clientBasedCORS: (ctx, origin, client) => {
      if (origin === "null") return false;
      if (deps.config.corsOrigins.includes(origin)) return true;
      if (ctx.oidc.route !== "userinfo" && client.clientAuthMethod !== "none") return false;
      return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
    },
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = errorPage(out.error, out.error_description);
    },
  };
  const provider = new Provider(issuerOf(deps.config.publicUrl), configuration);
  provider.proxy = deps.config.trustProxy !== false;
  return provider;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function errorPage(error: string, description: string | undefined): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign-in error</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}code{background:#f1f3f5;padding:2px 6px;border-radius:4px}</style></head>
<body><h1>This sign-in cannot continue</h1><p>${escapeHtml(description ?? "The application sent a request Roster cannot accept.")}</p><p><code>${escapeHtml(error)}</code></p><p>Go back to the application and try again.</p></body></html>`;
}
