//! Organizations.

use crate::{statement, Statement};

pub const INSERT_ORGANIZATIONS: Statement =
    statement!("INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)");
