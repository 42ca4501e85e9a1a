import { randomUUID } from "node:crypto";
import { monotonicFactory } from "ulid";

const next = monotonicFactory();

/** Opaque, time-sortable identifiers with a readable type prefix (`mem_01J…`). */
export function newId(
  prefix:
    | "usr"
    | "org"
    | "mem"
    | "ses"
    | "evt"
    | "inv"
    | "key"
    | "msg"
    | "chl"
    | "fac"
    | "rpt"
    | "job"
    | "whk"
    | "app"
    | "arv"
    | "ari",
): string {
  return `${prefix}_${next().toLowerCase()}`;
}

/**
 * A request's identifier (`req_…`, 32 hex digits). Random rather than time-sortable: drawn from the runtime's
 * buffered UUID source, it costs far less than a ULID's sixteen random draws on a path taken by every request.
 */
export function requestId(): string {
  return `req_${randomUUID().replaceAll("-", "")}`;
}
