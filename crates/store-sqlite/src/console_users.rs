//! The console's user list (keyset pages under any filter) and a user's sessions.

use crate::engine::backend;
use crate::rows::{self, count, fetch_all, from_ms, parse_uuid, USER_COLUMNS, USER_GROUPS_INDEX};
use directory::ids::{OrgId, UserId};
use directory::model::SessionRecord;
use directory::query::{prefix_upper_bound, UserListPage, UserListQuery};
use directory::store::StoreResult;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

/// ` AND {col} >= ? [AND {col} < ?]`: the strings starting with the prefix, an index range in
/// binary order (no upper end when the prefix is only U+10FFFF characters).
fn push_prefix_range(sql: &mut String, params: &mut Vec<Value>, col: &str, prefix: &str) {
    sql.push_str(&format!(" AND {col} >= ?"));
    params.push(Value::Text(prefix.to_string()));
    if let Some(upper) = prefix_upper_bound(prefix) {
        sql.push_str(&format!(" AND {col} < ?"));
        params.push(Value::Text(upper));
    }
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
        let mut sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE org_id = ?");
        let mut params = vec![Value::Text(org.to_string())];
        push_prefix_range(&mut sql, &mut params, col, prefix);
        sql.push_str(" LIMIT ?)");
        params.push(Value::Integer(BROAD));
        let n = count(conn, &sql, params_from_iter(params.iter()))?;
        if n as i64 >= BROAD {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The status and source filters and the cursor, shared by the page and its horizon.
fn push_filters(sql: &mut String, params: &mut Vec<Value>, q: &UserListQuery) {
    if let Some(active) = q.active {
        sql.push_str(" AND u.active = ?");
        params.push(Value::Integer(active as i64));
    }
    if let Some(m) = q.managed_by {
        sql.push_str(" AND u.managed_by = ?");
        params.push(Value::Text(m.as_str().into()));
    }
    if let Some(after) = q.after_seq {
        sql.push_str(" AND u.seq > ?");
        params.push(Value::Integer(after));
    }
    if let Some(before) = q.before_seq {
        sql.push_str(" AND u.seq < ?");
        params.push(Value::Integer(before));
    }
}

fn direction(q: &UserListQuery) -> &'static str {
    if q.before_seq.is_some() {
        "DESC"
    } else {
        "ASC"
    }
}

/// The horizon of a bounded broad search: the seq of the `scan_limit`-th user past the cursor
/// (in the direction of travel) under the status and source filters. A walk of the filters'
/// index that reads no table row; no row when fewer users are left.
pub(crate) fn horizon_sql(org: OrgId, q: &UserListQuery, scan_limit: u32) -> (String, Vec<Value>) {
    let mut sql = String::from("SELECT u.seq FROM users u WHERE u.org_id = ?");
    let mut params = vec![Value::Text(org.to_string())];
    push_filters(&mut sql, &mut params, q);
    sql.push_str(&format!(
        " ORDER BY u.seq {} LIMIT 1 OFFSET ?",
        direction(q)
    ));
    params.push(Value::Integer(i64::from(scan_limit.max(1)) - 1));
    (sql, params)
}

/// The statement of a page and its parameters (shared with the query-plan test). A narrow
/// prefix reads its few matches through the three indexes and sorts them; a broad one walks
/// the seq index (under the filters) and stops once the page is full or at the `horizon`,
/// since matches are common.
pub(crate) fn page_sql(
    org: OrgId,
    q: &UserListQuery,
    broad: bool,
    horizon: Option<i64>,
) -> (String, Vec<Value>) {
    let org = org.to_string();
    let mut sql = format!("SELECT {USER_COLUMNS}, u.seq FROM users u WHERE u.org_id = ?");
    let mut params = vec![Value::Text(org.clone())];
    push_filters(&mut sql, &mut params, q);
    if let (Some(p), true) = (&q.prefix, broad) {
        if let Some(h) = horizon {
            sql.push_str(if q.before_seq.is_some() {
                " AND u.seq >= ?"
            } else {
                " AND u.seq <= ?"
            });
            params.push(Value::Integer(h));
        }
        // `+` keeps the planner off the name indexes: the page is read in seq order.
        sql.push_str(" AND ((1");
        push_prefix_range(&mut sql, &mut params, "+u.user_name_lower", p);
        sql.push_str(") OR (1");
        push_prefix_range(&mut sql, &mut params, "+u.display_name_lower", p);
        sql.push_str(") OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id");
        push_prefix_range(&mut sql, &mut params, "e.email_lower", p);
        sql.push_str("))");
    } else if let Some(p) = &q.prefix {
        // Three index range scans (userName, displayName, email), never a scan of the
        // organization: the page is then read in seq order from the matches.
        sql.push_str(" AND u.seq IN (SELECT seq FROM users WHERE org_id = ?");
        params.push(Value::Text(org.clone()));
        push_prefix_range(&mut sql, &mut params, "user_name_lower", p);
        sql.push_str(" UNION SELECT seq FROM users WHERE org_id = ?");
        params.push(Value::Text(org.clone()));
        push_prefix_range(&mut sql, &mut params, "display_name_lower", p);
        sql.push_str(
            " UNION SELECT u2.seq FROM user_emails e JOIN users u2 ON u2.id = e.user_id \
             WHERE e.org_id = ?",
        );
        params.push(Value::Text(org.clone()));
        push_prefix_range(&mut sql, &mut params, "e.email_lower", p);
        sql.push(')');
    }
    sql.push_str(&format!(" ORDER BY u.seq {} LIMIT ?", direction(q)));
    params.push(Value::Integer(q.limit as i64));
    (sql, params)
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

pub(crate) fn user_sessions(
    conn: &Connection,
    org: OrgId,
    user: UserId,
) -> StoreResult<Vec<SessionRecord>> {
    fetch_all(
        conn,
        "SELECT id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at FROM sessions WHERE org_id = ? AND user_id = ? ORDER BY created_at DESC, id_hash",
        params![org.to_string(), user.to_string()],
        |r| {
            Ok(SessionRecord {
                id_hash: r.get(0).map_err(backend)?,
                org_id: parse_uuid::<OrgId>(&r.get::<_, String>(1).map_err(backend)?)?,
                user_id: parse_uuid::<UserId>(&r.get::<_, String>(2).map_err(backend)?)?,
                created_at: from_ms(r.get(3).map_err(backend)?),
                last_seen_at: from_ms(r.get(4).map_err(backend)?),
                idle_expires_at: from_ms(r.get(5).map_err(backend)?),
                absolute_expires_at: from_ms(r.get(6).map_err(backend)?),
            })
        },
    )
}

#[cfg(test)]
mod tests {
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
