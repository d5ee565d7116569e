//! Users: rows, lookups, pages, scans and the console's user list. Every statement is scoped
//! by organization.

use crate::cursors::PageCursors;
use crate::engine::backend;
use crate::query::{
    order_by, page_is_complete, push_key, push_scan_key, push_scan_window, push_window,
};
use crate::rows::arg_value;
use crate::rows::{
    count, emails_json, execute, fetch_all, fetch_optional, ms, parse_uuid, write_error,
    USER_COLUMNS, USER_GROUPS_COLUMN, USER_GROUPS_INDEX,
};
use crate::{rows, SqliteStore};
use async_trait::async_trait;
use directory::ids::{OrgId, UserId};
use directory::model::{Page, UserRecord};
use directory::query::{ScanQuery, SortKey, StoreQuery, UserListPage, UserListQuery};
use directory::store::{ScannedUser, StoreError, StoreResult, UserChange, UserGroup, UserStore};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};
use std::sync::Arc;
use store_sql::users as sql;
use store_sql::{Arg, Dialect, Sql};

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
            sql::SELECT_USER_VERSION.sqlite(),
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
    let gone =
        execute(conn, sql::DELETE_USERS_BY_ID.sqlite(), params![org, id]).map_err(backend)?;
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
        sql::SELECT_GROUPS_OF_USER.sqlite(),
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

/// ` AND {col} >= ? [AND {col} < ?]`: the strings starting with the prefix, an index range in
/// binary order (no upper end when the prefix is only U+10FFFF characters).
/// A built statement as rusqlite takes it.
fn sqlite_parts(sql: Sql) -> (String, Vec<Value>) {
    let params = sql.args().iter().map(arg_value).collect();
    (sql.text().to_string(), params)
}

/// Matches counted at most per searched column before a prefix counts as broad.
const BROAD: i64 = 2_000;

/// Whether a prefix matches many users (at least [`BROAD`] in some column). Each count stops
/// at [`BROAD`] index entries, so asking costs O(1).
pub(crate) fn is_broad(conn: &Connection, org: OrgId, prefix: &str) -> StoreResult<bool> {
    for (table, col) in [
        ("users", "user_name_lower"),
        ("users", "display_name_lower"),
        ("user_emails", "email_lower"),
    ] {
        let mut sql = Sql::new(
            Dialect::Sqlite,
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE org_id = "),
        );
        sql.push_arg(Arg::Id(org.0))
            .push_prefix_range(col, prefix)
            .push(" LIMIT ")
            .push_arg(Arg::Int(BROAD))
            .push(")");
        let (sql, params) = sqlite_parts(sql);
        let n = count(conn, &sql, params_from_iter(params.iter()))?;
        if n as i64 >= BROAD {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The horizon of a bounded broad search ([`sql::list_horizon`]).
pub(crate) fn horizon_sql(org: OrgId, q: &UserListQuery, scan_limit: u32) -> (String, Vec<Value>) {
    sqlite_parts(sql::list_horizon(Dialect::Sqlite, org.0, q, scan_limit))
}

/// The statement of a page and its parameters ([`sql::list_page`], shared with the
/// query-plan test).
pub(crate) fn page_sql(
    org: OrgId,
    q: &UserListQuery,
    broad: bool,
    horizon: Option<i64>,
) -> (String, Vec<Value>) {
    sqlite_parts(sql::list_page(
        Dialect::Sqlite,
        USER_COLUMNS,
        org.0,
        q,
        broad,
        horizon,
    ))
}

pub(crate) fn list_page(
    conn: &Connection,
    org: OrgId,
    q: &UserListQuery,
) -> StoreResult<UserListPage> {
    let broad = match &q.prefix {
        Some(p) => is_broad(conn, org, p)?,
        None => false,
    };
    let horizon = match (broad, q.scan_limit) {
        (true, Some(n)) => {
            let (sql, params) = horizon_sql(org, q, n);
            fetch_all(conn, &sql, params_from_iter(params.iter()), |r| {
                r.get::<_, i64>(0).map_err(backend)
            })?
            .first()
            .copied()
        }
        _ => None,
    };
    let (sql, params) = page_sql(org, q, broad, horizon);
    // USER_COLUMNS end with the emails; seq follows them.
    let mut rows = fetch_all(conn, &sql, params_from_iter(params.iter()), |r| {
        Ok((
            r.get::<_, i64>(USER_GROUPS_INDEX).map_err(backend)?,
            rows::user(r)?,
        ))
    })?;
    if q.before_seq.is_some() {
        rows.reverse();
    }
    let searched_to = horizon.filter(|_| rows.len() < q.limit as usize);
    Ok(UserListPage { rows, searched_to })
}

#[cfg(test)]
mod list_page_tests {
    use super::*;
    use directory::model::ManagedBy;

    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    /// Every combination of search, status, source and cursor is served by an index: no
    /// statement scans the users table, and without a narrow search none sorts.
    #[test]
    fn every_combination_is_served_by_an_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::migrate::run(&mut conn).unwrap();
        let org = OrgId::new_random();
        for prefix in [None, Some("ann")] {
            for broad in [false, true] {
                for active in [None, Some(true), Some(false)] {
                    for managed_by in [None, Some(ManagedBy::Scim), Some(ManagedBy::Local)] {
                        for (after_seq, before_seq) in
                            [(None, None), (Some(5), None), (None, Some(5))]
                        {
                            let q = UserListQuery {
                                prefix: prefix.map(str::to_string),
                                active,
                                managed_by,
                                after_seq,
                                before_seq,
                                limit: 51,
                                scan_limit: Some(20_000),
                            };
                            // The horizon is a walk of a covering index: no table row read.
                            let (sql, params) = horizon_sql(org, &q, 20_000);
                            let p = plan(&conn, &sql, &params);
                            assert!(p.contains("USING COVERING INDEX"), "{q:?}:\n{p}");
                            assert!(!p.contains("TEMP B-TREE"), "{q:?}:\n{p}");
                            let horizon = broad.then_some(1_000);
                            let (sql, params) = page_sql(org, &q, broad, horizon);
                            let p = plan(&conn, &sql, &params);
                            let ctx = format!("{q:?} broad={broad}:\n{p}");
                            assert!(!p.contains("SCAN u\n") && !p.ends_with("SCAN u"), "{ctx}");
                            assert!(!p.contains("SCAN users"), "{ctx}");
                            assert!(!p.contains("SCAN e"), "{ctx}");
                            if prefix.is_none() || broad {
                                assert!(!p.contains("TEMP B-TREE FOR ORDER BY"), "{ctx}");
                            }
                        }
                    }
                }
            }
        }
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        let u = u.clone();
        self.engine.write(move |c| insert(c, &u)).await
    }

    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<Option<UserRecord>> {
        let found = self.engine.read(move |c| get(c, org, id, false)).await?;
        Ok(found.map(|(u, _)| u))
    }

    async fn update_user(&self, u: &UserRecord, expected_version: i64) -> StoreResult<()> {
        let u = u.clone();
        self.engine
            .write(move |c| write_row(c, &u, expected_version))
            .await
    }

    async fn modify_user(
        &self,
        org: OrgId,
        id: UserId,
        change: UserChange,
    ) -> StoreResult<UserRecord> {
        self.engine.write(move |c| modify(c, org, id, change)).await
    }

    async fn get_user_with_groups(
        &self,
        org: OrgId,
        id: UserId,
        with_groups: bool,
    ) -> StoreResult<Option<(UserRecord, Vec<UserGroup>)>> {
        self.engine
            .read(move |c| get(c, org, id, with_groups))
            .await
    }

    async fn delete_user(&self, org: OrgId, id: UserId) -> StoreResult<()> {
        // Every later position of a page moves: what import cursors remember is void.
        let _deleting = self.cursors.deleting();
        self.engine.write(move |c| delete(c, org, id)).await
    }

    async fn query_users(&self, org: OrgId, q: &StoreQuery) -> StoreResult<Page<UserRecord>> {
        let page = self.query_users_with_groups(org, q, false).await?;
        Ok(Page {
            total: page.total,
            items: page.items.into_iter().map(|(u, _)| u).collect(),
        })
    }

    async fn query_users_with_groups(
        &self,
        org: OrgId,
        q: &StoreQuery,
        with_groups: bool,
    ) -> StoreResult<Page<(UserRecord, Vec<UserGroup>)>> {
        let point = crate::query::is_point_lookup(q);
        let (q, cursors) = (q.clone(), Arc::clone(&self.cursors));
        let work = move |c: &rusqlite::Connection| query(c, org, &q, with_groups, &cursors);
        if point {
            self.engine.read(work).await
        } else {
            self.engine.read_long(work).await
        }
    }

    async fn scan_users(
        &self,
        org: OrgId,
        q: &ScanQuery,
        with_groups: bool,
    ) -> StoreResult<Vec<ScannedUser>> {
        let q = q.clone();
        // A chunk of a scan: a blocking thread, never an async worker or the writer.
        self.engine
            .read_long(move |c| scan(c, org, &q, with_groups))
            .await
    }

    async fn user_groups(&self, org: OrgId, user: UserId) -> StoreResult<Vec<UserGroup>> {
        self.engine.read(move |c| groups_of(c, org, user)).await
    }

    async fn list_users_page(&self, org: OrgId, q: &UserListQuery) -> StoreResult<UserListPage> {
        let q = q.clone();
        // With a search prefix the page reads every match: off the request's thread.
        if q.prefix.is_some() {
            self.engine.read_long(move |c| list_page(c, org, &q)).await
        } else {
            self.engine.read(move |c| list_page(c, org, &q)).await
        }
    }
}
