import { boolean, jsonb, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { ts } from "../lib/columns.ts";

/** The installation's OIDC clients (migration 0011). */
export const oidcApplications = pgTable("oidc_applications", {
  id: text("id").primaryKey(),
  clientId: text("client_id").notNull(),
  name: text("name").notNull(),
  type: text("type").$type<ApplicationType>().notNull(),
  firstParty: boolean("first_party").notNull(),
  redirectUris: text("redirect_uris").array().notNull(),
  postLogoutRedirectUris: text("post_logout_redirect_uris").array().notNull(),
  backchannelLogoutUri: text("backchannel_logout_uri"),
  /** Sealed under ROSTER_SECRET_KEY, bound to the client id; null for public clients. */
  secretSealed: text("secret_sealed"),
  createdBy: text("created_by"),
  createdAt: ts("created_at").notNull(),
  updatedAt: ts("updated_at").notNull(),
});
export type ApplicationRow = typeof oidcApplications.$inferSelect;
export const APPLICATION_TYPES = ["web", "spa", "native", "machine"] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/** Everything the provider stores, one row per model and id. */
export const oidcPayloads = pgTable(
  "oidc_payloads",
  {
    model: text("model").notNull(),
    id: text("id").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    grantId: text("grant_id"),
    uid: text("uid"),
    userCode: text("user_code"),
    accountId: text("account_id"),
    expiresAt: ts("expires_at"),
    consumedAt: ts("consumed_at"),
  },
  (t) => [primaryKey({ columns: [t.model, t.id] })],
);

export const oidcGrantLinks = pgTable("oidc_grant_links", {
  grantId: text("grant_id").primaryKey(),
  accountId: text("account_id").notNull(),
  clientId: text("client_id").notNull(),
  orgId: text("org_id"),
  rosterSessionId: text("roster_session_id"),
  createdAt: ts("created_at").notNull(),
  expiresAt: ts("expires_at").notNull(),
});

export const oidcSigningKeys = pgTable("oidc_signing_keys", {
  kid: text("kid").primaryKey(),
  sealedJwk: text("sealed_jwk").notNull(),
  createdAt: ts("created_at").notNull(),
  activeFrom: ts("active_from").notNull(),
  retiredAt: ts("retired_at"),
});
