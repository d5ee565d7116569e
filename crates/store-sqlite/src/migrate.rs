//! Forward-only migrations, applied at start. The schema's version is SQLite's
//! `user_version`; each migration runs in its own transaction with the version bump.

use crate::engine::backend;
use directory::store::{StoreError, StoreResult};
use rusqlite::Connection;

/// In order; a migration, once released, is never edited (add a new one instead).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "saml_sessions",
        include_str!("../migrations/0002_saml_sessions.sql"),
    ),
    (
        3,
        "console_admins",
        include_str!("../migrations/0003_console_admins.sql"),
    ),
    (
        4,
        "console_users",
        include_str!("../migrations/0004_console_users.sql"),
    ),
    (
        5,
        "console_admin_roles",
        include_str!("../migrations/0005_console_admin_roles.sql"),
    ),
    (
        6,
        "audit_filters",
        include_str!("../migrations/0006_audit_filters.sql"),
    ),
    (
        7,
        "audit_operation_index",
        include_str!("../migrations/0007_audit_operation_index.sql"),
    ),
    (
        10,
        "login_domain_claims",
        include_str!("../migrations/0010_login_domain_claims.sql"),
    ),
];

pub(crate) fn run(conn: &mut Connection) -> StoreResult<()> {
    let mut current: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend)?;
    let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > newest {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {current}, newer than this build knows ({newest}): run a newer Portcullis"
        )));
    }
    for (version, name, sql) in MIGRATIONS {
        if *version <= current {
            continue;
        }
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Backend(format!("migration {version} ({name}) failed: {e}"))
        })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(version, name, "applied SQLite migration");
        current = *version;
    }
    Ok(())
}
