//! Groups and their members.

use crate::{statement, Statement};

pub const DELETE_GROUPS_BY_ID: Statement =
    statement!("DELETE FROM groups WHERE org_id = $1 AND id = $2");

pub const INSERT_GROUPS: Statement = statement!("INSERT INTO groups (id, org_id, display_name, display_name_lower, external_id, doc, managed_by, scim_visible, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");

pub const SELECT_GROUP_VERSION: Statement =
    statement!("SELECT version FROM groups WHERE org_id = $1 AND id = $2");

pub const UPDATE_GROUP_ROW: Statement = statement!("UPDATE groups SET display_name = $1, display_name_lower = $2, external_id = $3, doc = $4, managed_by = $5, scim_visible = $6, updated_at = $7, version = $8 WHERE org_id = $9 AND id = $10 AND version = $11");
