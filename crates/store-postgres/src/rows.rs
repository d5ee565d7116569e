//! Rows to records and back: times are Unix milliseconds, ids UUIDs, documents JSON text;
//! database errors as [`StoreError`]s.

use crate::PostgresStore;
use directory::ids::{GroupId, OrgId, TokenId, UserId};
use directory::model::{GroupRecord, ManagedBy, Organization, ScimTokenRecord, UserRecord};
use directory::store::{StoreError, StoreResult};
use directory::token::DomainList;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint failure to `Conflict`, anything else to `Backend`.
pub(crate) fn write_error(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(what.to_string());
        }
    }
    backend(e)
}

pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(v as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An id as a client gave it, when it names a row: ids are compared exactly (as text in the
/// SQLite store), so only the canonical lower-case hyphenated form matches anything.
pub(crate) fn exact_uuid(s: &str) -> Option<Uuid> {
    let u = Uuid::parse_str(s).ok()?;
    (u.hyphenated().to_string() == s).then_some(u)
}

pub(crate) fn parse_doc(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored document: {e}")))
}

pub(crate) fn managed(s: &str) -> StoreResult<ManagedBy> {
    ManagedBy::parse(s).ok_or_else(|| StoreError::Backend(format!("stored managed_by '{s}'")))
}

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(backend)
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.org_id, u.user_name, u.external_id, u.display_name, u.active, u.doc, u.managed_by, u.created_at, u.updated_at, u.version, ARRAY(SELECT e.email_lower FROM user_emails e WHERE e.user_id = u.id ORDER BY e.email_lower) AS emails";

pub(crate) const GROUP_COLUMNS: &str = store_sql::groups::GROUP_COLUMNS;

/// Binds a built statement's arguments, in order.
pub(crate) fn bind_args<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    args: &[store_sql::Arg],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for arg in args {
        query = match arg {
            store_sql::Arg::Text(s) => query.bind(s.clone()),
            store_sql::Arg::Int(i) => query.bind(*i),
            store_sql::Arg::Bool(b) => query.bind(*b),
            store_sql::Arg::Id(id) => query.bind(*id),
        };
    }
    query
}

/// Records from rows selected as the `*_COLUMNS` of this file.
impl PostgresStore {
    pub(crate) fn user_from_row(row: &PgRow) -> StoreResult<UserRecord> {
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

    pub(crate) fn group_from_row(row: &PgRow) -> StoreResult<GroupRecord> {
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

    pub(crate) fn token_from_row(row: &PgRow) -> StoreResult<ScimTokenRecord> {
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

    pub(crate) fn org_from_row(row: &PgRow) -> StoreResult<Organization> {
        Ok(Organization {
            id: OrgId(get(row, "id")?),
            slug: get(row, "slug")?,
            name: get(row, "name")?,
            created_at: from_ms(get(row, "created_at")?),
        })
    }
}
