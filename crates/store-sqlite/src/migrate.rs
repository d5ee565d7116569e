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
        8,
        "login_domain_claims",
        include_str!("../migrations/0008_login_domain_claims.sql"),
    ),
    (
        9,
        "audit_fold",
        include_str!("../migrations/0009_audit_fold.sql"),
    ),
    (
        10,
        "audit_succeeded_below_400",
        include_str!("../migrations/0010_audit_succeeded_below_400.sql"),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// domain, org_id, proof, note, verification_value
    type ClaimRow = (String, String, Option<String>, Option<String>, String);

    /// Login domains configured before 0008 are kept as claims verified by `upgrade`, except
    /// public mail domains, which stop routing and say why.
    #[test]
    fn login_domains_survive_the_upgrade_to_claims() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (version, _, sql) in MIGRATIONS.iter().filter(|m| m.0 < 8) {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
        }
        let (a, b) = (
            "00000000-0000-0000-0000-00000000000a",
            "00000000-0000-0000-0000-00000000000b",
        );
        conn.execute_batch(&format!(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ('{a}', 'a', 'A', 0), ('{b}', 'b', 'B', 0);
             INSERT INTO saml_domains (domain, org_id) VALUES
                 ('acme.com', '{a}'), ('gmail.com', '{a}'), ('gmx.de', '{b}'), ('gmx.example.com', '{b}');"
        ))
        .unwrap();
        run(&mut conn).unwrap();
        let rows: Vec<ClaimRow> = conn
            .prepare("SELECT domain, org_id, proof, note, verification_value FROM login_domain_claims ORDER BY domain")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let summary: Vec<(&str, &str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_deref()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("acme.com", a, Some("upgrade")),
                ("gmail.com", a, None),
                ("gmx.de", b, None),
                ("gmx.example.com", b, Some("upgrade")),
            ]
        );
        assert!(rows[1].3.as_deref().unwrap().contains("public mail domain"));
        assert!(rows.iter().all(|r| r.4.len() == 32));
        assert_ne!(rows[0].4, rows[1].4, "each claim has its own value");
        let old: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'saml_domains'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0);
    }
}
