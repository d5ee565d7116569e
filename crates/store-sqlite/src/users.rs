//! Users: rows, lookups, pages. Every statement is scoped by organization.

use crate::cursors::PageCursors;
use crate::engine::backend;
use crate::query::{
    order_by, page_is_complete, push_key, push_scan_key, push_scan_window, push_window,
};
use crate::rows::{
    self, count, emails_json, execute, fetch_all, fetch_optional, ms, parse_uuid, write_error,
    USER_COLUMNS, USER_GROUPS_COLUMN, USER_GROUPS_INDEX,
};
use directory::ids::{OrgId, UserId};
use directory::model::{Page, UserRecord};
use directory::query::{ScanQuery, SortKey, StoreQuery};
use directory::store::{ScannedUser, StoreError, StoreResult, UserChange, UserGroup};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};
use std::collections::HashMap;

pub(crate) fn insert(conn: &Connection, u: &UserRecord) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower, active, emails_json, doc, managed_by, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            u.id.to_string(),
            u.org_id.to_string(),
            u.user_name,
            u.user_name.to_lowercase(),
            u.external_id,
            u.display_name,
            u.display_name.as_ref().map(|d| d.to_lowercase()),
            u.active as i64,
            emails_json(u),
            u.doc.to_string(),
            u.managed_by.as_str(),
            ms(u.created_at),
            ms(u.updated_at),
            u.version,
        ],
    )
    .map_err(|e| write_error(e, "userName"))?;
    Ok(())
}

pub(crate) fn get(
    conn: &Connection,
    org: OrgId,
    id: UserId,
    with_groups: bool,
) -> StoreResult<Option<(UserRecord, Vec<UserGroup>)>> {
    let org = org.to_string();
    let id = id.to_string();
    if with_groups {
        fetch_optional(
            conn,
            &format!("SELECT {USER_COLUMNS}, {USER_GROUPS_COLUMN} FROM users u WHERE u.org_id = ? AND u.id = ?"),
            params![org, id],
            |r| Ok((rows::user(r)?, rows::user_groups(r, USER_GROUPS_INDEX)?)),
        )
    } else {
        fetch_optional(
            conn,
            &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.id = ?"),
            params![org, id],
            |r| Ok((rows::user(r)?, Vec::new())),
        )
    }
}

/// Writes a user row if it is still at `expected_version`; the email index and the
/// per-organization counts follow by trigger.
pub(crate) fn write_row(
    conn: &Connection,
    u: &UserRecord,
    expected_version: i64,
) -> StoreResult<()> {
    let changed = execute(
        conn,
        "UPDATE users SET user_name = ?, user_name_lower = ?, external_id = ?, display_name = ?, display_name_lower = ?, active = ?, emails_json = ?, doc = ?, managed_by = ?, updated_at = ?, version = ? WHERE org_id = ? AND id = ? AND version = ?",
        params![
            u.user_name,
            u.user_name.to_lowercase(),
            u.external_id,
            u.display_name,
            u.display_name.as_ref().map(|d| d.to_lowercase()),
            u.active as i64,
            emails_json(u),
            u.doc.to_string(),
            u.managed_by.as_str(),
            ms(u.updated_at),
            u.version,
            u.org_id.to_string(),
            u.id.to_string(),
            expected_version,
        ],
    )
    .map_err(|e| write_error(e, "userName"))?;
    if changed == 0 {
        let exists = fetch_optional(
            conn,
            "SELECT version FROM users WHERE org_id = ? AND id = ?",
            params![u.org_id.to_string(), u.id.to_string()],
            |_| Ok(()),
        )?;
        return Err(if exists.is_some() {
            StoreError::VersionMismatch
        } else {
            StoreError::NotFound
        });
    }
    Ok(())
}

/// Read-modify-write on the writer thread, inside its transaction: nothing interleaves.
pub(crate) fn modify(
    conn: &Connection,
    org: OrgId,
    id: UserId,
    change: UserChange,
) -> StoreResult<UserRecord> {
    let (current, _) = get(conn, org, id, false)?.ok_or(StoreError::NotFound)?;
    let next = change(&current).map_err(|e| StoreError::Refused(Box::new(e)))?;
    write_row(conn, &next, current.version)?;
    Ok(next)
}

pub(crate) fn delete(conn: &Connection, org: OrgId, id: UserId) -> StoreResult<()> {
    let (org, id) = (org.to_string(), id.to_string());
    let gone = execute(
        conn,
        "DELETE FROM users WHERE org_id = ? AND id = ?",
        params![org, id],
    )
    .map_err(backend)?;
    if gone == 0 {
        return Err(StoreError::NotFound);
    }
    execute(
        conn,
        "DELETE FROM group_members WHERE org_id = ? AND member_id = ?",
        params![org, id],
    )
    .map_err(backend)?;
    Ok(())
}

/// A page of users. Sequential pages in insertion order (an IdP's import) start from where
/// the previous page ended instead of walking every row before them (see [`PageCursors`]).
pub(crate) fn query(
    conn: &Connection,
    org: OrgId,
    q: &StoreQuery,
    with_groups: bool,
    cursors: &PageCursors,
) -> StoreResult<Page<(UserRecord, Vec<UserGroup>)>> {
    let org_s = org.to_string();
    let groups_column = if with_groups {
        USER_GROUPS_COLUMN
    } else {
        "NULL"
    };
    let sequential = q.key.is_none() && q.sort == SortKey::Seq && !q.descending;
    let generation = cursors.generation();
    let start_after = if sequential && q.offset > 0 {
        cursors.seq_before(org, q.offset)
    } else {
        None
    };
    let mut sql =
        format!("SELECT {USER_COLUMNS}, {groups_column}, u.seq FROM users u WHERE u.org_id = ?");
    let mut params = vec![Value::Text(org_s.clone())];
    if let Some(k) = &q.key {
        push_key(&mut sql, &mut params, "u", k);
    }
    if let Some(seq) = start_after {
        sql.push_str(" AND u.seq > ?");
        params.push(Value::Integer(seq));
    }
    sql.push_str(&order_by("u", q.sort, q.descending));
    match (start_after, q.limit) {
        (Some(_), Some(limit)) => {
            sql.push_str(" LIMIT ?");
            params.push(Value::Integer(limit.min(i64::MAX as u64) as i64));
        }
        (Some(_), None) => {}
        (None, _) => push_window(&mut sql, &mut params, q),
    }
    let mut last_seq = None;
    let items = fetch_all(conn, &sql, params_from_iter(params.iter()), |r| {
        Ok((
            rows::user(r)?,
            rows::user_groups(r, USER_GROUPS_INDEX)?,
            r.get::<_, i64>(USER_GROUPS_INDEX + 1).map_err(backend)?,
        ))
    })?
    .into_iter()
    .map(|(user, groups, seq)| {
        last_seq = Some(seq);
        (user, groups)
    })
    .collect::<Vec<_>>();
    if let (true, Some(seq), Some(_)) = (sequential, last_seq, q.limit) {
        cursors.remember(org, q.offset + items.len() as u64, seq, generation);
    }
    let total = if page_is_complete(q, items.len()) {
        items.len() as u64
    } else if q.key.is_none() {
        // Kept by triggers: one row, not a walk over the organization.
        count(
            conn,
            "SELECT users FROM org_user_counts WHERE org_id = ?",
            params![org_s],
        )?
    } else {
        let mut sql = "SELECT COUNT(*) FROM users u WHERE u.org_id = ?".to_string();
        let mut params = vec![Value::Text(org_s)];
        if let Some(k) = &q.key {
            push_key(&mut sql, &mut params, "u", k);
        }
        count(conn, &sql, params_from_iter(params.iter()))?
    };
    Ok(Page { total, items })
}

/// The statement of one scan chunk and its parameters (shared with the query-plan test).
pub(crate) fn scan_sql(org: OrgId, q: &ScanQuery, with_groups: bool) -> (String, Vec<Value>) {
    let groups_column = if with_groups {
        USER_GROUPS_COLUMN
    } else {
        "NULL"
    };
    let mut sql =
        format!("SELECT {USER_COLUMNS}, {groups_column}, u.seq FROM users u WHERE u.org_id = ?");
    let mut params = vec![Value::Text(org.to_string())];
    if let Some(k) = &q.key {
        push_scan_key(&mut sql, &mut params, "u", k);
    }
    push_scan_window(&mut sql, &mut params, "u", q);
    (sql, params)
}

/// One chunk of a keyset scan in seq order: at most `q.limit` rows, whatever the size of
/// the organization.
pub(crate) fn scan(
    conn: &Connection,
    org: OrgId,
    q: &ScanQuery,
    with_groups: bool,
) -> StoreResult<Vec<ScannedUser>> {
    let (sql, params) = scan_sql(org, q, with_groups);
    fetch_all(conn, &sql, params_from_iter(params.iter()), |r| {
        Ok((
            r.get::<_, i64>(USER_GROUPS_INDEX + 1).map_err(backend)?,
            rows::user(r)?,
            rows::user_groups(r, USER_GROUPS_INDEX)?,
        ))
    })
}

pub(crate) fn groups_of(
    conn: &Connection,
    org: OrgId,
    user: UserId,
) -> StoreResult<Vec<UserGroup>> {
    fetch_all(
        conn,
        "SELECT g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = ? AND m.member_id = ? ORDER BY g.display_name_lower, g.seq",
        params![org.to_string(), user.to_string()],
        |r| {
            Ok((
                parse_uuid(&r.get::<_, String>(0).map_err(backend)?)?,
                r.get(1).map_err(backend)?,
                r.get::<_, i64>(2).map_err(backend)? != 0,
            ))
        },
    )
}

/// The groups of several users (a page of a list): one statement per user, each an index
/// lookup on a cached statement.
pub(crate) fn groups_of_many(
    conn: &Connection,
    org: OrgId,
    users: &[UserId],
) -> StoreResult<HashMap<UserId, Vec<UserGroup>>> {
    let mut out = HashMap::with_capacity(users.len());
    for u in users {
        out.insert(*u, groups_of(conn, org, *u)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use directory::query::{Cmp, IndexKey, TextColumn, TextOp};
    use time::OffsetDateTime;

    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    fn keys() -> Vec<Option<IndexKey>> {
        let t = OffsetDateTime::UNIX_EPOCH;
        let mut keys = vec![
            None,
            Some(IndexKey::Id("x".into())),
            Some(IndexKey::UserNameLower("a".into())),
            Some(IndexKey::ExternalId("a".into())),
            Some(IndexKey::DisplayNameLower("a".into())),
            Some(IndexKey::EmailLower("a".into())),
            Some(IndexKey::Active(true)),
            Some(IndexKey::LastModified(Cmp::Gt, t)),
            Some(IndexKey::Created(Cmp::Le, t)),
            Some(IndexKey::Seqs(vec![3, 1, 2])),
        ];
        for column in [
            TextColumn::UserNameLower,
            TextColumn::DisplayNameLower,
            TextColumn::ExternalId,
            TextColumn::EmailLower,
        ] {
            for op in [TextOp::Prefix, TextOp::Contains, TextOp::Suffix] {
                keys.push(Some(IndexKey::Text(column, op, "ab".into())));
            }
        }
        keys
    }

    /// Every chunk of a scan walks an index in seq order and stops at its limit: no statement
    /// sorts the matches of its key (which would cost O(matches) per chunk), none scans the
    /// table outside an index.
    #[test]
    fn scan_chunks_walk_seq_order_without_sorting() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate::run(&mut conn).unwrap();
        let org = OrgId::new_random();
        for key in keys() {
            for with_groups in [false, true] {
                let q = ScanQuery {
                    key: key.clone(),
                    after_seq: 10,
                    limit: 500,
                };
                let (sql, params) = scan_sql(org, &q, with_groups);
                let p = plan(&conn, &sql, &params);
                let ctx = format!("{key:?}:\n{p}");
                assert!(!p.contains("TEMP B-TREE"), "{ctx}");
                assert!(!p.contains("SCAN u\n") && !p.ends_with("SCAN u"), "{ctx}");
                assert!(!p.contains("SCAN users"), "{ctx}");
                assert!(!p.contains("SCAN e"), "{ctx}");
            }
        }
    }

    /// A store page of `co`/`ew` counts its matches on the narrow column's index (an
    /// index-only walk), never by reading the users' rows.
    #[test]
    fn text_match_counts_read_only_the_narrow_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate::run(&mut conn).unwrap();
        let org = OrgId::new_random();
        for column in [
            TextColumn::UserNameLower,
            TextColumn::DisplayNameLower,
            TextColumn::ExternalId,
        ] {
            for op in [TextOp::Prefix, TextOp::Contains, TextOp::Suffix] {
                let key = IndexKey::Text(column, op, "ab".into());
                let mut sql = "SELECT COUNT(*) FROM users u WHERE u.org_id = ?".to_string();
                let mut params = vec![Value::Text(org.to_string())];
                push_key(&mut sql, &mut params, "u", &key);
                let p = plan(&conn, &sql, &params);
                assert!(p.contains("USING COVERING INDEX"), "{key:?}:\n{p}");
            }
        }
    }
}
