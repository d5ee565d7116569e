//! The console's pages of groups and members: keyset pages, so a page costs O(page) however
//! many groups the organization or members the group has.

use crate::engine::backend;
use crate::rows::{self, fetch_all, GROUP_COLUMNS};
use directory::ids::{GroupId, OrgId};
use directory::model::{GroupRecord, Member, MemberKind};
use directory::store::StoreResult;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// Above every character a name can hold: `[prefix, prefix + MAX)` is every name that starts
/// with `prefix` under SQLite's byte order.
const MAX_CHAR: char = char::MAX;

pub(crate) fn list_after(
    conn: &Connection,
    org: OrgId,
    prefix: Option<&str>,
    after: Option<&(String, GroupId)>,
    limit: u32,
) -> StoreResult<Vec<GroupRecord>> {
    let mut sql = format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = ?");
    let mut params = vec![Value::Text(org.to_string())];
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        sql.push_str(" AND g.display_name_lower >= ? AND g.display_name_lower < ?");
        params.push(Value::Text(p.to_string()));
        params.push(Value::Text(format!("{p}{MAX_CHAR}")));
    }
    if let Some((name, id)) = after {
        // `>=` first, so the (org, name) index starts the walk at the cursor.
        sql.push_str(" AND g.display_name_lower >= ? AND (g.display_name_lower > ? OR g.id > ?)");
        params.push(Value::Text(name.clone()));
        params.push(Value::Text(name.clone()));
        params.push(Value::Text(id.to_string()));
    }
    sql.push_str(" ORDER BY g.display_name_lower, g.id LIMIT ?");
    params.push(Value::Integer(i64::from(limit)));
    fetch_all(conn, &sql, params_from_iter(params.iter()), rows::group)
}

/// The members of the group among `ids` (see `Store::group_members_among`).
pub(crate) fn members_among(
    conn: &Connection,
    org: OrgId,
    id: GroupId,
    ids: &[String],
) -> StoreResult<Vec<Member>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = ? AND m.group_id = ? AND m.member_id IN ({marks}) ORDER BY m.member_id"
    );
    let mut params = vec![Value::Text(org.to_string()), Value::Text(id.to_string())];
    params.extend(ids.iter().map(|i| Value::Text(i.clone())));
    fetch_all(conn, &sql, params_from_iter(params.iter()), member_row)
}

fn member_row(r: &rusqlite::Row<'_>) -> StoreResult<Member> {
    let kind: String = r.get(1).map_err(backend)?;
    Ok(Member {
        id: r.get(0).map_err(backend)?,
        kind: if kind == "Group" {
            MemberKind::Group
        } else {
            MemberKind::User
        },
        display: r.get(2).map_err(backend)?,
    })
}

pub(crate) fn members_after(
    conn: &Connection,
    org: OrgId,
    id: GroupId,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Member>> {
    let mut sql = String::from(
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = ? AND m.group_id = ?",
    );
    let mut params = vec![Value::Text(org.to_string()), Value::Text(id.to_string())];
    if let Some(a) = after {
        sql.push_str(" AND m.member_id > ?");
        params.push(Value::Text(a.to_string()));
    }
    sql.push_str(" ORDER BY m.member_id LIMIT ?");
    params.push(Value::Integer(i64::from(limit)));
    fetch_all(conn, &sql, params_from_iter(params.iter()), member_row)
}
