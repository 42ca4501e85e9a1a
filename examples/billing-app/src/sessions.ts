import { randomBytes } from "node:crypto";
import * as oc from "openid-client";
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";

/** A signed-in person. Tokens stay on the server: the browser holds only the session id, in a cookie. */
export interface Session {
  userId: string;
  name: string;
  email: string;
  orgName: string;
  accessToken: string;
  refreshToken: string;
  idToken: string;
  /** When the 5-minute organization access token expires (ms since epoch). */
  expiresAt: number;
  /** A refresh in flight: concurrent requests wait for it instead of reusing the refresh token (rotation). */
  refreshing?: Promise<Session | null>;
}

export interface RosterClientConfig {
  /** Roster's issuer, `{ROSTER_PUBLIC_URL}/oidc`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The clock that decides when the access token is due for refresh (tests move it forward). */
  now?: () => number;
}

const EVENT = "http://schemas.openid.net/event/backchannel-logout";

/** The app's side of Roster: discovery, sessions, refresh and back-channel logout. */
export class RosterSessions {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;
  #config: Promise<oc.Configuration> | undefined;
  #jwks: JWTVerifyGetKey | undefined;

  constructor(readonly options: RosterClientConfig) {
    this.#now = options.now ?? Date.now;
  }

  /** Roster's discovery document, read on first use (and again after a failure). */
  config(): Promise<oc.Configuration> {
    const { issuer, clientId, clientSecret } = this.options;
    // Plain http is for a Roster on this machine only (the demo); anywhere else the issuer is https.
    const local = new URL(issuer).protocol === "http:" ? { execute: [oc.allowInsecureRequests] } : undefined;
    this.#config ??= oc.discovery(new URL(issuer), clientId, clientSecret, undefined, local).catch((err: unknown) => {
      this.#config = undefined;
      throw err;
    });
    return this.#config;
  }

  create(tokens: oc.TokenEndpointResponse & oc.TokenEndpointResponseHelpers, orgId: string): string {
    const claims = tokens.claims();
    if (!claims || !tokens.refresh_token || !tokens.id_token) throw new Error("Roster sent no ID or refresh token.");
    const orgs = (claims.organizations ?? []) as Array<{ id: string; name: string }>;
    const id = randomBytes(32).toString("base64url");
    this.#sessions.set(id, {
      userId: claims.sub,
      name: typeof claims.name === "string" ? claims.name : claims.sub,
      email: typeof claims.email === "string" ? claims.email : "",
      orgName: orgs.find((o) => o.id === orgId)?.name ?? orgId,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
      expiresAt: this.#now() + (tokens.expires_in ?? 0) * 1000,
    });
    return id;
  }

  /**
   * The session with an access token that is good for at least 30 more seconds: refreshed with the refresh
   * token when due. null when there is no such session, or when Roster refuses the refresh (the member was
   * removed or deactivated, signed out of Roster, or changed their password): the session is then ended.
   */
  async get(id: string | undefined): Promise<Session | null> {
    const session = id ? this.#sessions.get(id) : undefined;
    if (!id || !session) return null;
    if (session.expiresAt - this.#now() > 30_000) return session;
    session.refreshing ??= this.#refresh(id, session);
    return session.refreshing;
  }

  async #refresh(id: string, session: Session): Promise<Session | null> {
    try {
      const tokens = await oc.refreshTokenGrant(await this.config(), session.refreshToken);
      const next: Session = {
        ...session,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? session.refreshToken,
        idToken: tokens.id_token ?? session.idToken,
        expiresAt: this.#now() + (tokens.expires_in ?? 0) * 1000,
        refreshing: undefined,
      };
      if (this.#sessions.has(id)) this.#sessions.set(id, next);
      return next;
    } catch (err) {
      session.refreshing = undefined;
      // Roster unreachable: keep the session and fail this request. Refused (invalid_grant): the session ends.
      if (!(err instanceof oc.ResponseBodyError)) throw err;
      this.#sessions.delete(id);
      return null;
    }
  }

  end(id: string | undefined): Session | undefined {
    const session = id ? this.#sessions.get(id) : undefined;
    if (id) this.#sessions.delete(id);
    return session;
  }

  /** How many sessions the person has here (for tests and the log). */
  count(userId: string): number {
    return [...this.#sessions.values()].filter((s) => s.userId === userId).length;
  }

  /**
   * OpenID Connect Back-Channel Logout 1.0: checks the logout token Roster posted (signature, issuer, audience,
   * age, the logout event, no nonce) and ends every session of its subject. Returns how many were ended.
   */
  async backchannelLogout(logoutToken: string): Promise<number> {
    const config = await this.config();
    this.#jwks ??= createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(logoutToken, this.#jwks, {
      issuer: config.serverMetadata().issuer,
      audience: this.options.clientId,
      typ: "logout+jwt",
      maxTokenAge: "5 minutes",
      requiredClaims: ["iat", "jti", "sub", "events"],
    });
    const events = payload.events as Record<string, unknown> | undefined;
    if (typeof events?.[EVENT] !== "object" || "nonce" in payload) throw new Error("Not a logout token.");
    let ended = 0;
    for (const [id, s] of this.#sessions) {
      if (s.userId === payload.sub && this.#sessions.delete(id)) ended++;
    }
    return ended;
  }
}
