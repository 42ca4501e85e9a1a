import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A 256-bit random secret with a readable prefix, e.g. `rs_…` for sessions. */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** High-entropy tokens need no slow hash: SHA-256 is enough to make a stolen table useless. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function hmac(key: string | Buffer, value: string): string {
  return createHmac("sha256", key).update(value).digest("base64url");
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
