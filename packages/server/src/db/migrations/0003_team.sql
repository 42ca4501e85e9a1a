-- Team lifecycle: invitations, the email outbox, password-reset tokens, and the definer functions that
-- reach across orgs for token lookups and the purge job.

CREATE TABLE invitations (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  id text NOT NULL,
  email text NOT NULL,
  secondary_email text,
  role text NOT NULL,
  department text,
  store_ids text[] NOT NULL DEFAULT '{}',
  hidden_modules text[] NOT NULL DEFAULT '{}',
  -- SHA-256 of the current token; resend replaces it, so an older link stops working.
  token_hash text NOT NULL UNIQUE,
  -- 'expired' is stored only once a newer invitation replaces an expired one; otherwise it is derived from expires_at.
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
  invited_by text,
  invited_by_user text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_member_id text,
  revoked_at timestamptz,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
-- One open invitation per address and org; concurrent invites of the same address cannot both succeed.
CREATE UNIQUE INDEX invitations_pending_email ON invitations (org_id, lower(email)) WHERE status = 'pending';
CREATE INDEX invitations_org_created ON invitations (org_id, created_at DESC, id DESC);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_org ON invitations USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
GRANT SELECT, INSERT, UPDATE ON invitations TO roster_app;

-- The public invitation endpoints know only the token: this maps its hash to the org, which is then bound as usual.
CREATE FUNCTION roster_invitation_org(p_token_hash text) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT org_id FROM invitations WHERE token_hash = p_token_hash
$$;
REVOKE ALL ON FUNCTION roster_invitation_org(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_invitation_org(text) TO roster_app;

-- Transactional outbox. Rows are written in the transaction of the change that causes the email; the worker
-- (scope roster.outbox = on) claims due rows with FOR UPDATE SKIP LOCKED. Subject and bodies are sealed
-- (AES-256-GCM) because they carry single-use links; after an SMTP delivery they are erased.
CREATE TABLE outbox (
  id text PRIMARY KEY,
  org_id text REFERENCES organizations(id) ON DELETE CASCADE,
  kind text NOT NULL,
  to_address text NOT NULL,
  -- The user whose action queued the message: the dev mailbox shows senders their invitations.
  caused_by text,
  payload text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  locked_until timestamptz,
  locked_by text,
  last_error text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX outbox_recipient ON outbox (lower(to_address), created_at DESC);

CREATE FUNCTION roster_outbox() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('roster.outbox', true), '') = 'on' $$;
GRANT EXECUTE ON FUNCTION roster_outbox() TO roster_app;

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
-- A change enqueues mail for its own org (or installation mail such as a forgotten password, org_id NULL);
-- only the delivery worker and the dev mailbox (scope roster.outbox) read across orgs.
CREATE POLICY outbox_insert ON outbox FOR INSERT WITH CHECK (org_id IS NULL OR org_id = roster_org() OR roster_outbox());
CREATE POLICY outbox_read ON outbox FOR SELECT USING (roster_outbox());
CREATE POLICY outbox_update ON outbox FOR UPDATE USING (roster_outbox()) WITH CHECK (roster_outbox());
CREATE POLICY outbox_delete ON outbox FOR DELETE USING (roster_outbox());
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO roster_app;

-- Password-reset tokens belong to a user, not an org (like sessions); reached only by the token's hash.
CREATE TABLE password_resets (
  id text PRIMARY KEY,
  user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  org_id text,
  requested_by text,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id) WHERE used_at IS NULL;
GRANT SELECT, INSERT, UPDATE, DELETE ON password_resets TO roster_app;

-- The purge job looks for removals older than the restore window in every org; it then binds each org to
-- delete and audit. Only ids leave this function.
CREATE FUNCTION roster_purgeable_members(p_removed_before timestamptz, p_limit integer) RETURNS TABLE (org_id text, member_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT m.org_id, m.id FROM members m
  WHERE m.status = 'removed' AND m.removed_at <= p_removed_before
  ORDER BY m.removed_at LIMIT p_limit
$$;
REVOKE ALL ON FUNCTION roster_purgeable_members(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_purgeable_members(timestamptz, integer) TO roster_app;

CREATE INDEX members_removed_idx ON members (removed_at) WHERE status = 'removed';
