import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type ApiError = components["schemas"]["Error"]["error"];

/** A failed API call, carrying the contract's error body so pages can show its message and code. */
export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  readonly requiredPermission: string | undefined;
  constructor(status: number, body: ApiError | undefined) {
    super(body?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code = body?.code ?? "unknown";
    this.requiredPermission = body?.requiredPermission;
  }
}

export function readCookie(name: string): string | undefined {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(`${name}=`));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : undefined;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** Cookie sessions need the CSRF token (a readable cookie set at sign-in) on every change. */
const csrf: Middleware = {
  onRequest({ request }) {
    if (SAFE.has(request.method)) return request;
    const token = readCookie("roster_csrf");
    if (token) request.headers.set("x-csrf-token", token);
    return request;
  },
};

/**
 * The typed client for every API call the console makes. It reads JSON answers only (files such as exports and the
 * XLSX report go through `download`), so an operation that can also answer a file is typed by its JSON body.
 */
export const api = createClient<paths, "application/json">({
  baseUrl: window.location.origin,
  credentials: "same-origin",
});
api.use(csrf);

/** Unwraps an openapi-fetch result: the data, or an ApiFailure with the server's message. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    const body = (result.error as { error?: ApiError } | undefined)?.error;
    throw new ApiFailure(result.response.status, body);
  }
  return result.data as T;
}

/** Downloads a file answered by a GET endpoint (exports, reports) with the browser's own save dialog. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) {
    const body = (await res.json().catch(() => undefined)) as { error?: ApiError } | undefined;
    throw new ApiFailure(res.status, body?.error);
  }
  const disposition = res.headers.get("content-disposition") ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
