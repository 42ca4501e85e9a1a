/**
 * Every failure the API can answer, in one registry. The HTTP error handler turns an AppError into the
 * contract's `{ error: { type, code, message, ... } }`; anything else becomes a bare 500.
 */
export const ERROR_TYPES = {
  invalid_request_error: [400, 405, 408, 413, 415, 422, 431],
  authentication_error: [401],
  authorization_error: [403],
  not_found_error: [404],
  conflict_error: [409],
  rate_limit_error: [429],
  api_error: [500, 503],
} as const;
export type ErrorType = keyof typeof ERROR_TYPES;

export const ERROR_CODES = {
  // 400 / 413 / 415 / 422
  validation_failed: {
    status: 400,
    type: "invalid_request_error",
    doc: "A parameter is missing or malformed; `param` names it.",
  },
  invalid_json: { status: 400, type: "invalid_request_error", doc: "The body is not valid JSON." },
  body_too_large: { status: 413, type: "invalid_request_error", doc: "The body exceeds the size limit." },
  unsupported_media_type: { status: 415, type: "invalid_request_error", doc: "The body must be application/json." },
  method_not_allowed: { status: 405, type: "invalid_request_error", doc: "The path exists but not with this method." },
  request_timeout: {
    status: 408,
    type: "invalid_request_error",
    doc: "The request line and headers did not arrive in time; the connection is closed.",
  },
  headers_too_large: {
    status: 431,
    type: "invalid_request_error",
    doc: "The request line (a very long path) and headers exceed the size limit; the connection is closed.",
  },
  password_too_short: { status: 422, type: "invalid_request_error", doc: "Passwords need at least 8 characters." },
  password_too_long: { status: 422, type: "invalid_request_error", doc: "Passwords may have at most 128 characters." },
  password_too_common: {
    status: 422,
    type: "invalid_request_error",
    doc: "The password is on a list of commonly used passwords.",
  },
  unknown_policy: { status: 422, type: "invalid_request_error", doc: "No policy preset has this name." },
  unknown_role: { status: 422, type: "invalid_request_error", doc: "The policy has no such role." },
  invalid_value: {
    status: 422,
    type: "invalid_request_error",
    doc: "A value is well-formed but not acceptable here; `param` names it.",
  },
  sign_up_disabled: { status: 403, type: "authorization_error", doc: "This installation does not allow self sign-up." },
  mfa_code_rejected: {
    status: 422,
    type: "invalid_request_error",
    doc: "The TOTP or recovery code is wrong or already used (enrolment, factor removal).",
  },
  current_password_incorrect: {
    status: 422,
    type: "invalid_request_error",
    doc: "The current password given to confirm a change is wrong.",
  },
  reset_token_invalid: {
    status: 400,
    type: "invalid_request_error",
    doc: "The password reset token is unknown, used or expired.",
  },
  // 401
  authentication_required: {
    status: 401,
    type: "authentication_error",
    doc: "No valid session or API key was presented.",
  },
  invalid_credentials: {
    status: 401,
    type: "authentication_error",
    doc: "Email or password is wrong (the same answer for both).",
  },
  session_expired: {
    status: 401,
    type: "authentication_error",
    doc: "The session ended (signed out, revoked, idle or too old).",
  },
  invalid_mfa_code: {
    status: 401,
    type: "authentication_error",
    doc: "The second-factor code at sign-in is wrong or already used.",
  },
  mfa_challenge_invalid: {
    status: 401,
    type: "authentication_error",
    doc: "The MFA sign-in step is unknown, expired, completed or out of attempts; sign in again.",
  },
  api_key_invalid: {
    status: 401,
    type: "authentication_error",
    doc: "The API key is unknown, revoked, rotated away, or its member was removed.",
  },
  // 403
  invitation_email_mismatch: {
    status: 403,
    type: "authorization_error",
    doc: "The invitation is for another email than the signed-in account's.",
  },
  permission_denied: {
    status: 403,
    type: "authorization_error",
    doc: "The policy does not let the caller do this; `requiredPermission` says what is needed.",
  },
  csrf_token_invalid: {
    status: 403,
    type: "authorization_error",
    doc: "A cookie-authenticated change needs the `x-csrf-token` header.",
  },
  member_inactive: { status: 403, type: "authorization_error", doc: "The caller's membership is deactivated." },
  mfa_enrollment_required: {
    status: 403,
    type: "authorization_error",
    doc: "The org requires MFA and the caller has no factor yet.",
  },
  mfa_required: {
    status: 403,
    type: "authorization_error",
    doc: "The org requires MFA and this session was signed in without the user's factor (before they set it up): sign in again with it.",
  },
  api_key_paused: {
    status: 403,
    type: "authorization_error",
    doc: "The key's member is deactivated and the org pauses such keys (`suspendedMemberApiKeys: paused`).",
  },
  api_key_not_allowed: {
    status: 403,
    type: "authorization_error",
    doc: "API keys work only on their own org's routes and POST /v1/authorize, and cannot manage keys or security settings.",
  },
  // 404
  not_found: { status: 404, type: "not_found_error", doc: "No such resource (also for another org's ids)." },
  route_not_found: { status: 404, type: "not_found_error", doc: "No such endpoint." },
  // 409
  conflict: { status: 409, type: "conflict_error", doc: "The change conflicts with the current state." },
  email_taken: { status: 409, type: "conflict_error", doc: "An account with this email already exists." },
  mfa_already_enrolled: {
    status: 409,
    type: "conflict_error",
    doc: "A confirmed TOTP factor exists; remove it before enrolling again.",
  },
  last_top_role: {
    status: 409,
    type: "conflict_error",
    doc: "The last member holding the top role cannot be removed, demoted or deactivated.",
  },
  already_member: { status: 409, type: "conflict_error", doc: "The address already belongs to a member of this org." },
  already_invited: {
    status: 409,
    type: "conflict_error",
    doc: "The address has a pending invitation; resend it instead.",
  },
  invitation_not_pending: {
    status: 409,
    type: "conflict_error",
    doc: "The invitation was already accepted, revoked, or has expired.",
  },
  restore_window_passed: {
    status: 409,
    type: "conflict_error",
    doc: "Removed members can be restored for 30 days only.",
  },
  // 429
  rate_limited: { status: 429, type: "rate_limit_error", doc: "Too many attempts; retry after `Retry-After` seconds." },
  // 500
  internal_error: {
    status: 500,
    type: "api_error",
    doc: "Something failed on our side; the request id helps support find it.",
  },
  unavailable: { status: 503, type: "api_error", doc: "A dependency (the database) is not reachable." },
  // custom roles (docs/decisions/0011-custom-roles.md)
  role_in_use: {
    status: 409,
    type: "conflict_error",
    doc: "The custom role is held by a member (active, inactive or removed but restorable) or a pending invitation.",
  },
  role_key_taken: {
    status: 409,
    type: "conflict_error",
    doc: "The organization or its preset already has a role with this key.",
  },
  role_changed: {
    status: 409,
    type: "conflict_error",
    doc: "The custom role was changed or deleted while this request ran; read it again and retry.",
  },
  unknown_permission: {
    status: 422,
    type: "invalid_request_error",
    doc: "A permission is not part of the preset's vocabulary (resource, action or scope); `param` is `permissions`.",
  },
  top_role_power: {
    status: 422,
    type: "invalid_request_error",
    doc: "A custom role cannot hold the top role's powers (`owner:promote`, `owner:demote`, `organization:delete`).",
  },
  rank_not_below_actor: {
    status: 403,
    type: "authorization_error",
    doc: "A custom role's rank must be above 0 and strictly below the rank of the role defining it.",
  },
  role_outranks_actor: {
    status: 403,
    type: "authorization_error",
    doc: "The custom role is ranked at or above the caller's role, so the caller cannot change or delete it.",
  },
  role_built_in: {
    status: 403,
    type: "authorization_error",
    doc: "The preset's roles cannot be changed or deleted; only the organization's own roles can.",
  },
  webhook_url_refused: {
    status: 422,
    type: "invalid_request_error",
    doc: "The webhook URL is not https, carries credentials, or points at a private, loopback, link-local or metadata address (allowed only with ROSTER_WEBHOOK_ALLOW_PRIVATE=true).",
  },
  access_review_completed: {
    status: 409,
    type: "conflict_error",
    doc: "The access review is completed (its decisions were applied and it is sealed); it takes no more decisions.",
  },
} as const satisfies Record<string, { status: number; type: ErrorType; doc: string }>;
export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorExtras {
  param?: string;
  requiredPermission?: string;
  retryAfterSeconds?: number;
}

export class AppError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: ErrorCode;
  readonly extras: ErrorExtras;
  /** `options.cause`: the error this one stands for; it is logged, and never sent to the caller. */
  constructor(code: ErrorCode, message: string, extras: ErrorExtras = {}, options?: { cause?: unknown }) {
    super(message, options);
    const def = ERROR_CODES[code];
    this.status = def.status;
    this.type = def.type;
    this.code = code;
    this.extras = extras;
  }
}

export const notFound = (what = "Resource") => new AppError("not_found", `${what} not found.`);
export const invalid = (param: string, message: string) => new AppError("invalid_value", message, { param });
