-- Security: TOTP factors, recovery codes, sign-in challenges, API keys.

-- A user's second factor. The TOTP seed is sealed with AES-256-GCM (lib/crypto.ts) under ROSTER_SECRET_KEY;
-- last_used_step is the RFC 6238 time step of the last accepted code: a code is accepted only by the
-- conditional UPDATE that raises it, so a replay (even a concurrent one) finds nothing to update.
CREATE TABLE mfa_factors (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('totp')),
  secret_sealed text NOT NULL,
  confirmed_at timestamptz,
  last_used_step bigint NOT NULL DEFAULT -1,
  created_at timestamptz NOT NULL,
  UNIQUE (user_id, kind)
);

-- Ten single-use codes per confirmed factor, stored as keyed hashes only.
CREATE TABLE mfa_recovery_codes (
  factor_id text NOT NULL REFERENCES mfa_factors(id) ON DELETE CASCADE,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (factor_id, code_hash)
);
CREATE INDEX mfa_recovery_codes_user_idx ON mfa_recovery_codes (user_id);

ALTER TABLE mfa_factors ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_factors FORCE ROW LEVEL SECURITY;
CREATE POLICY mfa_factors_own ON mfa_factors USING (user_id = roster_user()) WITH CHECK (user_id = roster_user());
ALTER TABLE mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_recovery_codes FORCE ROW LEVEL SECURITY;
CREATE POLICY mfa_recovery_codes_own ON mfa_recovery_codes USING (user_id = roster_user()) WITH CHECK (user_id = roster_user());

-- The step between a correct password and a session. Like sessions, it is found by the hash of a bearer
-- secret before the user is known, so it is not behind row-level security; it holds no org data.
CREATE TABLE mfa_challenges (
  id_hash text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  consumed_at timestamptz,
  ip text,
  user_agent text
);
CREATE INDEX mfa_challenges_expiry_idx ON mfa_challenges (expires_at);

-- API keys act as their member. Only the SHA-256 of the whole key is stored; the prefix is for recognising it.
CREATE TABLE api_keys (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  id text NOT NULL,
  member_id text NOT NULL,
  name text NOT NULL,
  prefix text NOT NULL,
  secret_hash text NOT NULL UNIQUE,
  permissions text[],
  created_by text NOT NULL,
  created_at timestamptz NOT NULL,
  rotated_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, member_id) REFERENCES members(org_id, id) ON DELETE CASCADE
);
CREATE INDEX api_keys_member_idx ON api_keys (org_id, member_id);

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_org ON api_keys USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
-- The lookup function below runs as the migrating role; when that role is not a superuser, FORCE would
-- hide the rows from it too. This policy applies to that role only, never to roster_app.
DO $$ BEGIN
  EXECUTE format('CREATE POLICY api_keys_lookup ON api_keys FOR SELECT TO %I USING (true)', current_user);
END $$;

-- An API key arrives before the org is known: this maps the key's hash to its org, key and member and
-- nothing else, so the application role never reads api_keys without an org bound.
CREATE FUNCTION roster_api_key_lookup(p_hash text) RETURNS TABLE (org_id text, key_id text, member_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT k.org_id, k.id, k.member_id FROM api_keys k WHERE k.secret_hash = p_hash AND k.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION roster_api_key_lookup(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_api_key_lookup(text) TO roster_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_factors, mfa_recovery_codes, mfa_challenges TO roster_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO roster_app;
