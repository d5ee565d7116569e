//! Login-domain claims.

use crate::{statement, Statement};

pub const INSERT_LOGIN_DOMAIN_CLAIMS: Statement = statement!("INSERT INTO login_domain_claims (org_id, domain, verification_value, proof, verified_at, last_checked_at, failed_checks, note, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (org_id, domain) DO NOTHING");

pub const SELECT_ORG_OF_VERIFIED_DOMAIN: Statement =
    statement!("SELECT org_id FROM login_domain_claims WHERE domain = $1 AND proof IS NOT NULL");

pub const UPDATE_LOGIN_DOMAIN_CLAIMS_CHECK_PASSED: Statement = statement!(
    "UPDATE login_domain_claims SET last_checked_at = $1, failed_checks = 0, note = NULL \
             WHERE org_id = $2 AND domain = $3"
);

pub const UPDATE_LOGIN_DOMAIN_CLAIMS_CHECK_UNANSWERED: Statement = statement!("UPDATE login_domain_claims SET last_checked_at = $1, note = $2 WHERE org_id = $3 AND domain = $4");
