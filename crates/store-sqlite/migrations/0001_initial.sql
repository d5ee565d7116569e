-- Times are Unix milliseconds (INTEGER); ids are hyphenated UUID text.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE scim_tokens (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    domains       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);

CREATE TABLE admin_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    prefix      TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    org_id              TEXT NOT NULL REFERENCES organizations(id),
    user_name           TEXT NOT NULL,
    user_name_lower     TEXT NOT NULL,
    external_id         TEXT,
    display_name        TEXT,
    display_name_lower  TEXT,
    active              INTEGER NOT NULL,
    -- The lower-cased email values as a JSON array; triggers keep user_emails in step.
    emails_json         TEXT NOT NULL DEFAULT '[]',
    doc                 TEXT NOT NULL,
    managed_by          TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL,
    UNIQUE (org_id, user_name_lower)
);
CREATE INDEX users_org_seq ON users (org_id, seq);
CREATE INDEX users_org_external ON users (org_id, external_id);
CREATE INDEX users_org_display ON users (org_id, display_name_lower);
CREATE INDEX users_org_updated ON users (org_id, updated_at);
CREATE INDEX users_org_created ON users (org_id, created_at);

CREATE TABLE user_emails (
    org_id       TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    email_lower  TEXT NOT NULL,
    PRIMARY KEY (user_id, email_lower)
) WITHOUT ROWID;
CREATE INDEX user_emails_lookup ON user_emails (org_id, email_lower);

-- The email index follows the users row, so writing a user is one statement.
CREATE TRIGGER users_emails_insert AFTER INSERT ON users BEGIN
    INSERT OR IGNORE INTO user_emails (org_id, user_id, email_lower)
        SELECT NEW.org_id, NEW.id, value FROM json_each(NEW.emails_json);
END;
CREATE TRIGGER users_emails_update AFTER UPDATE OF emails_json ON users
WHEN OLD.emails_json <> NEW.emails_json BEGIN
    DELETE FROM user_emails WHERE user_id = NEW.id;
    INSERT OR IGNORE INTO user_emails (org_id, user_id, email_lower)
        SELECT NEW.org_id, NEW.id, value FROM json_each(NEW.emails_json);
END;
CREATE TRIGGER users_emails_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_emails WHERE user_id = OLD.id;
END;

-- Users per organization, kept by triggers: an unfiltered list's totalResults is one row
-- read, not a walk over every user of the organization on every page.
CREATE TABLE org_user_counts (
    org_id  TEXT PRIMARY KEY,
    users   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    INSERT INTO org_user_counts (org_id, users) VALUES (NEW.org_id, 1)
        ON CONFLICT (org_id) DO UPDATE SET users = users + 1;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE org_user_counts SET users = users - 1 WHERE org_id = OLD.org_id;
END;

CREATE TABLE groups (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT NOT NULL UNIQUE,
    org_id              TEXT NOT NULL REFERENCES organizations(id),
    display_name        TEXT NOT NULL,
    display_name_lower  TEXT NOT NULL,
    external_id         TEXT,
    doc                 TEXT NOT NULL,
    managed_by          TEXT NOT NULL,
    scim_visible        INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    version             INTEGER NOT NULL
);
CREATE INDEX groups_org_seq ON groups (org_id, seq);
CREATE INDEX groups_org_display ON groups (org_id, display_name_lower);
CREATE INDEX groups_org_external ON groups (org_id, external_id);
CREATE INDEX groups_org_updated ON groups (org_id, updated_at);

-- One row per membership: a change costs O(changed members), never O(group size).
CREATE TABLE group_members (
    group_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    member_type  TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members (org_id, member_id);

CREATE TABLE audit_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         TEXT NOT NULL,
    at             INTEGER NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor_id       TEXT,
    operation      TEXT NOT NULL,
    resource_type  TEXT,
    resource_id    TEXT,
    status         INTEGER NOT NULL,
    detail         TEXT,
    request_id     TEXT
);
CREATE INDEX audit_org_seq ON audit_events (org_id, seq);
