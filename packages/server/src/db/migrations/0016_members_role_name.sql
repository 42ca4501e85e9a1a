-- The Team page's most common narrowing: one role, in the default name order (with or without a status). The name
-- index alone reads the whole org in name order and drops every other role's rows on the way (at 100,000 members
-- and a role held by one in nine, about 4,000 rows read for a page of 50 with a status as well). Role first, then
-- the name key and the member id, makes a role's name order one range in either direction, cursor included.
CREATE INDEX members_role_name ON members (org_id, role, name_key, id);
