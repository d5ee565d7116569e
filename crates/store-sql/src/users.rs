//! Users.

use crate::{statement, Statement};

pub const DELETE_USERS_BY_ID: Statement =
    statement!("DELETE FROM users WHERE org_id = $1 AND id = $2");

pub const SELECT_GROUPS_OF_USER: Statement = statement!("SELECT g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = $1 AND m.member_id = $2 ORDER BY g.display_name_lower, g.seq");

pub const SELECT_USER_VERSION: Statement =
    statement!("SELECT version FROM users WHERE org_id = $1 AND id = $2");
