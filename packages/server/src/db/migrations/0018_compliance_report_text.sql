-- A kept compliance report is stored as the JSON text it is answered with (`json`, which checks the text is
-- JSON and keeps it as written) rather than as `jsonb` (decision 0017, "Later"). At 100,000 members a report is
-- 66 MB of JSON: taking it apart into jsonb cost about 1 s of PostgreSQL's CPU when it was kept, writing it back
-- out as text 0.5 s each time it was read, and the process then parsed it and wrote it out again. Now the text
-- is written once and an organization-wide JSON answer is that text, unchanged.
ALTER TABLE compliance_reports ALTER COLUMN report TYPE json USING report::json;
