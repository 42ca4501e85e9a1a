/** A failure answered by Roster, in the contract's shape (`{ error: { type, code, message, param?, requiredPermission? } }`). */
export class RosterError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | undefined;
  readonly requiredPermission: string | undefined;
  readonly requestId: string | undefined;
  /**
   * From the `Retry-After` header (a 429 `rate_limited`, or a 503): how many seconds to wait before asking
   * again; undefined when the answer carries no such header.
   */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, body: unknown, requestId?: string, retryAfter?: string | null) {
    const e =
      (typeof body === "object" && body !== null && "error" in body
        ? (body as { error: Record<string, unknown> }).error
        : {}) ?? {};
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    super(str(e.message) ?? `Roster answered ${status}`);
    this.name = "RosterError";
    this.status = status;
    this.type = str(e.type) ?? (status >= 500 ? "api_error" : "invalid_request_error");
    this.code = str(e.code) ?? "unknown";
    this.param = str(e.param);
    this.requiredPermission = str(e.requiredPermission);
    this.requestId = requestId ?? str(e.requestId);
    this.retryAfterSeconds = parseRetryAfter(retryAfter);
  }
}

/** `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3); both become whole seconds from now. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Thrown by `Enforcer.assert` when the policy says no; carries what a 403 in the contract carries, with the
 * server's code for the same refusal (`permission_denied`), so one branch handles local and remote refusals.
 */
export class ForbiddenError extends Error {
  readonly status = 403;
  readonly type = "authorization_error";
  readonly code = "permission_denied";
  readonly requiredPermission: string;

  constructor(reason: string, requiredPermission: string) {
    super(reason);
    this.name = "ForbiddenError";
    this.requiredPermission = requiredPermission;
  }
}

/** Roster could not be reached: the connection failed or the request timed out (`timeoutMs`). */
export class RosterNetworkError extends Error {
  readonly code: "timeout" | "network_error";
  constructor(code: "timeout" | "network_error", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RosterNetworkError";
    this.code = code;
  }
}

/** An access token that cannot be accepted: bad signature, expired, wrong issuer, audience or organization. */
export class TokenError extends Error {
  readonly status = 401;
  readonly type = "authentication_error";
  readonly code = "token_invalid";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TokenError";
  }
}
