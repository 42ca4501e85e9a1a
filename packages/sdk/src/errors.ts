/** A failure answered by Roster, in the contract's shape (`{ error: { type, code, message, param?, requiredPermission? } }`). */
export class RosterError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly param: string | undefined;
  readonly requiredPermission: string | undefined;
  readonly requestId: string | undefined;

  constructor(status: number, body: unknown, requestId?: string) {
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
    this.requestId = requestId;
  }
}

/** Thrown by `Enforcer.assert` when the policy says no; carries what a 403 in the contract carries. */
export class ForbiddenError extends Error {
  readonly status = 403;
  readonly type = "authorization_error";
  readonly code = "forbidden";
  readonly requiredPermission: string;

  constructor(reason: string, requiredPermission: string) {
    super(reason);
    this.name = "ForbiddenError";
    this.requiredPermission = requiredPermission;
  }
}
