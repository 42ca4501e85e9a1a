-- Large organizations, part two (docs/decisions/0016-audit-time-marks-and-store-lists.md): an audit feed with a
-- time range and a member list filtered by store, both as index range scans at 1,000,000 events and 100,000
-- members. Both tables below are derived, kept by triggers in the same transaction as the rows they mirror, and
-- left out of backups (restoring the source rows rebuilds them through the same triggers).

-- Audit time marks: for each org and hour (UTC, hours since the epoch), the lowest and highest seq of the events
-- whose created_at falls in it. A time range becomes a seq range that holds every event of the range, even when
-- a chain's times are not in seq order (two requests racing for the head, clocks of two instances): the feed
-- then walks seq inside it. Deleting events (an org deleted) can only leave a mark wider than needed, never
-- narrower, so a stale mark is still a correct bound.
CREATE TABLE audit_time_marks (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  hour bigint NOT NULL,
  min_seq bigint NOT NULL,
  max_seq bigint NOT NULL,
  PRIMARY KEY (org_id, hour)
);
INSERT INTO audit_time_marks (org_id, hour, min_seq, max_seq)
  SELECT org_id, floor(extract(epoch FROM created_at) / 3600)::bigint, min(seq), max(seq)
    FROM audit_events GROUP BY 1, 2;

ALTER TABLE audit_time_marks ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_time_marks FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_time_marks_org ON audit_time_marks USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
GRANT SELECT, INSERT, UPDATE ON audit_time_marks TO roster_app;

-- One statement per append (record() writes one row; a restore or a bulk load many), one mark row per hour.
CREATE FUNCTION roster_audit_time_marks_apply() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  INSERT INTO audit_time_marks AS m (org_id, hour, min_seq, max_seq)
    SELECT org_id, floor(extract(epoch FROM created_at) / 3600)::bigint, min(seq), max(seq) FROM new_rows GROUP BY 1, 2
    ON CONFLICT (org_id, hour) DO UPDATE SET min_seq = least(m.min_seq, EXCLUDED.min_seq),
                                             max_seq = greatest(m.max_seq, EXCLUDED.max_seq)
     WHERE EXCLUDED.min_seq < m.min_seq OR EXCLUDED.max_seq > m.max_seq;
  RETURN NULL;
END $$;
CREATE TRIGGER audit_events_time_marks AFTER INSERT ON audit_events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_audit_time_marks_apply();

-- Store lists: one row per member and store they are granted, with the member's sort keys (migration 0008), so a
-- store filter with any sort is a range of one `(org_id, store, key, member_id)` index. The array column on
-- members stays the source; row security rules out an index on it (`@>` is not leakproof).
CREATE TABLE member_stores (
  org_id text NOT NULL,
  store text NOT NULL,
  member_id text NOT NULL,
  name_key text NOT NULL,
  email_key text NOT NULL,
  role text NOT NULL,
  status text NOT NULL,
  last_login_at timestamptz,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (org_id, store, member_id)
);
INSERT INTO member_stores (org_id, store, member_id, name_key, email_key, role, status, last_login_at, created_at)
  SELECT DISTINCT ON (m.org_id, s.store, m.id) m.org_id, s.store, m.id, m.name_key, m.email_key, m.role, m.status,
         m.last_login_at, m.created_at
    FROM members m CROSS JOIN LATERAL unnest(m.store_ids) AS s(store);
CREATE INDEX member_stores_by_member ON member_stores (org_id, member_id);
CREATE INDEX member_stores_sort_name ON member_stores (org_id, store, name_key, member_id);
CREATE INDEX member_stores_sort_email ON member_stores (org_id, store, email_key, member_id);
CREATE INDEX member_stores_sort_role ON member_stores (org_id, store, role, member_id);
CREATE INDEX member_stores_sort_status ON member_stores (org_id, store, status, member_id);
CREATE INDEX member_stores_sort_last_login ON member_stores (org_id, store, last_login_at, member_id);
CREATE INDEX member_stores_sort_created ON member_stores (org_id, store, created_at, member_id);

ALTER TABLE member_stores ENABLE ROW LEVEL SECURITY;
ALTER TABLE member_stores FORCE ROW LEVEL SECURITY;
CREATE POLICY member_stores_org ON member_stores USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
-- A sign-in or a rename rewrites the sort keys of the person's memberships as the migrating role with no org
-- bound (roster_member_keys_sync, migration 0008); these two policies let that role follow on the store rows.
DO $$ BEGIN
  EXECUTE format('CREATE POLICY member_stores_keys_sync_read ON member_stores FOR SELECT TO %I USING (true)', current_user);
  EXECUTE format('CREATE POLICY member_stores_keys_sync ON member_stores FOR ALL TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, DELETE ON member_stores TO roster_app;

CREATE FUNCTION roster_member_stores_apply() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM member_stores ms USING old_rows o WHERE ms.org_id = o.org_id AND ms.member_id = o.id;
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    -- Only the members whose stores or sort keys changed: an update of other columns leaves their rows alone.
    DELETE FROM member_stores ms USING old_rows o
     WHERE ms.org_id = o.org_id AND ms.member_id = o.id
       AND NOT EXISTS (
         SELECT 1 FROM new_rows n WHERE n.org_id = o.org_id AND n.id = o.id
            AND (n.store_ids, n.name_key, n.email_key, n.role, n.status, n.last_login_at, n.created_at)
                IS NOT DISTINCT FROM (o.store_ids, o.name_key, o.email_key, o.role, o.status, o.last_login_at, o.created_at));
  END IF;
  -- New members, and changed ones (their rows were just deleted); unchanged members still have theirs.
  INSERT INTO member_stores (org_id, store, member_id, name_key, email_key, role, status, last_login_at, created_at)
    SELECT DISTINCT ON (n.org_id, s.store, n.id) n.org_id, s.store, n.id, n.name_key, n.email_key, n.role, n.status,
           n.last_login_at, n.created_at
      FROM new_rows n CROSS JOIN LATERAL unnest(n.store_ids) AS s(store)
     WHERE NOT EXISTS (SELECT 1 FROM member_stores ms WHERE ms.org_id = n.org_id AND ms.member_id = n.id);
  RETURN NULL;
END $$;
CREATE TRIGGER members_stores_insert AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_member_stores_apply();
CREATE TRIGGER members_stores_update AFTER UPDATE ON members REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_member_stores_apply();
CREATE TRIGGER members_stores_delete AFTER DELETE ON members REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION roster_member_stores_apply();

-- The embedded engine now loads pg_trgm too: a database migrated past 0008 without it gets the search indexes here
-- (where 0008 made them, nothing changes).
DO $$ BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available: member search runs without a trigram index';
  END;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    EXECUTE 'CREATE INDEX IF NOT EXISTS users_search_name ON users USING gin (name gin_trgm_ops)';
    EXECUTE 'CREATE INDEX IF NOT EXISTS users_search_email ON users USING gin (email gin_trgm_ops)';
  END IF;
END $$;
