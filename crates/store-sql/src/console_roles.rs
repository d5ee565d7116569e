//! The admin group, the admin role and the link from an admin to their directory user.

use crate::{statement, Statement};

pub const DELETE_CONSOLE_ADMIN_GROUP: Statement =
    statement!("DELETE FROM console_admin_group WHERE org_id = $1");

pub const DELETE_CONSOLE_ADMIN_USERS_BY_USER_ID: Statement =
    statement!("DELETE FROM console_admin_users WHERE org_id = $1 AND user_id = $2");

pub const DELETE_CONSOLE_SESSIONS_BY_SSO_USER_ID: Statement =
    statement!("DELETE FROM console_sessions WHERE org_id = $1 AND sso_user_id = $2");

pub const DELETE_PENDING_CONSOLE_INVITES_BY_EMAIL: Statement =
    statement!("DELETE FROM console_invites WHERE org_id = $1 AND email = $2 AND used_at IS NULL");

pub const INSERT_CONSOLE_ADMIN_USERS: Statement = statement!("INSERT INTO console_admin_users (org_id, user_id, granted_at) VALUES ($1, $2, $3) ON CONFLICT (org_id, user_id) DO NOTHING");

pub const SELECT_CONSOLE_ADMIN_GROUP: Statement =
    statement!("SELECT group_id FROM console_admin_group WHERE org_id = $1");

pub const SELECT_CONSOLE_ADMIN_USERS: Statement = statement!(
    "SELECT user_id FROM console_admin_users WHERE org_id = $1 ORDER BY granted_at, user_id"
);

pub const UPDATE_CONSOLE_ADMINS_SET_USER_ID: Statement =
    statement!("UPDATE console_admins SET user_id = $1 WHERE org_id = $2 AND id = $3");

pub const SELECT_CONSOLE_ADMINS: Statement = statement!(concat!(
    "SELECT ",
    crate::console::admin_columns!(),
    " FROM console_admins WHERE org_id = $1 ORDER BY created_at, email"
));

pub const SELECT_CONSOLE_ADMINS_BY_USER_ID: Statement = statement!(concat!(
    "SELECT ",
    crate::console::admin_columns!(),
    " FROM console_admins WHERE org_id = $1 AND user_id = $2"
));
