import { open, seal } from "../lib/crypto.ts";
import { openingKeys, type Config } from "../config.ts";
import type { Database } from "../db/database.ts";
import { sealContext } from "../mfa/service.ts";
import { openPayload, sealPayload } from "../mail/outbox.ts";
import { signingKeyAad } from "../oidc/keys.ts";
import { secretAad } from "../oidc/applications.ts";
import { webhookSecretAad } from "../webhooks/service.ts";

/** Sealed columns opened with one associated-data string per row: table, row key, column, what it is. */
const SEALED_COLUMNS = [
  { table: "oidc_signing_keys", key: "kid", column: "sealed_jwk", what: "OIDC signing key", aad: signingKeyAad },
  { table: "oidc_applications", key: "client_id", column: "secret_sealed", what: "application secret", aad: secretAad },
  { table: "webhook_endpoints", key: "id", column: "secret", what: "webhook secret", aad: webhookSecretAad },
  { table: "webhook_endpoints", key: "id", column: "previous_secret", what: "webhook secret", aad: webhookSecretAad },
] as const;

export interface ResealResult {
  factors: number;
  mails: number;
  /** OIDC signing keys, application secrets and webhook secrets. */
  others: number;
}

/**
 * After a ROSTER_SECRET_KEY rotation: opens every sealed secret (TOTP seeds, queued mail bodies, OIDC signing
 * keys, application and webhook secrets) with the
 * current or a previous key and seals it again under the current key, in one transaction, so that
 * ROSTER_SECRET_KEY_PREVIOUS can then be dropped. A value no key opens stops the run and changes nothing.
 */
export async function resealSecrets(
  db: Database,
  config: Pick<Config, "secretKey" | "previousSecretKeys">,
): Promise<ResealResult> {
  const keys = openingKeys(config);
  return db.script(async (run) => {
    const factors = await run.query<{ id: string; userId: string; sealed: string }>(
      `SELECT id, user_id AS "userId", secret_sealed AS sealed FROM mfa_factors ORDER BY id FOR UPDATE`,
    );
    for (const f of factors) {
      let secret: string;
      try {
        secret = open(keys, f.sealed, sealContext(f));
      } catch {
        throw new Error(
          `TOTP factor ${f.id} opens with none of the keys given (ROSTER_SECRET_KEY, ROSTER_SECRET_KEY_PREVIOUS); nothing was changed.`,
        );
      }
      await run.query("UPDATE mfa_factors SET secret_sealed = $1 WHERE id = $2", [
        seal(config.secretKey, secret, sealContext(f)),
        f.id,
      ]);
    }
    const mails = await run.query<{ id: string; payload: string }>(
      "SELECT id, payload FROM outbox WHERE payload IS NOT NULL ORDER BY id FOR UPDATE",
    );
    for (const m of mails) {
      let content;
      try {
        content = openPayload(keys, m);
      } catch {
        throw new Error(`Queued mail ${m.id} opens with none of the keys given; nothing was changed.`);
      }
      if (content)
        await run.query("UPDATE outbox SET payload = $1 WHERE id = $2", [
          sealPayload(config.secretKey, m.id, content),
          m.id,
        ]);
    }
    let others = 0;
    for (const c of SEALED_COLUMNS) {
      const rows = await run.query<{ key: string; sealed: string }>(
        `SELECT ${c.key} AS key, ${c.column} AS sealed FROM ${c.table} WHERE ${c.column} IS NOT NULL ORDER BY ${c.key} FOR UPDATE`,
      );
      for (const r of rows) {
        let plain: string;
        try {
          plain = open(keys, r.sealed, c.aad(r.key));
        } catch {
          throw new Error(`The ${c.what} of ${r.key} opens with none of the keys given; nothing was changed.`);
        }
        await run.query(`UPDATE ${c.table} SET ${c.column} = $1 WHERE ${c.key} = $2`, [
          seal(config.secretKey, plain, c.aad(r.key)),
          r.key,
        ]);
        others++;
      }
    }
    return { factors: factors.length, mails: mails.length, others };
  });
}
