-- The compliance report (docs/decisions/0017-compliance-report-at-scale.md) reads two kinds of events: those that
-- shape a membership (replayed for the month-end member list) and those it lists or sums for the month (role
-- changes, revocations, role definitions, access reviews, failed sign-ins). This partial index holds exactly those
-- events with every column the report reads, so the report reads them in seq order from the index (an index-only
-- scan once vacuum has marked the log's pages all-visible, which it does for an append-only table) instead of
-- from every page of the log. Only these actions pay for it when they are appended. The report's statements name
-- subsets of this list; the planner uses the index only while that holds (a test checks it).
CREATE INDEX audit_events_report ON audit_events (org_id, seq)
  INCLUDE (action, actor_id, target_id, created_at, before, after)
  WHERE action IN ('organization.created', 'team.invite_accepted', 'team.role_changed', 'team.deactivated',
                   'team.reactivated', 'team.removed', 'team.restored', 'team.purged', 'team.department_changed',
                   'team.invite_revoked', 'role.created', 'role.updated', 'role.deleted', 'access_review.started',
                   'access_review.completed', 'auth.sign_in_failed');
