-- Admin roles: the organization's admin group (a SCIM-managed group whose direct members are
-- admins) and the local users granted the role; admin accounts linked to the directory user
-- they sign in as through SAML, and console sessions opened that way (checked on every request).
-- Times are Unix milliseconds.

ALTER TABLE console_admins ADD COLUMN user_id TEXT;
CREATE UNIQUE INDEX console_admins_user ON console_admins (org_id, user_id)
    WHERE user_id IS NOT NULL;

ALTER TABLE console_sessions ADD COLUMN sso_user_id TEXT;
CREATE INDEX console_sessions_sso_user ON console_sessions (org_id, sso_user_id)
    WHERE sso_user_id IS NOT NULL;

CREATE TABLE console_admin_group (
    org_id    TEXT PRIMARY KEY REFERENCES organizations(id),
    group_id  TEXT NOT NULL,
    set_at    INTEGER NOT NULL
);

CREATE TABLE console_admin_users (
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    user_id     TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
