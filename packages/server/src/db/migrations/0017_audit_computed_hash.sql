-- Each audit row's hash, recomputed by the database, kept instead of the canonical text (decision 0019).
--
-- Migration 0005 stored every event's canonical form in a generated column, and verification hashed
-- `prev_hash || canonical` for every row each time: at 1,000,000 events, about 1.4 s of PostgreSQL's CPU per
-- verification (and per compliance report), and 326 bytes a row. `computed_hash` is a stored generated column
-- holding SHA-256(prev_hash ‖ canonical(event)) as lower-case hex, which is what the chain's `hash` must be.
-- PostgreSQL computes it on every INSERT and UPDATE from the row's own fields, and no role can write it
-- directly, so no field (prev_hash included) can change without it changing too. Verification compares
-- `hash` with it. As before, it first checks that the column and its function are as written here, and falls
-- back to recomputing every event in the process when they are not.
--
-- The canonical form is the one of migration 0005, written in this function's body. search_path is pinned so a
-- session cannot shadow to_json, to_char or sha256 while a row is being rewritten.
CREATE FUNCTION roster_audit_hash(
  prev_hash text, org_id text, seq bigint, id text, action text, actor_id text, target_id text, entity_type text,
  before text, after text, ip text, user_agent text, created_at timestamptz
) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $$
BEGIN
  RETURN encode(sha256(convert_to(prev_hash
      || '{"action":' || coalesce(to_json(action)::text, 'null')
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
      || '}', 'UTF8')), 'hex');
END
$$;

ALTER TABLE audit_events DROP COLUMN canonical;
DROP FUNCTION roster_audit_canonical(text, bigint, text, text, text, text, text, text, text, text, text, timestamptz);
ALTER TABLE audit_events ADD COLUMN computed_hash text GENERATED ALWAYS AS (
  roster_audit_hash(prev_hash, org_id, seq, id, action, actor_id, target_id, entity_type, before, after, ip, user_agent, created_at)
) STORED;
