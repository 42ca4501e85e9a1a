import { ERROR_CODES, type ErrorCode } from "../src/http/errors.ts";

/** What a response looked like, from `app.inject()` or a real socket. */
export interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

const ERROR_FIELDS = new Set(["type", "code", "message", "param", "requiredPermission", "requestId"]);

/**
 * The contract's error shape, checked strictly: `{ error: { type, code, message, param?, requiredPermission?,
 * requestId } }` and nothing else, a registered code whose status and type match the answer, and the request id
 * also sent as `x-request-id`. Returns what is wrong (empty when the body is in shape).
 */
export function errorShapeProblems(res: Answer): string[] {
  const problems: string[] = [];
  const header = res.headers["content-type"];
  const contentType = typeof header === "string" ? header : "";
  if (!contentType.startsWith("application/json")) problems.push(`content-type ${contentType || "missing"}`);
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return [...problems, `body is not JSON: ${res.body.slice(0, 120)}`];
  }
  const top = body as Record<string, unknown> | null;
  if (!top || typeof top !== "object" || Object.keys(top).join() !== "error")
    return [...problems, `not { error }: ${res.body.slice(0, 160)}`];
  const e = top.error as Record<string, unknown>;
  for (const k of Object.keys(e)) if (!ERROR_FIELDS.has(k)) problems.push(`unexpected field error.${k}`);
  const def = ERROR_CODES[e.code as ErrorCode] as { status: number; type: string } | undefined;
  if (!def) problems.push(`unregistered code ${String(e.code)}`);
  else {
    if (def.status !== res.statusCode)
      problems.push(`code ${String(e.code)} is ${def.status}, answered ${res.statusCode}`);
    if (def.type !== e.type) problems.push(`code ${String(e.code)} has type ${def.type}, answered ${String(e.type)}`);
  }
  if (typeof e.message !== "string" || e.message.length < 5) problems.push("no message");
  if (typeof e.requestId !== "string" || !/^req_/.test(e.requestId)) problems.push("no requestId");
  else if (res.headers["x-request-id"] !== e.requestId) problems.push("x-request-id differs from error.requestId");
  if (e.param !== undefined && typeof e.param !== "string") problems.push("param is not a string");
  return problems;
}

/**
 * The response guard: an answer must use a status its operation declares in /openapi.json, never a 5xx the
 * caller could have caused, and every error must be in the contract's shape.
 */
export function contractProblems(res: Answer, declared: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!declared.has(String(res.statusCode))) problems.push(`status ${res.statusCode} is not declared`);
  if (res.statusCode >= 500) problems.push(`server error ${res.statusCode}: ${res.body.slice(0, 160)}`);
  if (res.statusCode >= 400) problems.push(...errorShapeProblems(res));
  return problems;
}
