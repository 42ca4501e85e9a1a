import { Secret, TOTP } from "otpauth";

/** RFC 6238 as every authenticator app implements it: HMAC-SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Codes of the previous and next step are accepted too, for clock drift and slow typing. */
export const TOTP_WINDOW = 1;
const SECRET_BYTES = 20;

/** A fresh 160-bit seed, base32 as authenticator apps expect it. */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

function totp(secretBase32: string, label = "", issuer = "", digits = TOTP_DIGITS): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: "SHA1",
    digits,
    period: TOTP_PERIOD_SECONDS,
    secret: Secret.fromBase32(secretBase32),
  });
}

export function otpauthUrl(secretBase32: string, account: string, issuer: string): string {
  return totp(secretBase32, account, issuer).toString();
}

/**
 * The code for the step containing `at`. Sign-in always uses {@link TOTP_DIGITS}; `digits: 8` exists for the
 * RFC 6238 Appendix B vectors, which are 8-digit.
 */
export function totpCode(secretBase32: string, at: Date, options: { digits?: 6 | 8 } = {}): string {
  return totp(secretBase32, "", "", options.digits ?? TOTP_DIGITS).generate({ timestamp: at.getTime() });
}

/** The RFC 6238 time step (T) containing `at`. */
export function timeStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * The time step whose code `code` is, within ±{@link TOTP_WINDOW} of `at`, or null. Callers must still make
 * sure the step was not used before (a code is single use).
 */
export function matchTotp(secretBase32: string, code: string, at: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totp(secretBase32).validate({ token: code, timestamp: at.getTime(), window: TOTP_WINDOW });
  return delta === null ? null : timeStep(at) + delta;
}
