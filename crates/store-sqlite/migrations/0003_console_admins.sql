-- Console administrators, their one-time invites, console sessions and the sign-in throttle.
-- Times are Unix milliseconds.

CREATE TABLE console_admins (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    email            TEXT NOT NULL,
    password_hash    TEXT,
    created_at       INTEGER NOT NULL,
    last_sign_in_at  INTEGER,
    UNIQUE (org_id, email)
);

CREATE TABLE console_invites (
    token_hash  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    email       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

CREATE TABLE console_sessions (
    id_hash              TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL,
    admin_id             TEXT NOT NULL,
    csrf_token           TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    idle_expires_at      INTEGER NOT NULL,
    absolute_expires_at  INTEGER NOT NULL
);
CREATE INDEX console_sessions_admin ON console_sessions (org_id, admin_id);

-- One row per failed sign-in; rows older than the window are pruned as keys are counted.
CREATE TABLE console_sign_in_failures (
    key  TEXT NOT NULL,
    at   INTEGER NOT NULL
);
CREATE INDEX console_sign_in_failures_key ON console_sign_in_failures (key, at);
