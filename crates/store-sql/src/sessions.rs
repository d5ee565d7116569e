//! SAML browser sessions.

use crate::{statement, Statement};

pub const DELETE_SESSIONS_BY_ID_HASH: Statement =
    statement!("DELETE FROM sessions WHERE id_hash = $1");

pub const DELETE_SESSIONS_BY_USER_ID: Statement =
    statement!("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2");

pub const INSERT_SESSIONS: Statement = statement!("INSERT INTO sessions (id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)");

pub const SELECT_SESSIONS_BY_ID_HASH: Statement = statement!("SELECT id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at FROM sessions WHERE id_hash = $1");

pub const SELECT_SESSIONS_BY_USER_ID: Statement = statement!("SELECT id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at FROM sessions WHERE org_id = $1 AND user_id = $2 ORDER BY created_at DESC, id_hash");
