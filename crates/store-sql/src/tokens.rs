//! SCIM tokens.

use crate::{statement, Statement};

pub const REVOKE_SCIM_TOKEN: Statement = statement!(
    "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE org_id = $2 AND id = $3"
);

pub const UPDATE_SCIM_TOKENS_SET_DOMAINS: Statement =
    statement!("UPDATE scim_tokens SET domains = $1 WHERE org_id = $2 AND id = $3");
