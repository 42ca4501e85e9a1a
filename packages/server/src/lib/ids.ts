import { monotonicFactory } from "ulid";

const next = monotonicFactory();

/** Opaque, time-sortable identifiers with a readable type prefix (`mem_01J…`). */
export function newId(
  prefix: "usr" | "org" | "mem" | "ses" | "evt" | "inv" | "key" | "msg" | "chl" | "fac" | "rpt" | "job" | "arv" | "ari",
): string {
  return `${prefix}_${next().toLowerCase()}`;
}
