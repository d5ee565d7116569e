-- SAML connections, login domains, pending AuthnRequests, the assertion replay cache and
-- browser sessions. Times are Unix milliseconds.

CREATE TABLE saml_connections (
    org_id                    TEXT PRIMARY KEY REFERENCES organizations(id),
    client_id                 TEXT NOT NULL UNIQUE,
    idp_metadata_xml          TEXT,
    idp_entity_id             TEXT,
    idp_metadata_uploaded_at  INTEGER,
    sp_key_pem                TEXT NOT NULL,
    sp_cert_pem               TEXT NOT NULL,
    jit                       INTEGER NOT NULL,
    idp_initiated             INTEGER NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);

-- A domain routes to one organization.
CREATE TABLE saml_domains (
    domain  TEXT PRIMARY KEY,
    org_id  TEXT NOT NULL REFERENCES organizations(id)
);
CREATE INDEX saml_domains_org ON saml_domains (org_id);

CREATE TABLE saml_authn_requests (
    org_id      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    return_to   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (org_id, request_id)
);
CREATE INDEX saml_authn_requests_expiry ON saml_authn_requests (expires_at);

CREATE TABLE saml_seen_assertions (
    org_id        TEXT NOT NULL,
    assertion_id  TEXT NOT NULL,
    until         INTEGER NOT NULL,
    PRIMARY KEY (org_id, assertion_id)
);
CREATE INDEX saml_seen_assertions_until ON saml_seen_assertions (until);

CREATE TABLE sessions (
    id_hash              TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL,
    user_id              TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    last_seen_at         INTEGER NOT NULL,
    idle_expires_at      INTEGER NOT NULL,
    absolute_expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (org_id, user_id);
