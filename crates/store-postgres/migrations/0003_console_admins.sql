-- Console administrators, their one-time invites, console sessions and the sign-in throttle.
-- Times are Unix milliseconds.

CREATE TABLE console_admins (
    id               UUID PRIMARY KEY,
    org_id           UUID NOT NULL REFERENCES organizations(id),
    email            TEXT COLLATE "C" NOT NULL,
    password_hash    TEXT,
    created_at       BIGINT NOT NULL,
    last_sign_in_at  BIGINT,
    UNIQUE (org_id, email)
);

CREATE TABLE console_invites (
    token_hash  TEXT COLLATE "C" PRIMARY KEY,
    org_id      UUID NOT NULL REFERENCES organizations(id),
    email       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE console_sessions (
    id_hash              TEXT COLLATE "C" PRIMARY KEY,
    org_id               UUID NOT NULL,
    admin_id             UUID NOT NULL,
    csrf_token           TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    last_seen_at         BIGINT NOT NULL,
    idle_expires_at      BIGINT NOT NULL,
    absolute_expires_at  BIGINT NOT NULL
);
CREATE INDEX console_sessions_admin ON console_sessions (org_id, admin_id);

-- One row per failed sign-in; rows older than the window are pruned as keys are counted.
CREATE TABLE console_sign_in_failures (
    key  TEXT COLLATE "C" NOT NULL,
    at   BIGINT NOT NULL
);
CREATE INDEX console_sign_in_failures_key ON console_sign_in_failures (key, at);
