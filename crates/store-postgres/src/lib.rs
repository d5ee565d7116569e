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

use crate::rows::backend;
use crate::rows::from_ms;
use crate::rows::get;
use crate::rows::managed;
use crate::rows::parse_doc;
use async_trait::async_trait;
use directory::ids::{GroupId, OrgId, TokenId, UserId};
use directory::model::{GroupRecord, Organization, ScimTokenRecord, UserRecord};
use directory::store::{Store, StoreError, StoreResult};
use directory::token::DomainList;
use sqlx::postgres::{PgPoolOptions, PgRow};
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

    fn user_from_row(row: &PgRow) -> StoreResult<UserRecord> {
        Ok(UserRecord {
            id: UserId(get(row, "id")?),
            org_id: OrgId(get(row, "org_id")?),
            user_name: get(row, "user_name")?,
            external_id: get(row, "external_id")?,
            display_name: get(row, "display_name")?,
            active: get(row, "active")?,
            emails: get::<Option<Vec<String>>>(row, "emails")?.unwrap_or_default(),
            doc: parse_doc(get(row, "doc")?)?,
            managed_by: managed(get(row, "managed_by")?)?,
            created_at: from_ms(get(row, "created_at")?),
            updated_at: from_ms(get(row, "updated_at")?),
            version: get(row, "version")?,
        })
    }

    fn group_from_row(row: &PgRow) -> StoreResult<GroupRecord> {
        Ok(GroupRecord {
            id: GroupId(get(row, "id")?),
            org_id: OrgId(get(row, "org_id")?),
            display_name: get(row, "display_name")?,
            external_id: get(row, "external_id")?,
            doc: parse_doc(get(row, "doc")?)?,
            managed_by: managed(get(row, "managed_by")?)?,
            scim_visible: get(row, "scim_visible")?,
            created_at: from_ms(get(row, "created_at")?),
            updated_at: from_ms(get(row, "updated_at")?),
            version: get(row, "version")?,
        })
    }

    fn token_from_row(row: &PgRow) -> StoreResult<ScimTokenRecord> {
        let domains: String = get(row, "domains")?;
        Ok(ScimTokenRecord {
            id: TokenId(get(row, "id")?),
            org_id: OrgId(get(row, "org_id")?),
            name: get(row, "name")?,
            prefix: get(row, "prefix")?,
            hash: get(row, "hash")?,
            domains: DomainList::from_stored(&domains).map_err(StoreError::Backend)?,
            created_at: from_ms(get(row, "created_at")?),
            last_used_at: get::<Option<i64>>(row, "last_used_at")?.map(from_ms),
            revoked_at: get::<Option<i64>>(row, "revoked_at")?.map(from_ms),
        })
    }

    fn org_from_row(row: &PgRow) -> StoreResult<Organization> {
        Ok(Organization {
            id: OrgId(get(row, "id")?),
            slug: get(row, "slug")?,
            name: get(row, "name")?,
            created_at: from_ms(get(row, "created_at")?),
        })
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
