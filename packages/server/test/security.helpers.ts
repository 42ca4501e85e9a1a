import { createHmac } from "node:crypto";
import { expect } from "vitest";
import { bearer, json, type Session, type TestApp } from "./helpers.ts";

/*
 * An independent RFC 6238 / RFC 4226 implementation, written from the RFCs with node:crypto only, so the
 * tests do not check the OTP library against itself.
 */
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32Decode(input: string): Buffer {
  const clean = input.replace(/=+$/, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const idx = BASE32.indexOf(ch);
    if (idx < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function base32Encode(data: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function referenceTotp(key: Buffer, unixSeconds: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return (binary % 10 ** digits).toString().padStart(digits, "0");
}

/** A code from the reference implementation for `at` shifted by `steps` time steps. */
export const codeAt = (secret: string, at: Date, steps = 0) =>
  referenceTotp(base32Decode(secret), at.getTime() / 1000 + steps * 30);

/** Enrols TOTP over HTTP with a code of the reference implementation; moves the clock past the step it used. */
export async function enrolTotp(t: TestApp, s: Session): Promise<{ secret: string; recoveryCodes: string[] }> {
  const start = await t.app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: bearer(s) });
  expect(start.statusCode).toBe(200);
  const { secret } = json<{ secret: string }>(start);
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/me/mfa/totp/confirm",
    headers: bearer(s),
    payload: { code: codeAt(secret, t.clock.now()) },
  });
  expect(res.statusCode).toBe(200);
  t.clock.advance(30_000);
  return { secret, recoveryCodes: json<{ recoveryCodes: string[] }>(res).recoveryCodes };
}
