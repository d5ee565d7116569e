//! Console administrators, invitations, console sessions and the sign-in throttle.

use crate::{statement, Statement};

pub const DELETE_CONSOLE_SESSIONS_BY_ID_HASH: Statement =
    statement!("DELETE FROM console_sessions WHERE id_hash = $1");

pub const DELETE_CONSOLE_SIGN_IN_FAILURES_BY_KEY: Statement =
    statement!("DELETE FROM console_sign_in_failures WHERE key = $1");

pub const INSERT_CONSOLE_ADMINS: Statement = statement!("INSERT INTO console_admins (id, org_id, email, password_hash, created_at, last_sign_in_at, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7)");

pub const INSERT_CONSOLE_INVITES: Statement = statement!("INSERT INTO console_invites (token_hash, org_id, email, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6)");

pub const INSERT_CONSOLE_SESSIONS: Statement = statement!("INSERT INTO console_sessions (id_hash, org_id, admin_id, csrf_token, created_at, last_seen_at, idle_expires_at, absolute_expires_at, sso_user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");

pub const SELECT_CONSOLE_SESSIONS_BY_ID_HASH: Statement = statement!("SELECT id_hash, org_id, admin_id, csrf_token, created_at, last_seen_at, idle_expires_at, absolute_expires_at, sso_user_id FROM console_sessions WHERE id_hash = $1");

pub const UPDATE_CONSOLE_ADMINS_SET_LAST_SIGN_IN_AT: Statement =
    statement!("UPDATE console_admins SET last_sign_in_at = $1 WHERE org_id = $2 AND id = $3");

pub const UPDATE_CONSOLE_ADMINS_SET_PASSWORD_HASH: Statement =
    statement!("UPDATE console_admins SET password_hash = $1 WHERE org_id = $2 AND id = $3");

/// The columns a console admin is read from, in this order (SQLite reads them by position).
macro_rules! admin_columns {
    () => {
        "id, org_id, email, password_hash, created_at, last_sign_in_at, user_id"
    };
}
pub(crate) use admin_columns;

pub const ADMIN_COLUMNS: &str = admin_columns!();

pub const SELECT_CONSOLE_ADMINS_BY_EMAIL: Statement = statement!(concat!(
    "SELECT ",
    admin_columns!(),
    " FROM console_admins WHERE org_id = $1 AND email = $2"
));

pub const SELECT_CONSOLE_ADMINS_BY_ID: Statement = statement!(concat!(
    "SELECT ",
    admin_columns!(),
    " FROM console_admins WHERE org_id = $1 AND id = $2"
));
