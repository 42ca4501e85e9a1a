import type { Decision, Policy, ResourceRef, Subject } from "@roster/policy";
import { Enforcer } from "./enforcer.ts";
import { RosterError, RosterNetworkError } from "./errors.ts";

export interface RosterClientOptions {
  /** Where Roster answers, e.g. `http://127.0.0.1:4000`. */
  baseUrl: string;
  /** An org API key (`rk_…`): acts as its member, with that member's current role. */
  apiKey?: string;
  /** Or a member's session token, when the host app acts for a signed-in person. */
  sessionToken?: string;
  /** How long an `enforcer()` may be reused before the policy and the member's role are fetched again (default 30 s). */
  cacheTtlMs?: number;
  /** How long one request may take (default 10 s); then it fails with a `RosterNetworkError` ("timeout"). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface OrgPolicy {
  policy: Policy;
  viewer: {
    role: string;
    assignableRoles: string[];
    subject: Subject & { department: string | null; storeIds: string[]; hiddenModules: string[] };
  };
}

export interface SignInOptions {
  baseUrl: string;
  email: string;
  password: string;
  /**
   * The end user's IP address, sent as `X-Forwarded-For`, when the host app's backend signs people in. Roster
   * believes it only from addresses listed in `ROSTER_TRUST_PROXY`; failed sign-ins are then throttled per end
   * user's address instead of all counting against the backend's one.
   */
  clientAddress?: string;
  fetch?: typeof fetch;
}

/** What `POST /v1/auth/sign-in` answers: a session, or (with a second factor) a challenge for `/v1/auth/mfa/verify`. */
export type SignInResult =
  | {
      token: string;
      expiresAt: string;
      csrfToken: string;
      user: { id: string; email: string; name: string };
    }
  | { mfaRequired: true; challengeId: string; expiresAt: string };

/** The host app's handle on Roster: remote decisions, and local ones through an `Enforcer`. */
export class RosterClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly ttl: number;
  private readonly cache = new Map<string, { at: number; enforcer: Promise<Enforcer> }>();

  constructor(private readonly options: RosterClientOptions) {
    if (!options.apiKey && !options.sessionToken) throw new TypeError("RosterClient needs an apiKey or a sessionToken");
    this.base = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? fetch;
    this.ttl = options.cacheTtlMs ?? 30_000;
  }

  /**
   * Signs a person in (`POST /v1/auth/sign-in`); build a client with the returned `token` to act for them.
   * A 429 `rate_limited` rejects with a `RosterError` whose `retryAfterSeconds` says when to try again.
   */
  static async signIn(options: SignInOptions): Promise<SignInResult> {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (options.clientAddress) headers["x-forwarded-for"] = options.clientAddress;
    return send<SignInResult>(options.fetch ?? fetch, `${options.baseUrl.replace(/\/+$/, "")}/v1/auth/sign-in`, {
      method: "POST",
      headers,
      body: JSON.stringify({ email: options.email, password: options.password }),
    });
  }

  /** Asks Roster (`POST /v1/authorize`): always current, one round trip per decision. */
  async authorize(orgId: string, action: string, resource: ResourceRef): Promise<Decision> {
    return this.request<Decision>("POST", "/v1/authorize", { orgId, action, resource });
  }

  /** The org's policy and the caller as a policy subject (`GET /v1/orgs/{orgId}/policy`). */
  async policy(orgId: string): Promise<OrgPolicy> {
    return this.request<OrgPolicy>("GET", `/v1/orgs/${encodeURIComponent(orgId)}/policy`);
  }

  /**
   * A local decision-maker for the caller in `orgId`, cached for `cacheTtlMs`: a role change or suspension
   * reaches it within that time (use `authorize` where a decision must be current to the request).
   */
  async enforcer(orgId: string): Promise<Enforcer> {
    const hit = this.cache.get(orgId);
    if (hit && Date.now() - hit.at < this.ttl) return hit.enforcer;
    const enforcer = this.policy(orgId).then((p) => new Enforcer(p.policy, p.viewer.subject));
    this.cache.set(orgId, { at: Date.now(), enforcer });
    enforcer.catch(() => this.cache.delete(orgId));
    return enforcer;
  }

  /** Forgets cached enforcers (all orgs, or one), e.g. after the host app hears of a role change. */
  invalidate(orgId?: string): void {
    if (orgId === undefined) this.cache.clear();
    else this.cache.delete(orgId);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = this.options.apiKey ?? this.options.sessionToken;
    const headers: Record<string, string> = { authorization: `Bearer ${token ?? ""}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    return send<T>(
      this.fetchImpl,
      `${this.base}${path}`,
      {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
      this.options.timeoutMs,
    );
  }
}

/** Default time a request to Roster may take before it fails with a `RosterNetworkError` ("timeout"). */
export const DEFAULT_TIMEOUT_MS = 10_000;

async function send<T>(
  fetchImpl: typeof fetch,
  url: string,
  init: RequestInit,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<T> {
  let res: Response;
  try {
    res = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === "TimeoutError" || name === "AbortError") {
      throw new RosterNetworkError("timeout", `Roster did not answer within ${timeoutMs} ms.`, { cause: err });
    }
    throw new RosterNetworkError("network_error", `Roster could not be reached at ${new URL(url).origin}.`, {
      cause: err,
    });
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok)
    throw new RosterError(
      res.status,
      parsed,
      res.headers.get("x-request-id") ?? undefined,
      res.headers.get("retry-after"),
    );
  return parsed as T;
}
