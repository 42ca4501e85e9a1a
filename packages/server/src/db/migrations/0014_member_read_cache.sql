-- The member read answers from a cache of member + user rows (docs/decisions/0008-request-path-caches.md), and
-- shows the user's last sign-in: a sign-in must now drop it like a change of name or email does.
DROP TRIGGER users_notify ON users;
CREATE TRIGGER users_notify AFTER UPDATE ON users FOR EACH ROW
  WHEN ((OLD.email, OLD.name, OLD.password_hash, OLD.platform_role, OLD.last_login_at) IS DISTINCT FROM
        (NEW.email, NEW.name, NEW.password_hash, NEW.platform_role, NEW.last_login_at))
  EXECUTE FUNCTION roster_notify_change();
