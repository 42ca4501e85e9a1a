-- Custom roles (docs/decisions/0011-custom-roles.md): an organization's own roles inside its preset's
-- vocabulary. The org's effective policy is its preset plus these rows; every instance keeps it compiled in
-- memory and drops it when the trigger below reports a change (docs/decisions/0008-request-path-caches.md).

CREATE TABLE org_roles (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  key text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]*$' AND length(key) <= 48),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 80),
  description text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
  rank double precision NOT NULL CHECK (rank > 0),
  permissions text[] NOT NULL DEFAULT '{}',
  -- Bumped by every change: a write that relied on the role as cached checks it under lock (roles/guard.ts).
  version integer NOT NULL DEFAULT 1,
  created_by text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (org_id, key)
);

ALTER TABLE org_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_roles FORCE ROW LEVEL SECURITY;
CREATE POLICY org_roles_org ON org_roles USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON org_roles TO roster_app;

-- Same contract as roster_notify_change() of migration 0007: mark the transaction so the writing instance
-- waits for its own notification, and name the org whose roles changed ("roles <org>").
CREATE FUNCTION roster_notify_role_change() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  PERFORM set_config('roster.notified', 'on', true);
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('roster_cache', 'roles ' || NEW.org_id);
  ELSE
    PERFORM pg_notify('roster_cache', 'roles ' || OLD.org_id);
    IF TG_OP = 'UPDATE' AND NEW.org_id <> OLD.org_id THEN PERFORM pg_notify('roster_cache', 'roles ' || NEW.org_id); END IF;
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roster_notify_role_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_notify_role_change() TO roster_app;

CREATE TRIGGER org_roles_notify AFTER INSERT OR UPDATE OR DELETE ON org_roles FOR EACH ROW
  EXECUTE FUNCTION roster_notify_role_change();
