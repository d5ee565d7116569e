//! Pending AuthnRequests and the assertion replay cache.

use crate::{statement, Statement};

pub const DELETE_EXPIRED_SAML_AUTHN_REQUESTS: Statement =
    statement!("DELETE FROM saml_authn_requests WHERE expires_at < $1");

pub const DELETE_EXPIRED_SAML_SEEN_ASSERTIONS: Statement =
    statement!("DELETE FROM saml_seen_assertions WHERE until <= $1");

pub const INSERT_SAML_AUTHN_REQUESTS: Statement = statement!("INSERT INTO saml_authn_requests (org_id, request_id, return_to, expires_at) VALUES ($1, $2, $3, $4)");

pub const INSERT_SAML_SEEN_ASSERTIONS: Statement = statement!(
    "INSERT INTO saml_seen_assertions (org_id, assertion_id, until) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id, assertion_id) DO NOTHING"
);

pub const TAKE_SAML_AUTHN_REQUESTS_BY_REQUEST_ID: Statement = statement!("DELETE FROM saml_authn_requests WHERE org_id = $1 AND request_id = $2 RETURNING return_to, expires_at");
