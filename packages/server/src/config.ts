import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { join } from "node:path";

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  publicUrl: string;
  smtpUrl: string | undefined;
  /** 32 bytes: encrypts secrets at rest and keys the CSRF HMAC. */
  secretKey: Buffer;
  /** Keys in use before a rotation (ROSTER_SECRET_KEY_PREVIOUS): still open old secrets until `roster reseal-secrets`. */
  previousSecretKeys: Buffer[];
  allowSignUp: boolean;
  demo: boolean;
  logLevel: string;
  /**
   * Whose `X-Forwarded-For` to believe for the client address: `true` every hop (Roster only reachable through
   * your proxy), or a list of addresses and CIDR ranges (your proxy, your host app's backend).
   */
  trustProxy: boolean | string[];
  session: { idleMinutes: number; maxHours: number; cookieSecure: boolean };
  signInLimits: { perAccount: { max: number; windowSeconds: number }; perIp: { max: number; windowSeconds: number } };
  /** argon2id cost. OWASP's minimum is m=19 MiB, t=2, p=1; tests may cheapen it explicitly. */
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  bodyLimitBytes: number;
  /**
   * Ed25519 key that signs audit checkpoints, kept outside the database: ROSTER_AUDIT_SIGNING_KEY (PEM) or,
   * when absent, a file generated on first use (mode 600). No file for an in-memory data dir: a per-process key.
   */
  auditSigningKey: { pem: string | undefined; file: string | undefined };
  /**
   * ROSTER_WEBHOOK_ALLOW_PRIVATE: webhooks may go to http:// and to loopback, private and link-local addresses
   * (tests, local development). Default false: https and public addresses only.
   */
  webhookAllowPrivate: boolean;
  /**
   * ROSTER_CORS_ORIGINS: browser origins (`https://app.example.com`, comma-separated) allowed to call the API and
   * the OpenID endpoints from their pages. Empty (the default): no cross-origin calls but a public OIDC client's
   * own redirect origins at the token endpoint.
   */
  corsOrigins: string[];
}

const bool = (v: string | undefined, dflt: boolean) =>
  v === undefined || v === "" ? dflt : !/^(0|false|no|off)$/i.test(v);
const int = (v: string | undefined, dflt: number) => {
  const n = v === undefined || v === "" ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : dflt;
};

/** ROSTER_TRUST_PROXY: true/false, or comma-separated addresses and CIDR ranges (`10.0.0.5,10.1.0.0/16`). */
function trustedProxies(v: string | undefined): boolean | string[] {
  if (v === undefined || /^\s*$/.test(v) || /^(1|true|yes|on|0|false|no|off)$/i.test(v.trim()))
    return bool(v?.trim(), false);
  const list = v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of list) {
    const [address, bits, extra] = entry.split("/");
    const family = isIP(address ?? "");
    const maxBits = family === 6 ? 128 : 32;
    const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (!family || !okBits || extra !== undefined)
      throw new Error(`ROSTER_TRUST_PROXY: "${entry}" is not an IP address or CIDR range (or use true / false).`);
  }
  return list;
}

/** Reads ROSTER_SECRET_KEY (64 hex chars or 32 bytes base64), or on the embedded default creates one in the data dir. */
function parseSecretKey(raw: string, name: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, "hex") : Buffer.from(raw, "base64");
  if (key.length !== 32) throw new Error(`${name} must be 32 bytes (64 hex characters or base64).`);
  return key;
}

/** ROSTER_SECRET_KEY_PREVIOUS: comma-separated keys that were ROSTER_SECRET_KEY before a rotation. */
function loadPreviousKeys(env: NodeJS.ProcessEnv): Buffer[] {
  return (env.ROSTER_SECRET_KEY_PREVIOUS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((k) => parseSecretKey(k, "ROSTER_SECRET_KEY_PREVIOUS"));
}

function loadSecretKey(env: NodeJS.ProcessEnv, dataDir: string, embedded: boolean): Buffer {
  const raw = env.ROSTER_SECRET_KEY;
  if (raw) return parseSecretKey(raw, "ROSTER_SECRET_KEY");
  if (!embedded) throw new Error("ROSTER_SECRET_KEY is required when DATABASE_URL is set.");
  const file = join(dataDir, "secret.key");
  if (existsSync(file)) return Buffer.from(readFileSync(file, "utf8").trim(), "hex");
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString("hex") + "\n", { mode: 0o600 });
  return key;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = int(env.PORT, 4000);
  const host = env.HOST || "127.0.0.1";
  const dataDir = env.ROSTER_DATA_DIR || "./data";
  const databaseUrl = env.DATABASE_URL || undefined;
  const publicUrl = (env.ROSTER_PUBLIC_URL || `http://${host === "0.0.0.0" ? "localhost" : host}:${port}`).replace(
    /\/$/,
    "",
  );
  return {
    port,
    host,
    databaseUrl,
    dataDir,
    publicUrl,
    smtpUrl: env.SMTP_URL || undefined,
    secretKey: loadSecretKey(env, dataDir, !databaseUrl),
    previousSecretKeys: loadPreviousKeys(env),
    allowSignUp: bool(env.ROSTER_ALLOW_SIGN_UP, true),
    demo: bool(env.ROSTER_DEMO, false),
    logLevel: env.LOG_LEVEL || "info",
    trustProxy: trustedProxies(env.ROSTER_TRUST_PROXY),
    session: {
      idleMinutes: int(env.ROSTER_SESSION_IDLE_MINUTES, 24 * 60),
      maxHours: int(env.ROSTER_SESSION_MAX_HOURS, 7 * 24),
      cookieSecure: publicUrl.startsWith("https://"),
    },
    signInLimits: {
      perAccount: { max: 10, windowSeconds: 15 * 60 },
      perIp: { max: 50, windowSeconds: 5 * 60 },
    },
    argon2: { memoryCost: 19_456, timeCost: 2, parallelism: 1 },
    bodyLimitBytes: 1024 * 1024,
    auditSigningKey: {
      pem: env.ROSTER_AUDIT_SIGNING_KEY?.replace(/\\n/g, "\n") || undefined,
      file:
        env.ROSTER_AUDIT_SIGNING_KEY_FILE ||
        (dataDir.startsWith("memory://") ? undefined : join(dataDir, "audit-signing-key.pem")),
    },
    webhookAllowPrivate: bool(env.ROSTER_WEBHOOK_ALLOW_PRIVATE, false),
    corsOrigins: corsOrigins(env.ROSTER_CORS_ORIGINS),
  };
}

/** Exact origins only (scheme, host, port): a path, a wildcard or a typo stops the start with the value named. */
function corsOrigins(v: string | undefined): string[] {
  const list = (v ?? "")
    .split(",")
    .map((s) => s.trim().replace(/\/$/, ""))
    .filter(Boolean);
  for (const entry of list) {
    let origin: string | undefined;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = undefined;
    }
    if (origin !== entry || !/^https?:\/\//.test(entry)) {
      throw new Error(
        `ROSTER_CORS_ORIGINS: "${entry}" is not an origin. Write scheme://host[:port], e.g. https://app.example.com.`,
      );
    }
  }
  return [...new Set(list)];
}

/** Keys that may open a sealed secret: the current one first, then those of before a rotation. */
export const openingKeys = (config: Pick<Config, "secretKey" | "previousSecretKeys">): Buffer[] => [
  config.secretKey,
  ...config.previousSecretKeys,
];
