-- Times are Unix milliseconds (BIGINT); ids are UUID. Text that is looked up or sorted is
-- COLLATE "C" so comparisons and ORDER BY are byte order, as in SQLite, whatever the
-- database's default collation.

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    slug        TEXT COLLATE "C" NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE scim_tokens (
    id            UUID PRIMARY KEY,
    org_id        UUID NOT NULL REFERENCES organizations(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    hash          TEXT COLLATE "C" NOT NULL UNIQUE,
    domains       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);

CREATE TABLE admin_keys (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                  UUID PRIMARY KEY,
    org_id              UUID NOT NULL REFERENCES organizations(id),
    user_name           TEXT NOT NULL,
    user_name_lower     TEXT COLLATE "C" NOT NULL,
    external_id         TEXT COLLATE "C",
    display_name        TEXT,
    display_name_lower  TEXT COLLATE "C",
    active              BOOLEAN NOT NULL,
    doc                 TEXT NOT NULL,
    managed_by          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL,
    UNIQUE (org_id, user_name_lower)
);
CREATE INDEX users_org_seq ON users (org_id, seq);
CREATE INDEX users_org_external ON users (org_id, external_id);
CREATE INDEX users_org_display ON users (org_id, display_name_lower);
CREATE INDEX users_org_updated ON users (org_id, updated_at);
CREATE INDEX users_org_created ON users (org_id, created_at);

CREATE TABLE user_emails (
    org_id       UUID NOT NULL,
    user_id      UUID NOT NULL,
    email_lower  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, email_lower)
);
CREATE INDEX user_emails_lookup ON user_emails (org_id, email_lower);

CREATE TABLE groups (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                  UUID PRIMARY KEY,
    org_id              UUID NOT NULL REFERENCES organizations(id),
    display_name        TEXT NOT NULL,
    display_name_lower  TEXT COLLATE "C" NOT NULL,
    external_id         TEXT COLLATE "C",
    doc                 TEXT NOT NULL,
    managed_by          TEXT NOT NULL,
    scim_visible        BOOLEAN NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    version             BIGINT NOT NULL
);
CREATE INDEX groups_org_seq ON groups (org_id, seq);
CREATE INDEX groups_org_display ON groups (org_id, display_name_lower);
CREATE INDEX groups_org_external ON groups (org_id, external_id);
CREATE INDEX groups_org_updated ON groups (org_id, updated_at);

-- One row per membership: a change costs O(changed members), never O(group size).
CREATE TABLE group_members (
    group_id     UUID NOT NULL,
    member_id    UUID NOT NULL,
    member_type  TEXT NOT NULL,
    org_id       UUID NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (org_id, member_id);

CREATE TABLE audit_events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         UUID NOT NULL,
    at             BIGINT NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT,
    operation      TEXT COLLATE "C" NOT NULL,
    resource_type  TEXT,
    resource_id    TEXT,
    status         INTEGER NOT NULL,
    detail         TEXT,
    request_id     TEXT
);
CREATE INDEX audit_org_seq ON audit_events (org_id, seq);
