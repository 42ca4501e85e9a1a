import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Secrets at rest (TOTP seeds) are sealed with AES-256-GCM. The key is derived from ROSTER_SECRET_KEY with
 * HKDF so that the same installation key can also sign CSRF tokens without the two uses ever sharing a key.
 * The associated data binds a ciphertext to its row: a sealed value copied into another row fails to open.
 */
const VERSION = "v1";
const IV_BYTES = 12;
const TAG_BYTES = 16;

const derived = new WeakMap<Buffer, Buffer>();

function encryptionKey(secretKey: Buffer): Buffer {
  let key = derived.get(secretKey);
  if (!key) {
    key = Buffer.from(hkdfSync("sha256", secretKey, Buffer.alloc(0), "roster:secrets-at-rest:v1", 32));
    derived.set(secretKey, key);
  }
  return key;
}

/** Seals `plaintext` as `v1.<iv>.<tag>.<ciphertext>` (base64url parts). */
export function seal(secretKey: Buffer, plaintext: string, associatedData: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", encryptionKey(secretKey), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [
    VERSION,
    iv.toString("base64url"),
    cipher.getAuthTag().toString("base64url"),
    ciphertext.toString("base64url"),
  ].join(".");
}

/**
 * Opens a value sealed by {@link seal}; throws when no key fits, the associated data or any byte differs.
 * Several keys: the current one first, then those of before a rotation.
 */
export function open(secretKey: Buffer | readonly Buffer[], sealed: string, associatedData: string): string {
  if (!Buffer.isBuffer(secretKey)) {
    const keys = secretKey;
    for (let i = 0; i < keys.length; i++) {
      try {
        return open(keys[i]!, sealed, associatedData);
      } catch (err) {
        if (i === keys.length - 1) throw err;
      }
    }
    throw new Error("no key to open a sealed value with");
  }
  const parts = sealed.split(".");
  if (parts.length !== 4 || parts[0] !== VERSION) throw new Error("sealed value has an unknown format");
  const [, iv, tag, ciphertext] = parts as [string, string, string, string];
  const decipher = createDecipheriv("aes-256-gcm", encryptionKey(secretKey), Buffer.from(iv, "base64url"), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
}
