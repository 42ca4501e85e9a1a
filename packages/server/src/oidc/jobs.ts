import { sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { rowsOf } from "../db/database.ts";
import type { Job } from "../jobs/scheduler.ts";
import { oidcHostFor } from "./host.ts";

/** A notice is tried this many times (backing off up to an hour), then left with its last error for operators. */
export const LOGOUT_MAX_ATTEMPTS = 8;

/** Deletes what the provider stored and no longer needs: expired sessions, codes, grants, tokens. */
export async function sweepOidc(deps: AppDeps): Promise<{ payloads: number; links: number }> {
  const now = deps.clock.now();
  return deps.db.tx({}, async (tx) => {
    const payloads = rowsOf<{ n: number }>(
      await tx.execute(
        sql`WITH d AS (DELETE FROM oidc_payloads WHERE expires_at < ${now} RETURNING 1) SELECT count(*)::int AS n FROM d`,
      ),
    )[0]!.n;
    const links = rowsOf<{ n: number }>(
      await tx.execute(
        sql`WITH d AS (DELETE FROM oidc_grant_links WHERE expires_at < ${now} RETURNING 1) SELECT count(*)::int AS n FROM d`,
      ),
    )[0]!.n;
    return { payloads, links };
  });
}

interface Notice {
  id: string;
  client_id: string;
  account_id: string;
  attempts: number;
}

/**
 * Sends the back-channel logout notices queued by migration 0011's triggers (OpenID Connect Back-Channel
 * Logout 1.0): a logout token signed by the provider, POSTed to the application's registered URI.
 */
export async function sendLogoutNotices(deps: AppDeps, limit = 50): Promise<{ sent: number; failed: number }> {
  // On the database's clock throughout: the triggers that queue a notice stamp it with now().
  const due = await deps.db.tx({}, async (tx) =>
    rowsOf<Notice>(
      await tx.execute(sql`
        SELECT id::text, client_id, account_id, attempts FROM oidc_logout_outbox
        WHERE sent_at IS NULL AND attempts < ${LOGOUT_MAX_ATTEMPTS} AND next_attempt_at <= now()
        ORDER BY id LIMIT ${limit}`),
    ),
  );
  if (due.length === 0) return { sent: 0, failed: 0 };
  const provider = await (await oidcHostFor(deps)).provider();
  let sent = 0;
  let failed = 0;
  for (const n of due) {
    let error: string | null = null;
    try {
      const client = await provider.Client.find(n.client_id);
      // Client#backchannelLogout builds, signs and POSTs the logout token (missing from the published types).
      const notify = client as unknown as { backchannelLogout(sub: string, sid?: string): Promise<void> } | undefined;
      if (client?.backchannelLogoutUri) await notify!.backchannelLogout(n.account_id);
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
      error = err instanceof Error ? `${err.message}${cause}`.slice(0, 500) : "failed";
    }
    const backoffMs = Math.min(3_600_000, 60_000 * 2 ** n.attempts);
    await deps.db.tx({}, (tx) =>
      tx.execute(
        error === null
          ? sql`UPDATE oidc_logout_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ${n.id}::bigint`
          : sql`UPDATE oidc_logout_outbox SET attempts = attempts + 1, last_error = ${error},
                next_attempt_at = now() + ${`${backoffMs} milliseconds`}::interval WHERE id = ${n.id}::bigint`,
      ),
    );
    if (error === null) sent++;
    else failed++;
  }
  return { sent, failed };
}

export const oidcSweepJob: Job = {
  name: "oidc.sweep",
  intervalSeconds: 3600,
  run: async (deps) => {
    await sweepOidc(deps);
  },
};

export const oidcLogoutJob: Job = {
  name: "oidc.logout",
  intervalSeconds: 10,
  run: async (deps) => {
    await sendLogoutNotices(deps);
  },
};
