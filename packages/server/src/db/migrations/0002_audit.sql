-- Audit log extensions and the shared job scheduler.

-- Periodic jobs shared by every Roster instance on this database. A run is claimed with one atomic UPDATE
-- (due and not leased), so each due run happens on exactly one instance. Not org-scoped: no RLS.
CREATE TABLE job_runs (
  name text PRIMARY KEY,
  next_run_at timestamptz NOT NULL,
  locked_until timestamptz,
  locked_by text,
  last_run_at timestamptz,
  last_finished_at timestamptz,
  last_error text
);
GRANT SELECT, INSERT, UPDATE ON job_runs TO roster_app;

-- Signed checkpoints: the Ed25519 signature over canonical {orgId, seq, hash}. The key lives outside the
-- database, so rewriting the chain and its checkpoints together is detectable. Append-only like the events.
CREATE TABLE audit_checkpoints (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  id text NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (org_id, id)
);
CREATE INDEX audit_checkpoints_seq_idx ON audit_checkpoints (org_id, seq DESC, created_at DESC);
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_checkpoints_read ON audit_checkpoints FOR SELECT USING (org_id = roster_org());
CREATE POLICY audit_checkpoints_insert ON audit_checkpoints FOR INSERT WITH CHECK (org_id = roster_org());
GRANT SELECT, INSERT ON audit_checkpoints TO roster_app;

-- Monthly compliance reports kept for each finished month: written once, never changed.
CREATE TABLE compliance_reports (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  last_seq bigint NOT NULL,
  last_hash text NOT NULL,
  report jsonb NOT NULL,
  generated_at timestamptz NOT NULL,
  PRIMARY KEY (org_id, month)
);
ALTER TABLE compliance_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE compliance_reports FORCE ROW LEVEL SECURITY;
CREATE POLICY compliance_reports_read ON compliance_reports FOR SELECT USING (org_id = roster_org());
CREATE POLICY compliance_reports_insert ON compliance_reports FOR INSERT WITH CHECK (org_id = roster_org());
GRANT SELECT, INSERT ON compliance_reports TO roster_app;

-- Time-range filters and the compliance report read the chain by time within an org.
CREATE INDEX audit_events_entity_idx ON audit_events (org_id, entity_type, seq);
