-- A session records whether a second factor was verified for it: by an MFA sign-in, or by confirming a new
-- factor in it (docs/security.md). In an org that requires MFA, a session of a user who has a factor but never
-- verified it in that session — one that was signed in before the user enrolled elsewhere — answers
-- 403 mfa_required until the user signs in again with the factor.
ALTER TABLE sessions ADD COLUMN mfa_verified_at timestamptz;

-- Existing sessions: once a factor is confirmed, every sign-in asks for it, so a session started after its
-- user's factor was confirmed went through the second factor. Earlier ones cannot be told apart and stay unverified.
UPDATE sessions s SET mfa_verified_at = s.created_at
 WHERE s.revoked_at IS NULL
   AND EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = s.user_id AND f.confirmed_at IS NOT NULL AND f.confirmed_at <= s.created_at);
