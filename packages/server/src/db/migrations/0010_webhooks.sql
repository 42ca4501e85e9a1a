-- Events out (docs/decisions/0012-webhooks-and-event-stream.md): webhook endpoints, their delivery queue and
-- the log of every attempt, and the notification that wakes delivery workers and live event streams.

-- An org's webhook endpoints. The signing secret is sealed (AES-256-GCM, associated data `webhook:<id>`); after
-- a rotation the previous one keeps signing alongside until previous_secret_expires_at. The lease columns let
-- exactly one instance at a time deliver an endpoint's queue, which keeps its events in order.
CREATE TABLE webhook_endpoints (
  org_id text NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  id text NOT NULL,
  url text NOT NULL,
  description text,
  events text[] NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  secret text NOT NULL,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  -- Set at the first failed attempt after a success; an endpoint failing for 5 days is disabled.
  failing_since timestamptz,
  disabled_reason text,
  created_by text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  locked_by text,
  locked_until timestamptz,
  PRIMARY KEY (org_id, id)
);

-- One row per (endpoint, event): its id is the `webhook-id` every attempt carries. `position` orders an
-- endpoint's queue: audit events of one org are appended under the chain head's lock, so position follows seq.
-- Audit events are read from audit_events when sent (event_seq); a test event carries its own payload.
CREATE TABLE webhook_deliveries (
  org_id text NOT NULL,
  id text NOT NULL,
  endpoint_id text NOT NULL,
  position bigint GENERATED ALWAYS AS IDENTITY,
  event_type text NOT NULL,
  event_seq bigint,
  payload text,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_attempt_at timestamptz,
  response_status integer,
  response_body text,
  last_error text,
  created_at timestamptz NOT NULL,
  delivered_at timestamptz,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, endpoint_id) REFERENCES webhook_endpoints (org_id, id) ON DELETE CASCADE,
  CHECK ((event_seq IS NULL) <> (payload IS NULL))
);
-- The head of each endpoint's queue, and the delivery log newest first.
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (org_id, endpoint_id, position) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (org_id, endpoint_id, position DESC);

-- Every attempt, as the delivery log shows it (the first 1 KB of the response body).
CREATE TABLE webhook_attempts (
  org_id text NOT NULL,
  delivery_id text NOT NULL,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  response_status integer,
  response_body text,
  error text,
  PRIMARY KEY (org_id, delivery_id, attempt),
  FOREIGN KEY (org_id, delivery_id) REFERENCES webhook_deliveries (org_id, id) ON DELETE CASCADE
);

-- The delivery worker (scope roster.webhooks = on) finds due endpoints across orgs; everything else is per org.
CREATE FUNCTION roster_webhooks() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT coalesce(current_setting('roster.webhooks', true), '') = 'on' $$;
GRANT EXECUTE ON FUNCTION roster_webhooks() TO roster_app;

ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_endpoints_org ON webhook_endpoints
  USING (org_id = roster_org() OR roster_webhooks()) WITH CHECK (org_id = roster_org() OR roster_webhooks());
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_org ON webhook_deliveries
  USING (org_id = roster_org() OR roster_webhooks()) WITH CHECK (org_id = roster_org() OR roster_webhooks());
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_attempts_org ON webhook_attempts
  USING (org_id = roster_org() OR roster_webhooks()) WITH CHECK (org_id = roster_org() OR roster_webhooks());
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO roster_app;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries, webhook_attempts TO roster_app;

-- Does an endpoint's subscription list take this action? Entries are an action, a prefix ending in `.*`, or `*`.
CREATE FUNCTION roster_webhook_matches(p_events text[], p_action text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM unnest(p_events) AS e
     WHERE e = '*' OR e = p_action OR (right(e, 2) = '.*' AND starts_with(p_action, left(e, -1)))
  )
$$;
GRANT EXECUTE ON FUNCTION roster_webhook_matches(text[], text) TO roster_app;

-- Every audit event is queued for the org's enabled endpoints that take it, in the transaction that writes it:
-- nothing is sent for a change that rolled back, nothing is lost for one that committed, and no write path can
-- forget it. The notification (delivered at commit) wakes the delivery workers and the live streams at once;
-- its payload is the org and the seq, never the event.
CREATE FUNCTION roster_audit_event_out() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  INSERT INTO webhook_deliveries (org_id, id, endpoint_id, event_type, event_seq, status, next_attempt_at, created_at)
  SELECT NEW.org_id, 'msg_' || NEW.id || '_' || e.id, e.id, NEW.action, NEW.seq, 'pending', NEW.created_at, NEW.created_at
    FROM webhook_endpoints e
   WHERE e.org_id = NEW.org_id AND e.enabled AND roster_webhook_matches(e.events, NEW.action);
  PERFORM pg_notify('roster_events', NEW.org_id || ' ' || NEW.seq);
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION roster_audit_event_out() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION roster_audit_event_out() TO roster_app;
CREATE TRIGGER audit_events_out AFTER INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION roster_audit_event_out();
