import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import canonicalize from "canonicalize";
import type { Config } from "../config.ts";

/** The private key and what identifies its public half. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** hex SHA-256 of the public key (SPKI DER): lets a checkpoint name the key that signed it. */
  keyId: string;
  publicKeyPem: string;
}

export interface CheckpointStatement {
  orgId: string;
  seq: number;
  hash: string;
}

function fromPrivate(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new Error("the audit signing key must be an Ed25519 private key");
  const publicKey = createPublicKey(privateKey);
  const der = publicKey.export({ type: "spki", format: "der" });
  return {
    privateKey,
    publicKey,
    keyId: createHash("sha256").update(der).digest("hex"),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

const cache = new WeakMap<Config["auditSigningKey"], SigningKey>();

/**
 * ROSTER_AUDIT_SIGNING_KEY (PEM) wins; otherwise the key file, created with mode 600 on first use. An in-memory
 * data dir (tests) gets a key that lives as long as its config object.
 */
export function loadSigningKey(config: Pick<Config, "auditSigningKey">): SigningKey {
  const where = config.auditSigningKey;
  const cached = cache.get(where);
  if (cached) return cached;
  let key: SigningKey;
  if (where.pem) {
    key = fromPrivate(createPrivateKey(where.pem));
  } else if (where.file && existsSync(where.file)) {
    key = fromPrivate(createPrivateKey(readFileSync(where.file, "utf8")));
  } else {
    const { privateKey } = generateKeyPairSync("ed25519");
    key = fromPrivate(privateKey);
    if (where.file) {
      mkdirSync(dirname(where.file), { recursive: true });
      // "wx": two instances starting at once must not overwrite each other's freshly written key.
      try {
        writeFileSync(where.file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
        chmodSync(where.file, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        key = fromPrivate(createPrivateKey(readFileSync(where.file, "utf8")));
      }
    }
  }
  cache.set(where, key);
  return key;
}

/** The exact bytes signed: RFC 8785 JSON of {orgId, seq, hash}. */
export function checkpointMessage(s: CheckpointStatement): string {
  return canonicalize({ orgId: s.orgId, seq: s.seq, hash: s.hash }) as string;
}

/** base64 Ed25519 signature of checkpointMessage. */
export function signCheckpoint(key: SigningKey, s: CheckpointStatement): string {
  return sign(null, Buffer.from(checkpointMessage(s), "utf8"), key.privateKey).toString("base64");
}

export function verifyCheckpoint(publicKey: KeyObject, s: CheckpointStatement, signature: string): boolean {
  try {
    return verify(null, Buffer.from(checkpointMessage(s), "utf8"), publicKey, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}
