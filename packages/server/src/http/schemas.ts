import { Type, type TNull, type TSchema, type TUnion } from "@sinclair/typebox";

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      type: Type.String({
        description:
          "invalid_request_error, authentication_error, authorization_error, not_found_error, conflict_error, rate_limit_error or api_error",
      }),
      code: Type.String({ description: "Stable lower_snake code; see docs/errors.md." }),
      message: Type.String(),
      param: Type.Optional(Type.String({ description: "The field at fault, for validation errors." })),
      requiredPermission: Type.Optional(Type.String()),
      requestId: Type.String(),
    }),
  },
  { $id: "Error", title: "Error" },
);

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Malformed request: a field is missing or has the wrong shape.",
  401: "No valid session or API key.",
  403: "Authenticated, but the policy does not allow this.",
  404: "Not found (also answered for another org's ids).",
  405: "Method not allowed on this path.",
  409: "Conflicts with the current state.",
  413: "Body too large.",
  415: "The body is not application/json.",
  422: "Well-formed but not acceptable.",
  429: "Too many attempts.",
  500: "Unexpected failure; no internals are exposed.",
  503: "Unavailable: this instance is shutting down or cannot reach the database; retry.",
};

/** The error responses of an operation, each pointing at the shared Error schema. 500 is always included. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of [...statuses, 500]) out[s] = Type.Ref(ErrorBody, { description: ERROR_DESCRIPTIONS[s] ?? "Error" });
  return out;
}

/** What a route is, as far as the errors it can answer before or around its handler go. */
export interface RouteKind {
  method: string | string[];
  /** config.auth; default "required". */
  auth?: "required" | "optional" | "none";
  /** config.org: the caller's membership is bound before the handler. */
  org?: boolean;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The error statuses every route of a kind can answer, whatever its handler does: 400 (a malformed parameter,
 * a NUL character anywhere), 500, 503 (while the instance shuts down); with a body, 413 and 415; signed-in
 * routes 401 and 403 (CSRF, the MFA gate, an API key where keys may not go); org routes 404 (not a member) and
 * 403 (deactivated).
 */
export function standardErrorStatuses(kind: RouteKind): number[] {
  const statuses = new Set([400, 500, 503]);
  const methods = Array.isArray(kind.method) ? kind.method : [kind.method];
  if (methods.some((m) => BODY_METHODS.has(m.toUpperCase()))) [413, 415].forEach((s) => statuses.add(s));
  if ((kind.auth ?? "required") !== "none") [401, 403].forEach((s) => statuses.add(s));
  if (kind.org) [403, 404].forEach((s) => statuses.add(s));
  return [...statuses];
}

/**
 * A route's responses with the standard error responses of its kind added (declared ones are kept), in status
 * order, so the document lists every status the route can answer without each route spelling them out.
 */
export function withStandardErrors(
  response: Record<string, unknown> | undefined,
  kind: RouteKind,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...errors(...standardErrorStatuses(kind)), ...(response ?? {}) };
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)));
}

/** ISO 8601 UTC on the wire; handlers may return Date objects, which the serializer formats. */
export const Timestamp = Type.Unsafe<Date | string>({
  type: "string",
  format: "date-time",
  examples: ["2026-11-22T10:15:00.000Z"],
});
/**
 * The schema, or null. A plain string, number, integer or boolean becomes `type: [type, "null"]` (JSON Schema and
 * OpenAPI 3.1): the response serializer then tests the value's type, where `anyOf` made it run a validator per
 * field and per row (about 2 µs each, most of a 200-row member page's serializing). Anything else (objects,
 * arrays, literal sets) stays `anyOf` with null.
 */
export function Nullable<T extends TSchema>(t: T): TUnion<[T, TNull]> {
  const schema = t as TSchema & { type?: unknown; const?: unknown; enum?: unknown; anyOf?: unknown };
  const primitive =
    typeof schema.type === "string" &&
    ["string", "number", "integer", "boolean"].includes(schema.type) &&
    schema.const === undefined &&
    schema.enum === undefined &&
    schema.anyOf === undefined;
  if (!primitive) return Type.Union([t, Type.Null()]);
  // Typed as the union it means (nothing reads these schemas with TypeBox's own checker: only Ajv and the
  // serializer, which take the JSON Schema as written).
  return Type.Unsafe({ ...t, type: [schema.type, "null"] }) as unknown as TUnion<[T, TNull]>;
}
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_-]+$" });
export const Email = Type.String({ format: "email", maxLength: 254 });
export const OrgParams = Type.Object({ orgId: Id });

export const page = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item), nextCursor: Nullable(Type.String()), total: Type.Optional(Type.Integer()) });

export const UserSummary = Type.Object({ id: Type.String(), email: Type.String(), name: Type.String() });
export const SessionGrant = Type.Object({
  token: Type.String({ description: "Use as `Authorization: Bearer <token>`; also set as the session cookie." }),
  expiresAt: Timestamp,
  csrfToken: Type.String({ description: "Send as `x-csrf-token` on cookie-authenticated changes." }),
  user: UserSummary,
});
