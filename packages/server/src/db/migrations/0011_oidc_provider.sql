-- OpenID Provider (docs/decisions/0013-openid-provider.md): the installation's applications (OIDC clients),
-- the provider's stored state, its signing keys, and what ends a member's grants.
-- None of these tables belongs to a customer org: applications belong to the installation, and a grant
-- belongs to a person. Row-level security still applies: roster_app reaches them only as written below.

-- Applications. The client secret is sealed under ROSTER_SECRET_KEY (AES-256-GCM, bound to the row): the
-- provider needs the value itself to check client_secret_basic/post, so a one-way hash would not do.
CREATE TABLE oidc_applications (
  id text PRIMARY KEY,
  client_id text NOT NULL UNIQUE,
  name text NOT NULL,
  type text NOT NULL CHECK (type IN ('web', 'spa', 'native', 'machine')),
  first_party boolean NOT NULL DEFAULT true,
  redirect_uris text[] NOT NULL DEFAULT '{}',
  post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
  backchannel_logout_uri text,
  secret_sealed text,
  created_by text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

-- Everything the provider stores (sessions, interactions, codes, grants, refresh tokens...), one row per
-- model and id with its expiry; expired rows are deleted by the `oidc.sweep` job.
CREATE TABLE oidc_payloads (
  model text NOT NULL,
  id text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  uid text,
  user_code text,
  account_id text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant_idx ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid_idx ON oidc_payloads (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_user_code_idx ON oidc_payloads (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_payloads_expiry_idx ON oidc_payloads (expires_at);

-- Who a grant was given to, in which Roster session and for which organization: what ends it.
CREATE TABLE oidc_grant_links (
  grant_id text PRIMARY KEY,
  account_id text NOT NULL,
  client_id text NOT NULL,
  org_id text,
  roster_session_id text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_grant_links_account_idx ON oidc_grant_links (account_id);
CREATE INDEX oidc_grant_links_session_idx ON oidc_grant_links (roster_session_id);

-- Back-channel logout notices still to send (the `oidc.logout` job sends them, with retries).
CREATE TABLE oidc_logout_outbox (
  id bigserial PRIMARY KEY,
  client_id text NOT NULL,
  account_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  last_error text
);
CREATE INDEX oidc_logout_outbox_due_idx ON oidc_logout_outbox (next_attempt_at) WHERE sent_at IS NULL;

-- Signing keys, sealed. A new key is published in the JWKS before it signs (active_from), and an old one
-- stays published until every token it signed has expired (retired_at + the longest token lifetime).
CREATE TABLE oidc_signing_keys (
  kid text PRIMARY KEY,
  sealed_jwk text NOT NULL,
  created_at timestamptz NOT NULL,
  active_from timestamptz NOT NULL,
  retired_at timestamptz
);
-- At most one key is generated on first start, even when two instances start at once.
CREATE UNIQUE INDEX oidc_signing_keys_one_current ON oidc_signing_keys ((true)) WHERE retired_at IS NULL;

-- Row-level security: applications are written only in the platform scope (platform staff, the CLI);
-- the provider reads them in any scope. The provider's own state is installation-level and carries no org.
ALTER TABLE oidc_applications ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_applications FORCE ROW LEVEL SECURITY;
CREATE POLICY oidc_applications_read ON oidc_applications FOR SELECT USING (true);
CREATE POLICY oidc_applications_insert ON oidc_applications FOR INSERT WITH CHECK (roster_platform());
CREATE POLICY oidc_applications_update ON oidc_applications FOR UPDATE USING (roster_platform()) WITH CHECK (roster_platform());
CREATE POLICY oidc_applications_delete ON oidc_applications FOR DELETE USING (roster_platform());

ALTER TABLE oidc_payloads ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_payloads FORCE ROW LEVEL SECURITY;
CREATE POLICY oidc_payloads_all ON oidc_payloads USING (true) WITH CHECK (true);
ALTER TABLE oidc_grant_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_grant_links FORCE ROW LEVEL SECURITY;
CREATE POLICY oidc_grant_links_all ON oidc_grant_links USING (true) WITH CHECK (true);
ALTER TABLE oidc_logout_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_logout_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY oidc_logout_outbox_all ON oidc_logout_outbox USING (true) WITH CHECK (true);
-- Keys: read by every instance, written only by the first start and `roster rotate-signing-key` (platform scope).
ALTER TABLE oidc_signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE oidc_signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY oidc_signing_keys_read ON oidc_signing_keys FOR SELECT USING (true);
CREATE POLICY oidc_signing_keys_write ON oidc_signing_keys FOR INSERT WITH CHECK (roster_platform());
CREATE POLICY oidc_signing_keys_update ON oidc_signing_keys FOR UPDATE USING (roster_platform()) WITH CHECK (roster_platform());

GRANT SELECT, INSERT, UPDATE, DELETE ON oidc_applications, oidc_payloads, oidc_grant_links TO roster_app;
GRANT SELECT, INSERT, UPDATE ON oidc_logout_outbox, oidc_signing_keys TO roster_app;
GRANT USAGE ON SEQUENCE oidc_logout_outbox_id_seq TO roster_app;

-- Ends grants in the same transaction as the change that ends the person's access, and queues one
-- back-channel logout per application that held one. Runs as the writer (roster_app).
CREATE FUNCTION roster_oidc_end_grants(p_account text, p_org text, p_session text, p_all boolean) RETURNS void
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  ended text[];
BEGIN
  WITH gone AS (
    DELETE FROM oidc_grant_links l
    WHERE l.account_id = p_account
      AND (p_all OR (p_org IS NOT NULL AND l.org_id = p_org) OR (p_session IS NOT NULL AND l.roster_session_id = p_session))
    RETURNING l.grant_id, l.client_id
  ), queued AS (
    INSERT INTO oidc_logout_outbox (client_id, account_id)
    SELECT DISTINCT g.client_id, p_account FROM gone g
    JOIN oidc_applications a ON a.client_id = g.client_id AND a.backchannel_logout_uri IS NOT NULL
    RETURNING 1
  )
  SELECT array_agg(grant_id) INTO ended FROM gone;
  IF ended IS NULL THEN RETURN; END IF;
  DELETE FROM oidc_payloads WHERE grant_id = ANY (ended) OR (model = 'Grant' AND id = ANY (ended));
END $$;
REVOKE ALL ON FUNCTION roster_oidc_end_grants(text, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_oidc_end_grants(text, text, text, boolean) TO roster_app;

CREATE FUNCTION roster_oidc_on_access_change() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  CASE TG_TABLE_NAME
    WHEN 'members' THEN
      -- Deactivated, removed or deleted: the grants given for this organization end.
      IF TG_OP = 'DELETE' THEN
        PERFORM roster_oidc_end_grants(OLD.user_id, OLD.org_id, NULL, false);
      ELSIF NEW.status <> 'active' AND OLD.status = 'active' THEN
        PERFORM roster_oidc_end_grants(NEW.user_id, NEW.org_id, NULL, false);
      END IF;
    WHEN 'sessions' THEN
      -- A Roster session that ends takes the grants given while it was signed in.
      PERFORM roster_oidc_end_grants(OLD.user_id, NULL, OLD.id, false);
    WHEN 'users' THEN
      -- A new password (reset or change) ends every grant the person holds.
      PERFORM roster_oidc_end_grants(OLD.id, NULL, NULL, true);
  END CASE;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roster_oidc_on_access_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_oidc_on_access_change() TO roster_app;

CREATE TRIGGER members_oidc_end AFTER UPDATE OF status OR DELETE ON members FOR EACH ROW
  EXECUTE FUNCTION roster_oidc_on_access_change();
CREATE TRIGGER sessions_oidc_end AFTER UPDATE OF revoked_at ON sessions FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION roster_oidc_on_access_change();
CREATE TRIGGER sessions_oidc_end_delete AFTER DELETE ON sessions FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL)
  EXECUTE FUNCTION roster_oidc_on_access_change();
CREATE TRIGGER users_oidc_end AFTER UPDATE OF password_hash ON users FOR EACH ROW
  WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
  EXECUTE FUNCTION roster_oidc_on_access_change();
