//! Groups and their members.

use crate::{statement, Statement};

pub const DELETE_GROUPS_BY_ID: Statement =
    statement!("DELETE FROM groups WHERE org_id = $1 AND id = $2");

pub const INSERT_GROUPS: Statement = statement!("INSERT INTO groups (id, org_id, display_name, display_name_lower, external_id, doc, managed_by, scim_visible, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");

pub const SELECT_GROUP_VERSION: Statement =
    statement!("SELECT version FROM groups WHERE org_id = $1 AND id = $2");

pub const UPDATE_GROUP_ROW: Statement = statement!("UPDATE groups SET display_name = $1, display_name_lower = $2, external_id = $3, doc = $4, managed_by = $5, scim_visible = $6, updated_at = $7, version = $8 WHERE org_id = $9 AND id = $10 AND version = $11");

/// The columns a group is read from, in this order (SQLite reads them by position).
macro_rules! group_columns {
    () => {
        "g.id, g.org_id, g.display_name, g.external_id, g.doc, g.managed_by, g.scim_visible, g.created_at, g.updated_at, g.version"
    };
}

pub const GROUP_COLUMNS: &str = group_columns!();

pub const SELECT_GROUPS_BY_ID: Statement = statement!(concat!(
    "SELECT ",
    group_columns!(),
    " FROM groups g WHERE g.org_id = $1 AND g.id = $2"
));
