import { generateKeyPairSync, randomBytes } from "node:crypto";
import { desc, isNull, or, gt } from "drizzle-orm";
import type { JWK } from "oidc-provider";
import type { AppDeps } from "../deps.ts";
import { openingKeys } from "../config.ts";
import { open, seal } from "../lib/crypto.ts";
import { oidcSigningKeys } from "./tables.ts";

/**
 * A new key is published in the JWKS this long before it signs: every instance reloads its keys at least once
 * a minute (KEYS_RELOAD_MS), so no relying party meets a token signed by a key it could not fetch yet.
 */
export const PUBLISH_AHEAD_MS = 2 * 60_000;
/** A retired key stays published this long: longer than any token it signed lives (ID tokens: 1 hour). */
export const RETIRED_KEPT_MS = 2 * 3_600_000;
export const KEYS_RELOAD_MS = 60_000;

export const signingKeyAad = (kid: string) => `oidc-signing-key:${kid}`;

function newSigningKey(): { kid: string; jwk: JWK } {
  const kid = randomBytes(12).toString("base64url");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...(privateKey.export({ format: "jwk" }) as JWK), kid, alg: "RS256", use: "sig" };
  return { kid, jwk };
}

/** First start: generates the installation's signing key, once, even with two instances starting together. */
export async function ensureSigningKey(deps: AppDeps): Promise<void> {
  const existing = await deps.db.tx({}, (tx) =>
    tx.select({ kid: oidcSigningKeys.kid }).from(oidcSigningKeys).where(isNull(oidcSigningKeys.retiredAt)).limit(1),
  );
  if (existing.length > 0) return;
  const { kid, jwk } = newSigningKey();
  const now = deps.clock.now();
  await deps.db.tx({ platform: true }, (tx) =>
    tx
      .insert(oidcSigningKeys)
      .values({
        kid,
        sealedJwk: seal(deps.config.secretKey, JSON.stringify(jwk), signingKeyAad(kid)),
        createdAt: now,
        activeFrom: now,
      })
      .onConflictDoNothing(),
  );
}

export interface KeySet {
  /** The signing key first (the provider signs with the first key of an algorithm), then the others. */
  keys: JWK[];
  /** Changes whenever the published keys or the signer change. */
  version: string;
}

/** The keys to publish now, the one that signs first. */
export async function loadSigningKeys(deps: AppDeps): Promise<KeySet> {
  const now = deps.clock.now();
  const rows = await deps.db.tx({}, (tx) =>
    tx
      .select()
      .from(oidcSigningKeys)
      .where(
        or(isNull(oidcSigningKeys.retiredAt), gt(oidcSigningKeys.retiredAt, new Date(now.getTime() - RETIRED_KEPT_MS))),
      )
      .orderBy(desc(oidcSigningKeys.activeFrom)),
  );
  const signer = rows.find((r) => r.activeFrom.getTime() <= now.getTime()) ?? rows[rows.length - 1];
  if (!signer) throw new Error("no OIDC signing key: ensureSigningKey runs at start");
  const ordered = [signer, ...rows.filter((r) => r !== signer)];
  const keys = ordered.map((r) => JSON.parse(open(openingKeys(deps.config), r.sealedJwk, signingKeyAad(r.kid))) as JWK);
  return { keys, version: ordered.map((r) => r.kid).join(",") };
}

/**
 * `roster rotate-signing-key`: a new key is published now and signs from PUBLISH_AHEAD_MS on; the current one
 * signs until then and stays published RETIRED_KEPT_MS longer, so tokens it signed keep verifying.
 */
export async function rotateSigningKey(deps: AppDeps): Promise<{ kid: string; activeFrom: Date }> {
  const { kid, jwk } = newSigningKey();
  const now = deps.clock.now();
  const activeFrom = new Date(now.getTime() + PUBLISH_AHEAD_MS);
  await deps.db.tx({ platform: true }, async (tx) => {
    await tx.update(oidcSigningKeys).set({ retiredAt: activeFrom }).where(isNull(oidcSigningKeys.retiredAt));
    await tx.insert(oidcSigningKeys).values({
      kid,
      sealedJwk: seal(deps.config.secretKey, JSON.stringify(jwk), signingKeyAad(kid)),
      createdAt: now,
      activeFrom,
    });
  });
  return { kid, activeFrom };
}
