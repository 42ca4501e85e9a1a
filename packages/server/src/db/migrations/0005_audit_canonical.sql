-- The audit chain's canonical form, kept by the database (docs/audit.md, decision 0006).
--
-- `before` and `after` hold RFC 8785 canonical JSON text (written by record(); older rows are rewritten to it
-- by the data step that follows this migration), so the whole canonical event can be written in SQL.
-- `canonical` is a stored generated column: PostgreSQL recomputes it from the row's own fields on every
-- INSERT and UPDATE, so no field can change without the text that the row's hash covers changing with it.
-- Verification then hashes `prev_hash || canonical` inside the database, a range per CPU, instead of
-- shipping every row to the process; it first checks that this column and function are still as written
-- here, and falls back to recomputing every event in the process when they are not.

ALTER TABLE audit_events
  ALTER COLUMN before TYPE text USING before::text,
  ALTER COLUMN after TYPE text USING after::text;
ALTER TABLE audit_events
  ADD CONSTRAINT audit_events_before_json CHECK (before IS NULL OR before::json IS NOT NULL),
  ADD CONSTRAINT audit_events_after_json CHECK (after IS NULL OR after::json IS NOT NULL);

-- canonical(event): RFC 8785 JSON of the event's fields, keys in their fixed sorted order. Strings are
-- escaped by to_json, which escapes exactly what JSON.stringify does (", \, and U+0000..U+001F with \b \f \n
-- \r \t short forms, others as \u00xx). createdAt has millisecond precision as record() writes it; a time with
-- other microseconds (never written by record()) keeps them, so such an edit cannot produce the stored hash.
-- search_path is pinned so a session cannot shadow to_json or to_char while a row is being rewritten.
-- PL/pgSQL rather than SQL: a session compiles it once, where a SQL function that cannot be inlined is
-- planned again in every statement that calls it (every append).
CREATE FUNCTION roster_audit_canonical(
  org_id text, seq bigint, id text, action text, actor_id text, target_id text, entity_type text,
  before text, after text, ip text, user_agent text, created_at timestamptz
) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
BEGIN
  RETURN '{"action":' || coalesce(to_json(action)::text, 'null')
      || ',"actorId":' || coalesce(to_json(actor_id)::text, 'null')
      || ',"after":' || coalesce(after, 'null')
      || ',"before":' || coalesce(before, 'null')
      || ',"createdAt":' || coalesce('"' || to_char(created_at AT TIME ZONE 'UTC',
           CASE WHEN extract(microseconds FROM created_at AT TIME ZONE 'UTC')::bigint % 1000 = 0
                THEN 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END) || '"', 'null')
      || ',"entityType":' || coalesce(to_json(entity_type)::text, 'null')
      || ',"id":' || coalesce(to_json(id)::text, 'null')
      || ',"ip":' || coalesce(to_json(ip)::text, 'null')
      || ',"orgId":' || coalesce(to_json(org_id)::text, 'null')
      || ',"seq":' || coalesce(seq::text, 'null')
      || ',"targetId":' || coalesce(to_json(target_id)::text, 'null')
      || ',"userAgent":' || coalesce(to_json(user_agent)::text, 'null')
      || '}';
END
$$;

ALTER TABLE audit_events ADD COLUMN canonical text GENERATED ALWAYS AS (
  roster_audit_canonical(org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at)
) STORED;
