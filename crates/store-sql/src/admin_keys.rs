//! The operator's API keys.

use crate::{statement, Statement};

pub const INSERT_ADMIN_KEYS: Statement = statement!(
    "INSERT INTO admin_keys (id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5)"
);

pub const SELECT_ADMIN_KEYS_BY_HASH: Statement =
    statement!("SELECT id, name, prefix, hash, created_at FROM admin_keys WHERE hash = $1");
