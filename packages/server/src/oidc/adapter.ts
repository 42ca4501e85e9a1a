import { and, eq, sql } from "drizzle-orm";
import type { Adapter, AdapterPayload } from "oidc-provider";
import type { AppDeps } from "../deps.ts";
import { open } from "../lib/crypto.ts";
import { openingKeys } from "../config.ts";
import { oidcApplications, oidcPayloads, type ApplicationRow } from "./tables.ts";

/**
 * The provider's storage: one table keyed by model and id, with the expiry the provider asks for. Nothing is
 * kept in memory, so every instance on one database sees the same sessions, codes, grants and refresh tokens.
 * Expiry is compared with the wall clock because the provider itself stamps its payloads with it.
 */
export function postgresAdapter(deps: AppDeps): new (name: string) => Adapter {
  return class PostgresAdapter implements Adapter {
    readonly name: string;
    constructor(name: string) {
      this.name = name;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
      const row = {
        model: this.name,
        id,
        payload: payload as Record<string, unknown>,
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        accountId: payload.accountId ?? null,
        expiresAt,
      };
      await deps.db.tx({}, (tx) =>
        tx
          .insert(oidcPayloads)
          .values(row)
          .onConflictDoUpdate({
            target: [oidcPayloads.model, oidcPayloads.id],
            set: {
              payload: row.payload,
              grantId: row.grantId,
              uid: row.uid,
              userCode: row.userCode,
              accountId: row.accountId,
              expiresAt,
            },
          }),
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.name === "Client") return findClient(deps, id);
      return this.#findBy(eq(oidcPayloads.id, id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.#findBy(eq(oidcPayloads.uid, uid));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.#findBy(eq(oidcPayloads.userCode, userCode));
    }

    async consume(id: string): Promise<void> {
      await deps.db.tx({}, (tx) =>
        tx
          .update(oidcPayloads)
          .set({ consumedAt: new Date() })
          .where(and(eq(oidcPayloads.model, this.name), eq(oidcPayloads.id, id))),
      );
    }

    async destroy(id: string): Promise<void> {
      await deps.db.tx({}, (tx) =>
        tx.delete(oidcPayloads).where(and(eq(oidcPayloads.model, this.name), eq(oidcPayloads.id, id))),
      );
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await deps.db.tx({}, (tx) =>
        tx.delete(oidcPayloads).where(and(eq(oidcPayloads.model, this.name), eq(oidcPayloads.grantId, grantId))),
      );
    }

    async #findBy(condition: ReturnType<typeof eq>): Promise<AdapterPayload | undefined> {
      const rows = await deps.db.tx({}, (tx) =>
        tx
          .select({ payload: oidcPayloads.payload, consumedAt: oidcPayloads.consumedAt })
          .from(oidcPayloads)
          .where(
            and(
              eq(oidcPayloads.model, this.name),
              condition,
              sql`(${oidcPayloads.expiresAt} IS NULL OR ${oidcPayloads.expiresAt} > now())`,
            ),
          )
          .limit(1),
      );
      const row = rows[0];
      if (!row) return undefined;
      return { ...(row.payload as AdapterPayload), ...(row.consumedAt ? { consumed: true } : {}) };
    }
  };
}

/** Client metadata, derived from the application's type: what each kind of app may do. */
export function clientMetadata(app: ApplicationRow, secret: string | null): AdapterPayload {
  const base = {
    client_id: app.clientId,
    client_name: app.name,
    roster_first_party: app.firstParty,
  };
  if (app.type === "machine") {
    return {
      ...base,
      client_secret: secret ?? undefined,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
    };
  }
  const confidential = app.type === "web";
  return {
    ...base,
    ...(confidential && secret ? { client_secret: secret } : {}),
    application_type: app.type === "native" ? "native" : "web",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    redirect_uris: app.redirectUris,
    post_logout_redirect_uris: app.postLogoutRedirectUris,
    token_endpoint_auth_method: confidential ? "client_secret_basic" : "none",
    ...(app.backchannelLogoutUri
      ? { backchannel_logout_uri: app.backchannelLogoutUri, backchannel_logout_session_required: false }
      : {}),
  };
}

async function findClient(deps: AppDeps, clientId: string): Promise<AdapterPayload | undefined> {
  const rows = await deps.db.tx({}, (tx) =>
    tx.select().from(oidcApplications).where(eq(oidcApplications.clientId, clientId)).limit(1),
  );
  const app = rows[0];
  if (!app) return undefined;
  const secret = app.secretSealed
    ? open(openingKeys(deps.config), app.secretSealed, `oidc-client:${app.clientId}`)
    : null;
  return clientMetadata(app, secret);
}
