import type { Decision, Policy, ResourceRef, Subject } from "@roster/policy";
import { Enforcer } from "./enforcer.ts";
import { RosterError, RosterNetworkError } from "./errors.ts";
import { EventStream, type RosterEvent } from "./events.ts";

/**
 * Events after which an org's cached enforcers may be wrong: membership, role, store, module and department
 * changes (`team.*`), custom roles (`role.*`), security settings, the organization (its policy), API keys.
 */
const DROPPING_PREFIXES = ["team.", "role.", "security.", "organization.", "api_key."];

export interface SubscribeOptions {
  /**
   * The credential the stream is opened with, when the client's own may not read the org's events (the
   * stream needs `audit_log:read`): typically an integration API key of the org. Default: the client's own.
   */
  apiKey?: string;
  /** Every event of the stream, after the client has dropped what it makes stale. */
  onEvent?: (event: RosterEvent) => void;
  /** The stream opened (true) or was lost (false). */
  onStateChange?: (connected: boolean) => void;
}

export interface Subscription {
  /** True while the stream is open: cached enforcers are then kept until an event drops them. */
  readonly connected: boolean;
  close(): void;
}

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
  private readonly live = new Map<
    string,
    { stream: EventStream; connectedAt: number | null; downTimer: ReturnType<typeof setTimeout> | undefined }
  >();

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

  /**
   * Asks Roster (`POST /v1/authorize`): always current, one round trip per decision. With `subject`, asks about
   * that member instead of the caller (an API key holding `authorize:any_member`).
   */
  async authorize(
    orgId: string,
    action: string,
    resource: ResourceRef,
    subject?: { userId: string },
  ): Promise<Decision> {
    return this.request<Decision>("POST", "/v1/authorize", {
      orgId,
      action,
      resource,
      ...(subject ? { subject } : {}),
    });
  }

  /** The org's policy and the caller as a policy subject (`GET /v1/orgs/{orgId}/policy`). */
  async policy(orgId: string): Promise<OrgPolicy> {
    return this.request<OrgPolicy>("GET", `/v1/orgs/${encodeURIComponent(orgId)}/policy`);
  }

  /**
   * A local decision-maker for the caller in `orgId`. Without a subscription it is cached for `cacheTtlMs`: a
   * role change or suspension reaches it within that time. With `subscribe(orgId)` connected, it is kept until
   * an event about the org's members, roles or settings arrives, and then dropped at once: the enforcer already
   * handed out refuses everything from then on, and the next call fetches a current one.
   *
   * @example
   * const client = new RosterClient({ baseUrl, apiKey });
   * client.subscribe(orgId);
   * const enforcer = await client.enforcer(orgId);
   * if (!enforcer.can("void", { type: "invoice" }).allowed) throw new Error("not allowed");
   */
  async enforcer(orgId: string): Promise<Enforcer> {
    const hit = this.cache.get(orgId);
    const live = this.live.get(orgId);
    const fresh = hit && live?.connectedAt != null && hit.at >= live.connectedAt;
    if (hit && (fresh || Date.now() - hit.at < this.ttl)) return hit.enforcer;
    const enforcer = this.policy(orgId).then((p) => new Enforcer(p.policy, p.viewer.subject));
    this.cache.set(orgId, { at: Date.now(), enforcer });
    enforcer.catch(() => this.cache.delete(orgId));
    return enforcer;
  }

  /** Forgets cached enforcers (all orgs, or one), e.g. after the host app hears of a role change; they refuse from now on. */
  invalidate(orgId?: string, reason = "invalidated by the host app"): void {
    for (const [org, entry] of this.cache) {
      if (orgId !== undefined && org !== orgId) continue;
      this.cache.delete(org);
      entry.enforcer.then((e) => e.drop(reason)).catch(() => undefined);
    }
  }

  /**
   * Listens to the org's live events (`GET /v1/orgs/{orgId}/events/stream`) and drops the org's cached
   * enforcers on every membership, role, store, module, department, custom-role and security change. While
   * the stream is down (it reconnects by itself and replays what it missed), enforcers fall back to the TTL:
   * once the stream has been down for `cacheTtlMs`, every enforcer of the org is dropped, so a decision is
   * never taken from a cache nobody vouches for.
   *
   * @example
   * const sub = client.subscribe(orgId, { apiKey: process.env.ROSTER_EVENTS_KEY });
   * // … later
   * sub.close();
   */
  subscribe(orgId: string, options: SubscribeOptions = {}): Subscription {
    this.live.get(orgId)?.stream.close();
    const token = options.apiKey ?? this.options.apiKey ?? this.options.sessionToken ?? "";
    const url = `${this.base}/v1/orgs/${encodeURIComponent(orgId)}/events/stream`;
    const entry: {
      stream: EventStream;
      connectedAt: number | null;
      downTimer: ReturnType<typeof setTimeout> | undefined;
    } = {
      stream: new EventStream(url, token, this.fetchImpl, {
        onEvent: (event) => {
          if (DROPPING_PREFIXES.some((p) => event.type.startsWith(p)))
            this.invalidate(orgId, `${event.type} at seq ${event.data.seq}`);
          options.onEvent?.(event);
        },
        onState: (connected) => {
          clearTimeout(entry.downTimer);
          entry.downTimer = undefined;
          if (connected) entry.connectedAt = Date.now();
          else {
            entry.connectedAt = null;
            entry.downTimer = setTimeout(
              () => this.invalidate(orgId, "no news from Roster for longer than the cache TTL"),
              this.ttl,
            );
            // A timer must not keep a host app's process alive on its own.
            (entry.downTimer as { unref?: () => void }).unref?.();
          }
          options.onStateChange?.(connected);
        },
      }),
      connectedAt: null,
      downTimer: undefined,
    };
    this.live.set(orgId, entry);
    entry.stream.start();
    const live = this.live;
    return {
      get connected() {
        return entry.stream.connected;
      },
      close() {
        entry.stream.close();
        clearTimeout(entry.downTimer);
        if (live.get(orgId) === entry) live.delete(orgId);
      },
    };
  }

  /** Closes every subscription. */
  close(): void {
    for (const entry of this.live.values()) {
      entry.stream.close();
      clearTimeout(entry.downTimer);
    }
    this.live.clear();
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
