-- Access reviews (docs/decisions/0014-access-reviews.md): a campaign freezes the members in scope as items at
-- the moment it starts; reviewers decide each item; completing applies the decisions through the member
-- services and seals the campaign. Nothing here is read on the request path, so no cache is notified.

CREATE TABLE access_reviews (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  id text NOT NULL,
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('open', 'completed')),
  -- The filter the campaign was started with ({roles, departments, storeIds, dormantDays}).
  scope jsonb NOT NULL,
  dormant_days integer NOT NULL,
  due_at timestamptz NOT NULL,
  -- The user who started it; null for a campaign the schedule started.
  created_by text,
  -- Set only for scheduled campaigns: one campaign per org and period, whichever instance gets there first.
  schedule_period text,
  created_at timestamptz NOT NULL,
  started_seq bigint,
  reminded_at timestamptz,
  completed_at timestamptz,
  completed_by text,
  -- The audit chain range that holds the campaign's applied changes and its completion event.
  applied_from_seq bigint,
  completed_seq bigint,
  completed_hash text,
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, schedule_period)
);
CREATE INDEX access_reviews_created_idx ON access_reviews (org_id, created_at DESC, id DESC);

CREATE TABLE access_review_items (
  org_id text NOT NULL,
  id text NOT NULL,
  review_id text NOT NULL,
  member_id text NOT NULL,
  user_id text NOT NULL,
  -- What the member was when the campaign started: the evidence an auditor reads.
  email text NOT NULL,
  name text NOT NULL,
  role text NOT NULL,
  status text NOT NULL,
  department text,
  store_ids text[] NOT NULL DEFAULT '{}',
  last_login_at timestamptz,
  dormant boolean NOT NULL,
  api_keys integer NOT NULL,
  -- The member (id) assigned to review this one; null when nobody in scope could.
  reviewer_id text,
  decision text CHECK (decision IN ('keep', 'revoke', 'change_role')),
  new_role text,
  note text,
  decided_by text,
  decided_at timestamptz,
  -- What completion did: applied, unchanged (nothing to do), not_decided, or failed (with the reason).
  outcome text CHECK (outcome IN ('applied', 'unchanged', 'not_decided', 'failed')),
  outcome_detail text,
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, review_id, member_id),
  -- No foreign key to members: the evidence outlives a removed member's purge.
  FOREIGN KEY (org_id, review_id) REFERENCES access_reviews(org_id, id) ON DELETE CASCADE
);
CREATE INDEX access_review_items_review_idx ON access_review_items (org_id, review_id, id);
CREATE INDEX access_review_items_reviewer_idx ON access_review_items (org_id, review_id, reviewer_id);

ALTER TABLE access_reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_reviews FORCE ROW LEVEL SECURITY;
CREATE POLICY access_reviews_org ON access_reviews USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());
ALTER TABLE access_review_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_review_items FORCE ROW LEVEL SECURITY;
CREATE POLICY access_review_items_org ON access_review_items USING (org_id = roster_org()) WITH CHECK (org_id = roster_org());

-- Campaigns and items are evidence: the application adds and updates them, never deletes them.
GRANT SELECT, INSERT, UPDATE ON access_reviews, access_review_items TO roster_app;
