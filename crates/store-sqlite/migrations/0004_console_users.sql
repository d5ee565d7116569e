-- The console's user list pages by keyset on seq under each filter: one index per
-- combination of status and source, so a page never walks rows it does not show.
CREATE INDEX users_org_active_seq ON users (org_id, active, seq);
CREATE INDEX users_org_managed_seq ON users (org_id, managed_by, seq);
CREATE INDEX users_org_managed_active_seq ON users (org_id, managed_by, active, seq);
-- Prefix search on userName is served by UNIQUE (org_id, user_name_lower), on displayName by
-- users_org_display, on emails by user_emails_lookup.
