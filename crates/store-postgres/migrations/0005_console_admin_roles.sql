-- Admin roles: the organization's admin group (a SCIM-managed group whose direct members are
-- admins) and the local users granted the role; admin accounts linked to the directory user
-- they sign in as through SAML, and console sessions opened that way (checked on every request).
-- Times are Unix milliseconds.

ALTER TABLE console_admins ADD COLUMN user_id UUID;
CREATE UNIQUE INDEX console_admins_user ON console_admins (org_id, user_id)
    WHERE user_id IS NOT NULL;

ALTER TABLE console_sessions ADD COLUMN sso_user_id UUID;
CREATE INDEX console_sessions_sso_user ON console_sessions (org_id, sso_user_id)
    WHERE sso_user_id IS NOT NULL;

CREATE TABLE console_admin_group (
    org_id    UUID PRIMARY KEY REFERENCES organizations(id),
    group_id  UUID NOT NULL,
    set_at    BIGINT NOT NULL
);

CREATE TABLE console_admin_users (
    org_id      UUID NOT NULL REFERENCES organizations(id),
    user_id     UUID NOT NULL,
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
