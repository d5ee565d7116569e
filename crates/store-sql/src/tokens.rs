//! SCIM tokens.

use crate::{statement, Statement};

pub const REVOKE_SCIM_TOKEN: Statement = statement!(
    "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE org_id = $2 AND id = $3"
);

pub const UPDATE_SCIM_TOKENS_SET_DOMAINS: Statement =
    statement!("UPDATE scim_tokens SET domains = $1 WHERE org_id = $2 AND id = $3");

/// The columns a SCIM token is read from, in this order (SQLite reads them by position).
macro_rules! token_columns {
    () => {
        "id, org_id, name, prefix, hash, domains, created_at, last_used_at, revoked_at"
    };
}

pub const TOKEN_COLUMNS: &str = token_columns!();

pub const SELECT_SCIM_TOKENS_BY_HASH: Statement = statement!(concat!(
    "SELECT ",
    token_columns!(),
    " FROM scim_tokens WHERE hash = $1"
));

pub const SELECT_SCIM_TOKENS: Statement = statement!(concat!(
    "SELECT ",
    token_columns!(),
    " FROM scim_tokens WHERE org_id = $1 ORDER BY created_at, id"
));
