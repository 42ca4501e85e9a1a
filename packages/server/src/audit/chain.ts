import { hash as oneShotHash } from "node:crypto";
import canonicalize from "canonicalize";

/** The hash that precedes seq 1 of every org's chain. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields that the hash covers, exactly as exported. */
export interface ChainedEvent {
  orgId: string;
  seq: number;
  id: string;
  action: string;
  actorId: string | null;
  targetId: string | null;
  entityType: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
}

/**
 * canonical(event) is RFC 8785 JSON (keys sorted, no whitespace) of the fields above;
 * hash = hex(SHA-256(utf8(prevHash + canonical(event)))). docs/audit.md documents this for auditors.
 *
 * The top-level keys are fixed, so they are written in their RFC 8785 order directly (verification of a
 * million events spends most of its time here); only `before`/`after` go through the general canonicalizer.
 * A property test checks that this equals canonicalize() of the whole object.
 */
export function canonicalEvent(e: ChainedEvent): string {
  if (!Number.isSafeInteger(e.seq)) throw new Error("event seq must be a safe integer");
  const [head, tail] = canonicalAround(e);
  return `${head}${e.seq}${tail}`;
}

/**
 * canonical(event) cut where its `seq` goes: `head + seq + tail`. The appender hands both halves to the
 * database, which places the seq it allocates under the head-row lock and hashes there, in one statement.
 * `payload` is before/after already in canonical form (null as null), when the caller has it.
 */
export function canonicalAround(
  e: Omit<ChainedEvent, "seq">,
  payload: { before: string | null; after: string | null } = {
    before: canonicalOrNull(e.before),
    after: canonicalOrNull(e.after),
  },
): [string, string] {
  const str = (v: string | null) => (v === null ? "null" : JSON.stringify(v));
  return [
    `{"action":${JSON.stringify(e.action)},"actorId":${str(e.actorId)},"after":${payload.after ?? "null"},"before":${payload.before ?? "null"}` +
      `,"createdAt":${JSON.stringify(e.createdAt)},"entityType":${JSON.stringify(e.entityType)},"id":${JSON.stringify(e.id)}` +
      `,"ip":${str(e.ip)},"orgId":${JSON.stringify(e.orgId)},"seq":`,
    `,"targetId":${str(e.targetId)},"userAgent":${str(e.userAgent)}}`,
  ];
}

/** A before/after object in canonical form, as the table stores it (null stays null). */
export const canonicalOrNull = (v: Record<string, unknown> | null): string | null =>
  v === null ? null : canonicalJson(v);

/**
 * A stored before/after text as the object it spells; undefined when it is not a JSON object (only an edit by
 * hand gives that: the CHECK constraint keeps it JSON, and record() writes objects only).
 */
export function parseEventObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * RFC 8785 for values that came from JSON (what storable() and JSON.parse give): keys in UTF-16 code-unit order
 * (the default sort), strings and finite numbers as JSON.stringify writes them (ECMAScript Number::toString).
 * Written out because it is about twice as fast as the general package on small objects; a property test
 * checks it against canonicalize() on arbitrary JSON.
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error("event cannot be canonicalized");
    const s = JSON.stringify(v) as string | undefined;
    if (s === undefined) throw new Error("event cannot be canonicalized");
    return s;
  }
  if (Array.isArray(v)) {
    let out = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ",";
      const x: unknown = v[i];
      out += x === undefined ? "null" : canonicalJson(x);
    }
    return out + "]";
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  let out = "{";
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    if (!first) out += ",";
    first = false;
    out += JSON.stringify(k) + ":" + canonicalJson(x);
  }
  return out + "}";
}

/** The general form, kept as the reference the fast path is tested against. */
export function canonicalEventReference(e: ChainedEvent): string {
  const c = canonicalize({
    orgId: e.orgId,
    seq: e.seq,
    id: e.id,
    action: e.action,
    actorId: e.actorId,
    targetId: e.targetId,
    entityType: e.entityType,
    before: e.before,
    after: e.after,
    ip: e.ip,
    userAgent: e.userAgent,
    createdAt: e.createdAt,
  });
  if (c === undefined) throw new Error("event cannot be canonicalized");
  return c;
}

/** hex(SHA-256(utf8(prevHash + canonical))) for a canonical form already written out. */
export function hashCanonical(prevHash: string, canonical: string): string {
  // One-shot hash (strings are hashed as UTF-8): no Hash object per event.
  return oneShotHash("sha256", prevHash + canonical, "hex");
}

export function chainHash(prevHash: string, e: ChainedEvent): string {
  return hashCanonical(prevHash, canonicalEvent(e));
}

/**
 * What PostgreSQL will give back for a value: JSON-compatible, no NUL characters (text and jsonb reject them),
 * no lone surrogates (the driver would store U+FFFD). The hash must cover exactly what is stored, so record()
 * normalizes first.
 */
export function storable<T>(value: T): T {
  if (value === null || value === undefined) return value;
  return deepClean(JSON.parse(JSON.stringify(value)) as unknown) as T;
}

// NUL is exactly what has to be matched here: PostgreSQL text and jsonb reject it.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const cleanString = (s: string) => s.replace(UNSTORABLE, "\uFFFD");

function deepClean(v: unknown): unknown {
  if (typeof v === "string") return cleanString(v);
  if (Array.isArray(v)) return v.map(deepClean);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[cleanString(k)] = deepClean(x);
    return out;
  }
  return v;
}
