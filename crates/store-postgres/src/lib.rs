//! The directory's [`Store`] on PostgreSQL.
//!
//! Several Portcullis nodes share one database, so every write is a transaction that is safe
//! to run concurrently with the same write on another node:
//! - version-checked updates are one `UPDATE … WHERE version = $expected`: it takes the row
//!   lock, so concurrent writers of one row serialize and the loser sees `VersionMismatch`;
//! - `update_group` updates the group row *first*, so concurrent PATCHes of one group queue
//!   behind each other and no membership change is lost;
//! - adding a member takes a key-share lock on the member's row, so a concurrent delete of
//!   that user or group either waits for the add (and then removes the new membership) or
//!   wins (and the add reports `UnknownMember`): no membership ever points at nothing.
//!
//! The semantics (errors, ordering, what matches what) are those of the SQLite store; both
//! pass the same suite (`testkit::store_suite`).
//!
//! Files: one per sub-trait of [`Store`], the same list as store-sqlite's, each implementing
//! its trait for [`PostgresStore`]: `orgs.rs`, `admin_keys.rs`, `tokens.rs`, `users.rs` (with
//! the console's user list), `groups.rs` (with the console's keyset pages), `audit.rs`,
//! `saml.rs` (connections, AuthnRequests, replay cache), `sessions.rs`, `login_domains.rs`,
//! `console.rs` (admins, invites, console sessions, sign-in throttle), `console_roles.rs`.
//! Plumbing: `lib.rs` (the pool, migrations, [`Store::ping`]), `rows.rs` (rows to records,
//! errors), `query.rs` (the SQL of a `StoreQuery`: index keys, sort, window, scan chunks).
//!
//! SQL that both stores run alike lives once in `store-sql` (imported as `sql` in each file);
//! what stays here is PostgreSQL's own: arrays, `ON CONFLICT` upserts, advisory locks, the
//! `COLLATE "C"` ranges, `NULLS LAST`.

use async_trait::async_trait;
use directory::store::{Store, StoreError, StoreResult};
use rows::backend;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::Duration;

mod admin_keys;
mod audit;
mod console;
mod console_roles;
mod groups;
mod login_domains;
mod orgs;
mod query;
mod rows;
mod saml;
mod sessions;
mod tokens;
mod users;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many connections one node keeps to the database at most.
const POOL_SIZE: u32 = 10;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…`) with a pool of up to ten
    /// connections and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(backend)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(PostgresStore { pool })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query(store_sql::PING.postgres())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
