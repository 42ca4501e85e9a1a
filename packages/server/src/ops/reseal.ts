import { open, seal } from "../lib/crypto.ts";
import { openingKeys, type Config } from "../config.ts";
import type { Database } from "../db/database.ts";
import { sealContext } from "../mfa/service.ts";
import { openPayload, sealPayload } from "../mail/outbox.ts";

export interface ResealResult {
  factors: number;
  mails: number;
}

/**
 * After a ROSTER_SECRET_KEY rotation: opens every sealed secret (TOTP seeds, queued mail bodies) with the
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
    return { factors: factors.length, mails: mails.length };
  });
}
