//! Rows to records and back: times are Unix milliseconds, ids hyphenated UUID text,
//! documents JSON text.

use crate::engine::backend;
use directory::model::{GroupRecord, ManagedBy, Organization, ScimTokenRecord, UserRecord};
use directory::store::{StoreError, StoreResult, UserGroup};
use directory::token::DomainList;
use rusqlite::Row;
use std::str::FromStr;
use time::OffsetDateTime;

pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(v as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn parse_uuid<T: FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Backend(format!("stored id '{s}' is not a UUID")))
}

fn parse_doc(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored document: {e}")))
}

fn managed(s: &str) -> StoreResult<ManagedBy> {
    ManagedBy::parse(s).ok_or_else(|| StoreError::Backend(format!("stored managed_by '{s}'")))
}

/// Maps a unique-key failure to `Conflict(what)`, anything else to `Backend`.
pub(crate) fn write_error(e: rusqlite::Error, what: &str) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, _) = &e {
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        {
            return StoreError::Conflict(what.to_string());
        }
    }
    backend(e)
}

fn text(row: &Row<'_>, i: usize) -> StoreResult<String> {
    row.get(i).map_err(backend)
}

fn opt_text(row: &Row<'_>, i: usize) -> StoreResult<Option<String>> {
    row.get(i).map_err(backend)
}

fn int(row: &Row<'_>, i: usize) -> StoreResult<i64> {
    row.get(i).map_err(backend)
}

/// Columns read by [`user`], in this order; a query may add `groups` after them.
pub(crate) const USER_COLUMNS: &str = "u.id, u.org_id, u.user_name, u.external_id, u.display_name, u.active, u.doc, u.managed_by, u.created_at, u.updated_at, u.version, u.emails_json";
/// Index of the column after [`USER_COLUMNS`].
pub(crate) const USER_GROUPS_INDEX: usize = 12;
/// A user's groups as a JSON array of `[id, displayName, scim_visible]`, after `USER_COLUMNS`.
pub(crate) const USER_GROUPS_COLUMN: &str =
    "(SELECT json_group_array(json_array(g.id, g.display_name, g.scim_visible)) \
     FROM group_members m JOIN groups g ON g.id = m.group_id \
     WHERE m.org_id = u.org_id AND m.member_id = u.id)";

pub(crate) fn user(row: &Row<'_>) -> StoreResult<UserRecord> {
    let emails = text(row, 11)?;
    Ok(UserRecord {
        id: parse_uuid(&text(row, 0)?)?,
        org_id: parse_uuid(&text(row, 1)?)?,
        user_name: text(row, 2)?,
        external_id: opt_text(row, 3)?,
        display_name: opt_text(row, 4)?,
        active: int(row, 5)? != 0,
        doc: parse_doc(&text(row, 6)?)?,
        managed_by: managed(&text(row, 7)?)?,
        created_at: from_ms(int(row, 8)?),
        updated_at: from_ms(int(row, 9)?),
        version: int(row, 10)?,
        emails: serde_json::from_str(&emails)
            .map_err(|e| StoreError::Backend(format!("stored emails: {e}")))?,
    })
}

/// Reads the [`USER_GROUPS_COLUMN`] at `index` (NULL when not selected), sorted by name.
pub(crate) fn user_groups(row: &Row<'_>, index: usize) -> StoreResult<Vec<UserGroup>> {
    let parsed: Vec<(String, String, i64)> = match opt_text(row, index)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Backend(format!("groups of a user: {e}")))?,
        None => Vec::new(),
    };
    let mut groups = Vec::with_capacity(parsed.len());
    for (gid, name, visible) in parsed {
        groups.push((parse_uuid(&gid)?, name, visible != 0));
    }
    groups.sort_by_key(|g: &UserGroup| g.1.to_lowercase());
    Ok(groups)
}

pub(crate) fn emails_json(u: &UserRecord) -> String {
    serde_json::Value::from(u.emails.clone()).to_string()
}

/// Columns read by [`group`], in this order.
pub(crate) const GROUP_COLUMNS: &str = store_sql::groups::GROUP_COLUMNS;

pub(crate) fn group(row: &Row<'_>) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        id: parse_uuid(&text(row, 0)?)?,
        org_id: parse_uuid(&text(row, 1)?)?,
        display_name: text(row, 2)?,
        external_id: opt_text(row, 3)?,
        doc: parse_doc(&text(row, 4)?)?,
        managed_by: managed(&text(row, 5)?)?,
        scim_visible: int(row, 6)? != 0,
        created_at: from_ms(int(row, 7)?),
        updated_at: from_ms(int(row, 8)?),
        version: int(row, 9)?,
    })
}

/// Columns read by [`token`], in this order.
pub(crate) const TOKEN_COLUMNS: &str = store_sql::tokens::TOKEN_COLUMNS;

pub(crate) fn token(row: &Row<'_>) -> StoreResult<ScimTokenRecord> {
    let domains = text(row, 5)?;
    Ok(ScimTokenRecord {
        id: parse_uuid(&text(row, 0)?)?,
        org_id: parse_uuid(&text(row, 1)?)?,
        name: text(row, 2)?,
        prefix: text(row, 3)?,
        hash: text(row, 4)?,
        domains: DomainList::from_stored(&domains).map_err(StoreError::Backend)?,
        created_at: from_ms(int(row, 6)?),
        last_used_at: row.get::<_, Option<i64>>(7).map_err(backend)?.map(from_ms),
        revoked_at: row.get::<_, Option<i64>>(8).map_err(backend)?.map(from_ms),
    })
}

/// Columns read by [`org`], in this order.
pub(crate) const ORG_COLUMNS: &str = "id, slug, name, created_at";

pub(crate) fn org(row: &Row<'_>) -> StoreResult<Organization> {
    Ok(Organization {
        id: parse_uuid(&text(row, 0)?)?,
        slug: text(row, 1)?,
        name: text(row, 2)?,
        created_at: from_ms(int(row, 3)?),
    })
}

/// Every row of a (cached) statement, mapped.
pub(crate) fn fetch_all<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = stmt.query(params).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// The first row of a (cached) statement, mapped, if there is one.
pub(crate) fn fetch_optional<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = stmt.query(params).map_err(backend)?;
    match rows.next().map_err(backend)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

/// Runs a (cached) statement that changes rows; returns how many.
pub(crate) fn execute(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// The number a `SELECT COUNT(*)` (or a stored count) answers; 0 when there is no row.
pub(crate) fn count(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<u64> {
    let n = fetch_optional(conn, sql, params, |r| r.get::<_, i64>(0).map_err(backend))?;
    Ok(n.unwrap_or(0).max(0) as u64)
}

/// A built statement's argument as SQLite binds it: ids as hyphenated text.
pub(crate) fn arg_value(arg: &store_sql::Arg) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match arg {
        store_sql::Arg::Text(s) => Value::Text(s.clone()),
        store_sql::Arg::Int(i) => Value::Integer(*i),
        store_sql::Arg::Bool(b) => Value::Integer(i64::from(*b)),
        store_sql::Arg::Id(id) => Value::Text(id.hyphenated().to_string()),
    }
}
