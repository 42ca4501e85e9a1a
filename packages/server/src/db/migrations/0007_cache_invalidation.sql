-- Request-path caches (docs/decisions/0008-request-path-caches.md): every instance keeps sessions, memberships,
-- orgs and API keys in memory and drops an entry when PostgreSQL says its rows changed. The message is sent by
-- triggers, so it exists if and only if the change committed (NOTIFY is delivered at commit, never on
-- rollback), and no write path can forget it. Payload: "<kind> <id> [<id>]" naming what changed, never a
-- secret or a token hash. The triggers run as the writer (roster_app); pg_notify is executable by everyone.

CREATE FUNCTION roster_notify_change() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  -- Tells the writing instance to wait for its own notifications before it answers (db/database.ts).
  PERFORM set_config('roster.notified', 'on', true);
  -- Each branch names only its own table's columns (PL/pgSQL resolves every field of an expression it runs).
  -- A row that moved to another user or org: the old owner's entries go too.
  CASE TG_TABLE_NAME
    WHEN 'users' THEN
      PERFORM pg_notify('roster_cache', 'user ' || COALESCE(NEW.id, OLD.id));
    WHEN 'sessions', 'mfa_factors' THEN
      IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('roster_cache', 'user ' || OLD.user_id); END IF;
      IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('roster_cache', 'user ' || NEW.user_id); END IF;
    WHEN 'members' THEN
      IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('roster_cache', 'member ' || OLD.org_id || ' ' || OLD.user_id); END IF;
      IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('roster_cache', 'member ' || NEW.org_id || ' ' || NEW.user_id); END IF;
    WHEN 'organizations' THEN
      PERFORM pg_notify('roster_cache', 'org ' || COALESCE(NEW.id, OLD.id));
    WHEN 'api_keys' THEN
      PERFORM pg_notify('roster_cache', 'key ' || OLD.org_id || ' ' || OLD.id);
  END CASE;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roster_notify_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_notify_change() TO roster_app;

-- Sessions: any change but the idle clock (last_seen_at, written in batches) and the audit-only columns.
CREATE TRIGGER sessions_notify AFTER UPDATE ON sessions FOR EACH ROW
  WHEN ((OLD.user_id, OLD.token_hash, OLD.expires_at, OLD.revoked_at, OLD.mfa_verified_at, OLD.created_at)
        IS DISTINCT FROM (NEW.user_id, NEW.token_hash, NEW.expires_at, NEW.revoked_at, NEW.mfa_verified_at, NEW.created_at))
  EXECUTE FUNCTION roster_notify_change();
CREATE TRIGGER sessions_notify_delete AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION roster_notify_change();

-- Users: password, platform role, name and email (what a principal carries); sign-in times are not read by a cache.
CREATE TRIGGER users_notify AFTER UPDATE ON users FOR EACH ROW
  WHEN ((OLD.email, OLD.name, OLD.password_hash, OLD.platform_role) IS DISTINCT FROM
        (NEW.email, NEW.name, NEW.password_hash, NEW.platform_role))
  EXECUTE FUNCTION roster_notify_change();
CREATE TRIGGER users_notify_delete AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION roster_notify_change();

-- MFA factors decide a session's gate: enrolling, confirming or removing one.
CREATE TRIGGER mfa_factors_notify AFTER INSERT OR DELETE ON mfa_factors FOR EACH ROW EXECUTE FUNCTION roster_notify_change();
CREATE TRIGGER mfa_factors_notify_update AFTER UPDATE ON mfa_factors FOR EACH ROW
  WHEN ((OLD.user_id, OLD.confirmed_at) IS DISTINCT FROM (NEW.user_id, NEW.confirmed_at))
  EXECUTE FUNCTION roster_notify_change();

-- Members: role, status, stores, modules, department, removal and restore; a new membership can bring an MFA gate.
CREATE TRIGGER members_notify AFTER INSERT OR UPDATE OR DELETE ON members FOR EACH ROW EXECUTE FUNCTION roster_notify_change();

-- Organizations: name, policy and security settings.
CREATE TRIGGER organizations_notify AFTER UPDATE OR DELETE ON organizations FOR EACH ROW EXECUTE FUNCTION roster_notify_change();

-- API keys: rotation, revocation, narrowing; not the last-used clock.
CREATE TRIGGER api_keys_notify AFTER UPDATE ON api_keys FOR EACH ROW
  WHEN ((OLD.org_id, OLD.member_id, OLD.secret_hash, OLD.permissions, OLD.revoked_at)
        IS DISTINCT FROM (NEW.org_id, NEW.member_id, NEW.secret_hash, NEW.permissions, NEW.revoked_at))
  EXECUTE FUNCTION roster_notify_change();
CREATE TRIGGER api_keys_notify_delete AFTER DELETE ON api_keys FOR EACH ROW EXECUTE FUNCTION roster_notify_change();

-- last_seen_at arrives in batches from each instance's memory (auth/sessions.ts): one statement for many
-- sessions ({"<session id>": "<timestamp>", …}), which only ever moves the clock forward.
CREATE FUNCTION roster_touch_sessions(p_seen jsonb) RETURNS void LANGUAGE sql SET search_path = public AS $$
  UPDATE sessions s SET last_seen_at = t.seen::timestamptz
    FROM jsonb_each_text(p_seen) AS t(id, seen)
   WHERE s.id = t.id AND s.last_seen_at < t.seen::timestamptz;
$$;
REVOKE ALL ON FUNCTION roster_touch_sessions(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_touch_sessions(jsonb) TO roster_app;
