//! Users, and the console's user list: keyset pages under any filter.

use crate::{statement, Arg, Dialect, Sql, Statement};
use directory::query::UserListQuery;
use uuid::Uuid;

pub const DELETE_USERS_BY_ID: Statement =
    statement!("DELETE FROM users WHERE org_id = $1 AND id = $2");

pub const SELECT_GROUPS_OF_USER: Statement = statement!("SELECT g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = $1 AND m.member_id = $2 ORDER BY g.display_name_lower, g.seq");

pub const SELECT_USER_VERSION: Statement =
    statement!("SELECT version FROM users WHERE org_id = $1 AND id = $2");

/// The status and source filters and the cursor, shared by the page and its horizon.
fn push_filters(sql: &mut Sql, q: &UserListQuery) {
    if let Some(active) = q.active {
        sql.push(" AND u.active = ").push_arg(Arg::Bool(active));
    }
    if let Some(m) = q.managed_by {
        sql.push(" AND u.managed_by = ")
            .push_arg(Arg::Text(m.as_str().into()));
    }
    if let Some(after) = q.after_seq {
        sql.push(" AND u.seq > ").push_arg(Arg::Int(after));
    }
    if let Some(before) = q.before_seq {
        sql.push(" AND u.seq < ").push_arg(Arg::Int(before));
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
pub fn list_horizon(dialect: Dialect, org: Uuid, q: &UserListQuery, scan_limit: u32) -> Sql {
    let mut sql = Sql::new(dialect, "SELECT u.seq FROM users u WHERE u.org_id = ");
    sql.push_arg(Arg::Id(org));
    push_filters(&mut sql, q);
    sql.push(&format!(" ORDER BY u.seq {} LIMIT 1 OFFSET ", direction(q)))
        .push_arg(Arg::Int(i64::from(scan_limit.max(1)) - 1));
    sql
}

/// A page of the console's user list: `columns` (the backend's user columns) and `u.seq`. A
/// narrow prefix reads its few matches through the three indexes (userName, displayName,
/// email) and sorts them; a broad one walks the seq order (under the filters) and stops once
/// the page is full or at the `horizon`, since matches are common.
pub fn list_page(
    dialect: Dialect,
    columns: &str,
    org: Uuid,
    q: &UserListQuery,
    broad: bool,
    horizon: Option<i64>,
) -> Sql {
    let mut sql = Sql::new(
        dialect,
        &format!("SELECT {columns}, u.seq FROM users u WHERE u.org_id = "),
    );
    sql.push_arg(Arg::Id(org));
    push_filters(&mut sql, q);
    if let (Some(p), true) = (&q.prefix, broad) {
        if let Some(h) = horizon {
            sql.push(if q.before_seq.is_some() {
                " AND u.seq >= "
            } else {
                " AND u.seq <= "
            })
            .push_arg(Arg::Int(h));
        }
        // An expression of the column keeps the planner off the name indexes: the page is
        // read in seq order.
        let (truth, user_name, display_name) = match dialect {
            Dialect::Sqlite => ("1", "+u.user_name_lower", "+u.display_name_lower"),
            Dialect::Postgres => (
                "TRUE",
                "(u.user_name_lower || '')",
                "(u.display_name_lower || '')",
            ),
        };
        sql.push(&format!(" AND (({truth}"))
            .push_prefix_range(user_name, p)
            .push(&format!(") OR ({truth}"))
            .push_prefix_range(display_name, p)
            .push(") OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id")
            .push_prefix_range("e.email_lower", p)
            .push("))");
    } else if let Some(p) = &q.prefix {
        // Three index range scans, never a scan of the organization: the page is then read
        // in seq order from the matches.
        sql.push(" AND u.seq IN (SELECT seq FROM users WHERE org_id = ")
            .push_arg(Arg::Id(org))
            .push_prefix_range("user_name_lower", p)
            .push(" UNION SELECT seq FROM users WHERE org_id = ")
            .push_arg(Arg::Id(org))
            .push_prefix_range("display_name_lower", p)
            .push(
                " UNION SELECT u2.seq FROM user_emails e JOIN users u2 ON u2.id = e.user_id \
                 WHERE e.org_id = ",
            )
            .push_arg(Arg::Id(org))
            .push_prefix_range("e.email_lower", p)
            .push(")");
    }
    sql.push(&format!(" ORDER BY u.seq {} LIMIT ", direction(q)))
        .push_arg(Arg::Int(i64::from(q.limit)));
    sql
}
