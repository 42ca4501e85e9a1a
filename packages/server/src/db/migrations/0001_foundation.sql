-- Foundation: identity, organizations, members, sessions, throttling, audit chain.
-- The application runs every transaction as the non-owner role roster_app (SET LOCAL ROLE),
-- so row-level security applies to it even though the connection may belong to the owner.

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'roster_app') THEN
    CREATE ROLE roster_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL; -- another database in the same cluster created it at the same moment
END $$;

-- The scope bound to the current transaction (set_config(..., true)); unset means NULL, and NULL matches no row.
CREATE FUNCTION roster_org() RETURNS text LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('roster.org_id', true), '') $$;
CREATE FUNCTION roster_user() RETURNS text LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('roster.user_id', true), '') $$;
CREATE FUNCTION roster_platform() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('roster.platform', true), '') = 'on' $$;

CREATE TABLE users (
  id text PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  password_hash text,
  platform_role text,
  last_login_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organizations (
  id text PRIMARY KEY,
  name text NOT NULL,
  policy text NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by text REFERENCES users(id),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE members (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  id text NOT NULL,
  user_id text NOT NULL REFERENCES users(id),
  role text NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'removed')),
  department text,
  secondary_email text,
  store_ids text[] NOT NULL DEFAULT '{}',
  hidden_modules text[] NOT NULL DEFAULT '{}',
  invited_by text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  removed_at timestamptz,
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, user_id)
);
CREATE INDEX members_user_idx ON members (user_id);

CREATE TABLE sessions (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  ip text,
  user_agent text,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Fixed-window counters shared by every instance (sign-in throttling).
CREATE TABLE rate_limits (
  key text PRIMARY KEY,
  window_start timestamptz NOT NULL,
  count integer NOT NULL
);

-- Audit chain: one head row per org serializes appends to that org only.
CREATE TABLE audit_heads (
  org_id text PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
  last_seq bigint NOT NULL,
  last_hash text NOT NULL
);

CREATE TABLE audit_events (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  id text NOT NULL,
  action text NOT NULL,
  actor_id text,
  target_id text,
  entity_type text NOT NULL,
  before jsonb,
  after jsonb,
  ip text,
  user_agent text,
  created_at timestamptz NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL,
  PRIMARY KEY (org_id, seq),
  UNIQUE (org_id, id)
);
CREATE INDEX audit_events_action_idx ON audit_events (org_id, action, seq);
CREATE INDEX audit_events_actor_idx ON audit_events (org_id, actor_id, seq);
CREATE INDEX audit_events_target_idx ON audit_events (org_id, target_id, seq);
CREATE INDEX audit_events_created_idx ON audit_events (org_id, created_at);

-- Row-level security on every org-scoped table.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY organizations_read ON organizations FOR SELECT USING (
  id = roster_org() OR roster_platform()
  OR EXISTS (SELECT 1 FROM members m WHERE m.org_id = organizations.id AND m.user_id = roster_user() AND m.status <> 'removed')
);
CREATE POLICY organizations_insert ON organizations FOR INSERT WITH CHECK (id = roster_org());
CREATE POLICY organizations_update ON organizations FOR UPDATE USING (id = roster_org()) WITH CHECK (id = roster_org());
CREATE POLICY organizations_delete ON organizations FOR DELETE USING (id = roster_org());

ALTER TABLE members ENABLE ROW LEVEL SECURITY;
ALTER TABLE members FORCE ROW LEVEL SECURITY;
-- A user may read their own memberships across orgs (GET /v1/me); everything else needs the org bound.
CREATE POLICY members_read ON members FOR SELECT USING (org_id = roster_org() OR user_id = roster_user());
CREATE POLICY members_insert ON members FOR INSERT WITH CHECK (org_id = roster_org());
CREATE POLICY members_update ON members FOR UPDATE USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
CREATE POLICY members_delete ON members FOR DELETE USING (org_id = roster_org());

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_heads_org ON audit_heads USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_read ON audit_events FOR SELECT USING (org_id = roster_org());
CREATE POLICY audit_events_insert ON audit_events FOR INSERT WITH CHECK (org_id = roster_org());

-- Least privilege for the application role. Audit rows are append-only: no UPDATE or DELETE.
GRANT USAGE ON SCHEMA public TO roster_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, organizations, members, sessions, rate_limits, audit_heads TO roster_app;
GRANT SELECT, INSERT ON audit_events TO roster_app;
GRANT EXECUTE ON FUNCTION roster_org(), roster_user(), roster_platform() TO roster_app;

-- The tenant list shows how many members each org has without letting platform staff read member rows.
CREATE FUNCTION roster_member_count(p_org text) RETURNS integer LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT count(*)::int FROM members WHERE org_id = p_org AND status <> 'removed' AND roster_platform()
$$;
REVOKE ALL ON FUNCTION roster_member_count(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_member_count(text) TO roster_app;
