-- Member lists at 100,000 members (docs/decisions/0010-member-list-at-scale.md).
-- Every sort of the member list must be an index range scan inside one org, but three of the sort keys (name,
-- email, last sign-in) live on users. They are copied onto each membership as sort keys, kept equal to the
-- user's values by triggers, so no write path can forget them. memberOut still reads the user's own columns.

ALTER TABLE members
  ADD COLUMN name_key text,
  ADD COLUMN email_key text,
  ADD COLUMN last_login_at timestamptz;

UPDATE members m SET name_key = lower(u.name), email_key = lower(u.email), last_login_at = u.last_login_at
  FROM users u WHERE u.id = m.user_id;
ALTER TABLE members ALTER COLUMN name_key SET NOT NULL, ALTER COLUMN email_key SET NOT NULL;

-- A new membership takes its person's current keys (runs as the inserting role; users has no row security).
CREATE FUNCTION roster_member_keys_fill() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  SELECT lower(u.name), lower(u.email), u.last_login_at INTO NEW.name_key, NEW.email_key, NEW.last_login_at
    FROM users u WHERE u.id = NEW.user_id;
  RETURN NEW;
END $$;
CREATE TRIGGER members_keys_fill BEFORE INSERT OR UPDATE OF user_id ON members
  FOR EACH ROW EXECUTE FUNCTION roster_member_keys_fill();

-- A sign-in or a rename reaches the person's memberships in every org. The sign-in transaction has no org
-- bound, so this runs as the migrating role, which the two policies below let read and update the key columns'
-- rows (they apply to that role only, never to roster_app; when it is a superuser they change nothing).
CREATE FUNCTION roster_member_keys_sync() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  UPDATE members SET name_key = lower(NEW.name), email_key = lower(NEW.email), last_login_at = NEW.last_login_at
   WHERE user_id = NEW.id;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roster_member_keys_sync() FROM PUBLIC;
DO $$ BEGIN
  EXECUTE format('CREATE POLICY members_keys_sync_read ON members FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY members_keys_sync ON members FOR UPDATE TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
CREATE TRIGGER users_member_keys_sync AFTER UPDATE OF name, email, last_login_at ON users FOR EACH ROW
  WHEN ((OLD.name, OLD.email, OLD.last_login_at) IS DISTINCT FROM (NEW.name, NEW.email, NEW.last_login_at))
  EXECUTE FUNCTION roster_member_keys_sync();

-- The request-path caches (migration 0007) never read the sort keys: a sign-in must not drop the person's
-- cached memberships, so the members trigger now ignores a change to the key columns alone.
DROP TRIGGER members_notify ON members;
CREATE TRIGGER members_notify AFTER INSERT OR DELETE ON members FOR EACH ROW EXECUTE FUNCTION roster_notify_change();
CREATE TRIGGER members_notify_update AFTER UPDATE ON members FOR EACH ROW
  WHEN ((to_jsonb(OLD) - 'name_key' - 'email_key' - 'last_login_at') IS DISTINCT FROM
        (to_jsonb(NEW) - 'name_key' - 'email_key' - 'last_login_at'))
  EXECUTE FUNCTION roster_notify_change();

-- One index per sort key, org first and the member id last (ties), so each sort and its cursor are a range scan
-- in either direction. status and role are sorted by the raw column (their values are lower-case keys).
CREATE INDEX members_sort_name ON members (org_id, name_key, id);
CREATE INDEX members_sort_email ON members (org_id, email_key, id);
CREATE INDEX members_sort_role ON members (org_id, role, id);
CREATE INDEX members_sort_status ON members (org_id, status, id);
CREATE INDEX members_sort_last_login ON members (org_id, last_login_at, id);
CREATE INDEX members_sort_created ON members (org_id, created_at, id);

-- Substring search on name and email: trigram indexes where the server ships pg_trgm (PostgreSQL contrib). They
-- are on users, which has no row security: under row security PostgreSQL does not use an index for an operator
-- that is not leakproof (ILIKE is not), so an index on members could never answer a search. The list asks
-- users for the matching people and keeps the org's members among them (members/queries.ts).
-- Where pg_trgm is missing (the embedded engine as Roster opens it), search filters the name order instead.
DO $$ BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available: member search runs without a trigram index';
  END;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    EXECUTE 'CREATE INDEX users_search_name ON users USING gin (name gin_trgm_ops)';
    EXECUTE 'CREATE INDEX users_search_email ON users USING gin (email gin_trgm_ops)';
  END IF;
END $$;

-- Member totals by status and role, kept by statement triggers in the same transaction as the change, so the
-- list's `total` is exact without counting 100,000 rows per page. Appends to one org are already serialized
-- by its audit chain head, so these rows add no new contention.
CREATE TABLE member_counts (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  status text NOT NULL,
  role text NOT NULL,
  n integer NOT NULL,
  PRIMARY KEY (org_id, status, role)
);
INSERT INTO member_counts (org_id, status, role, n)
  SELECT org_id, status, role, count(*)::int FROM members GROUP BY org_id, status, role;

ALTER TABLE member_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY member_counts_org ON member_counts USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
GRANT SELECT, INSERT, UPDATE ON member_counts TO roster_app;

CREATE FUNCTION roster_member_counts_apply() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  -- Deltas per (org, status, role): +1 for each new row version, -1 for each old one; unchanged pairs cancel.
  IF TG_OP = 'INSERT' THEN
    INSERT INTO member_counts AS c (org_id, status, role, n)
      SELECT org_id, status, role, count(*)::int FROM new_rows GROUP BY 1, 2, 3
      ON CONFLICT (org_id, status, role) DO UPDATE SET n = c.n + EXCLUDED.n;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE member_counts c SET n = c.n - d.k
      FROM (SELECT org_id, status, role, count(*)::int AS k FROM old_rows GROUP BY 1, 2, 3) d
     WHERE c.org_id = d.org_id AND c.status = d.status AND c.role = d.role;
  ELSE
    INSERT INTO member_counts AS c (org_id, status, role, n)
      SELECT org_id, status, role, sum(k)::int FROM (
        SELECT org_id, status, role, 1 AS k FROM new_rows
        UNION ALL SELECT org_id, status, role, -1 FROM old_rows) d
      GROUP BY 1, 2, 3 HAVING sum(k) <> 0
      ON CONFLICT (org_id, status, role) DO UPDATE SET n = c.n + EXCLUDED.n;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER members_counts_insert AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_member_counts_apply();
CREATE TRIGGER members_counts_update AFTER UPDATE ON members REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_member_counts_apply();
CREATE TRIGGER members_counts_delete AFTER DELETE ON members REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_member_counts_apply();
