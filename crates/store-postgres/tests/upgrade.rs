//! Migration 0008 on data written by the schema before it, in a schema of its own inside the
//! database at `PORTCULLIS_TEST_POSTGRES_URL` (without it, the test says it did not run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::{Connection, Row};

const BEFORE_0008: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_saml_sessions.sql"),
    include_str!("../migrations/0003_console_admins.sql"),
    include_str!("../migrations/0004_console_users.sql"),
    include_str!("../migrations/0005_console_admin_roles.sql"),
    include_str!("../migrations/0006_audit_filters.sql"),
    include_str!("../migrations/0007_audit_operation_index.sql"),
];

/// Login domains configured before 0008 are kept as claims verified by `upgrade`, except
/// public mail domains, which stop routing and say why.
#[tokio::test]
async fn login_domains_survive_the_upgrade_to_claims() {
    let Ok(url) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        println!("upgrade test did not run: PORTCULLIS_TEST_POSTGRES_URL is not set");
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let schema = format!("upgrade_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for sql in BEFORE_0008 {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
    let (a, b) = (
        "00000000-0000-0000-0000-00000000000a",
        "00000000-0000-0000-0000-00000000000b",
    );
    sqlx::raw_sql(&format!(
        "INSERT INTO organizations (id, slug, name, created_at) VALUES ('{a}', 'a', 'A', 0), ('{b}', 'b', 'B', 0);
         INSERT INTO saml_domains (domain, org_id) VALUES
             ('acme.com', '{a}'), ('gmail.com', '{a}'), ('gmx.de', '{b}'), ('gmx.example.com', '{b}');"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql(include_str!("../migrations/0008_login_domain_claims.sql"))
        .execute(&mut conn)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT domain, org_id::text AS org, proof, note, verification_value FROM login_domain_claims ORDER BY domain",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let summary: Vec<(String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get("domain"), r.get("org"), r.get("proof")))
        .collect();
    let old: Option<String> = sqlx::query_scalar(&format!(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = 'saml_domains'"
    ))
    .fetch_optional(&mut conn)
    .await
    .unwrap();
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&mut conn)
        .await
        .unwrap();
    let own =
        |d: &str, o: &str, p: Option<&str>| (d.to_string(), o.to_string(), p.map(String::from));
    assert_eq!(
        summary,
        vec![
            own("acme.com", a, Some("upgrade")),
            own("gmail.com", a, None),
            own("gmx.de", b, None),
            own("gmx.example.com", b, Some("upgrade")),
        ]
    );
    let note: Option<String> = rows[1].get("note");
    assert!(note.unwrap().contains("public mail domain"));
    let values: Vec<String> = rows.iter().map(|r| r.get("verification_value")).collect();
    assert!(values.iter().all(|v| v.len() == 32));
    assert_ne!(values[0], values[1], "each claim has its own value");
    assert_eq!(old, None, "saml_domains is gone");
}
