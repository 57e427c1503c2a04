-- The person a token speaks for: the owner of what it opens through the
-- Statuspage Manage API, which has no owner field of its own
-- (`candor token create NAME --owner "Name <email>"`). Unset: none.
ALTER TABLE api_tokens ADD COLUMN owner TEXT;
