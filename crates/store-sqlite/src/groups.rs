//! Groups and their members. Members live one row each, so a change costs O(changed
//! members) whatever the group's size; the console's pages of groups and members are keyset
//! pages, O(page) however many there are.

use crate::engine::backend;
use crate::query::{
    order_by, page_is_complete, push_key, push_scan_key, push_scan_window, push_window,
};
use crate::rows::{count, execute, fetch_all, fetch_optional, ms, write_error, GROUP_COLUMNS};
use crate::{rows, SqliteStore};
use async_trait::async_trait;
use directory::ids::{GroupId, OrgId};
use directory::model::{GroupRecord, Member, MemberKind, MembershipChange, Page};
use directory::query::{ScanQuery, SortKey, StoreQuery};
use directory::store::{GroupChange, GroupStore, StoreError, StoreResult};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};
use std::collections::HashSet;
use store_sql::groups as sql;

pub(crate) fn insert(conn: &Connection, g: &GroupRecord, members: &[String]) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_GROUPS.sqlite(),
        params![
            g.id.to_string(),
            g.org_id.to_string(),
            g.display_name,
            g.display_name.to_lowercase(),
            g.external_id,
            g.doc.to_string(),
            g.managed_by.as_str(),
            g.scim_visible as i64,
            ms(g.created_at),
            ms(g.updated_at),
            g.version,
        ],
    )
    .map_err(|e| write_error(e, "displayName"))?;
    add_members(conn, g.org_id, g.id, members)
}

pub(crate) fn get(conn: &Connection, org: OrgId, id: GroupId) -> StoreResult<Option<GroupRecord>> {
    fetch_optional(
        conn,
        sql::SELECT_GROUPS_BY_ID.sqlite(),
        params![org.to_string(), id.to_string()],
        rows::group,
    )
}

pub(crate) fn members(conn: &Connection, org: OrgId, id: GroupId) -> StoreResult<Vec<Member>> {
    fetch_all(
        conn,
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = ? AND m.group_id = ? ORDER BY m.member_id",
        params![org.to_string(), id.to_string()],
        |r| {
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
        },
    )
}

/// What `id` names in the organization, if anything (a group is never its own member).
fn member_kind(
    conn: &Connection,
    org: &str,
    group: &str,
    id: &str,
) -> StoreResult<Option<&'static str>> {
    let kind = fetch_optional(
        conn,
        "SELECT 'User' FROM users WHERE org_id = ?1 AND id = ?3 \
         UNION ALL SELECT 'Group' FROM groups WHERE org_id = ?1 AND id = ?3 AND id <> ?2",
        params![org, group, id],
        |r| r.get::<_, String>(0).map_err(backend),
    )?;
    Ok(kind.map(|k| if k == "Group" { "Group" } else { "User" }))
}

/// Adds members (users or groups of the organization); members already present stay.
fn add_members(conn: &Connection, org: OrgId, group: GroupId, ids: &[String]) -> StoreResult<()> {
    let (org, group) = (org.to_string(), group.to_string());
    for id in ids {
        let kind = member_kind(conn, &org, &group, id)?
            .ok_or_else(|| StoreError::UnknownMember(id.clone()))?;
        execute(
            conn,
            "INSERT OR IGNORE INTO group_members (group_id, member_id, member_type, org_id) VALUES (?, ?, ?, ?)",
            params![group, id, kind, org],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Writes a group row if it is still at `expected_version`, then the membership changes
/// in order.
pub(crate) fn write_row(
    conn: &Connection,
    g: &GroupRecord,
    expected_version: i64,
    changes: &[MembershipChange],
) -> StoreResult<()> {
    let (org, id) = (g.org_id.to_string(), g.id.to_string());
    let changed = execute(
        conn,
        sql::UPDATE_GROUP_ROW.sqlite(),
        params![
            g.display_name,
            g.display_name.to_lowercase(),
            g.external_id,
            g.doc.to_string(),
            g.managed_by.as_str(),
            g.scim_visible as i64,
            ms(g.updated_at),
            g.version,
            org,
            id,
            expected_version,
        ],
    )
    .map_err(|e| write_error(e, "displayName"))?;
    if changed == 0 {
        let exists = fetch_optional(
            conn,
            sql::SELECT_GROUP_VERSION.sqlite(),
            params![org, id],
            |_| Ok(()),
        )?;
        return Err(if exists.is_some() {
            StoreError::VersionMismatch
        } else {
            StoreError::NotFound
        });
    }
    for change in changes {
        match change {
            MembershipChange::Add(ids) => add_members(conn, g.org_id, g.id, ids)?,
            MembershipChange::Remove(ids) => {
                for member in ids {
                    execute(
                        conn,
                        "DELETE FROM group_members WHERE org_id = ? AND group_id = ? AND member_id = ?",
                        params![org, id, member],
                    )
                    .map_err(backend)?;
                }
            }
            MembershipChange::RemoveAll => {
                execute(
                    conn,
                    "DELETE FROM group_members WHERE org_id = ? AND group_id = ?",
                    params![org, id],
                )
                .map_err(backend)?;
            }
        }
    }
    Ok(())
}

/// Read-modify-write on the writer thread, inside its transaction: nothing interleaves.
pub(crate) fn modify(
    conn: &Connection,
    org: OrgId,
    id: GroupId,
    change: GroupChange,
) -> StoreResult<GroupRecord> {
    let current = get(conn, org, id)?.ok_or(StoreError::NotFound)?;
    let (next, changes) = change(&current).map_err(|e| StoreError::Refused(Box::new(e)))?;
    write_row(conn, &next, current.version, &changes)?;
    Ok(next)
}

pub(crate) fn delete(conn: &Connection, org: OrgId, id: GroupId) -> StoreResult<()> {
    let (org, id) = (org.to_string(), id.to_string());
    let gone =
        execute(conn, sql::DELETE_GROUPS_BY_ID.sqlite(), params![org, id]).map_err(backend)?;
    if gone == 0 {
        return Err(StoreError::NotFound);
    }
    execute(
        conn,
        "DELETE FROM group_members WHERE org_id = ? AND group_id = ?",
        params![org, id],
    )
    .map_err(backend)?;
    execute(
        conn,
        "DELETE FROM group_members WHERE org_id = ? AND member_id = ?",
        params![org, id],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn query(
    conn: &Connection,
    org: OrgId,
    scim_only: bool,
    q: &StoreQuery,
) -> StoreResult<Page<GroupRecord>> {
    let visible = if scim_only {
        " AND g.scim_visible = 1"
    } else {
        ""
    };
    let org_s = org.to_string();
    let mut sql = format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = ?{visible}");
    let mut params = vec![Value::Text(org_s.clone())];
    if let Some(k) = &q.key {
        push_key(&mut sql, &mut params, "g", k);
    }
    let sort = if q.sort == SortKey::UserName {
        SortKey::DisplayName
    } else {
        q.sort
    };
    sql.push_str(&order_by("g", sort, q.descending));
    push_window(&mut sql, &mut params, q);
    let items = fetch_all(conn, &sql, params_from_iter(params.iter()), rows::group)?;
    let total = if page_is_complete(q, items.len()) {
        items.len() as u64
    } else {
        let mut sql = format!("SELECT COUNT(*) FROM groups g WHERE g.org_id = ?{visible}");
        let mut params = vec![Value::Text(org_s)];
        if let Some(k) = &q.key {
            push_key(&mut sql, &mut params, "g", k);
        }
        count(conn, &sql, params_from_iter(params.iter()))?
    };
    Ok(Page { total, items })
}

/// The statement of one scan chunk of groups and its parameters.
pub(crate) fn scan_sql(org: OrgId, scim_only: bool, q: &ScanQuery) -> (String, Vec<Value>) {
    let visible = if scim_only {
        " AND g.scim_visible = 1"
    } else {
        ""
    };
    let mut sql =
        format!("SELECT {GROUP_COLUMNS}, g.seq FROM groups g WHERE g.org_id = ?{visible}");
    let mut params = vec![Value::Text(org.to_string())];
    if let Some(k) = &q.key {
        push_scan_key(&mut sql, &mut params, "g", k);
    }
    push_scan_window(&mut sql, &mut params, "g", q);
    (sql, params)
}

/// How many columns [`GROUP_COLUMNS`] names: the seq follows them.
const GROUP_COLUMN_COUNT: usize = 10;

/// One chunk of a keyset scan of groups in seq order, at most `q.limit` rows.
pub(crate) fn scan(
    conn: &Connection,
    org: OrgId,
    scim_only: bool,
    q: &ScanQuery,
) -> StoreResult<Vec<(i64, GroupRecord)>> {
    let (sql, params) = scan_sql(org, scim_only, q);
    fetch_all(conn, &sql, params_from_iter(params.iter()), |r| {
        Ok((
            r.get::<_, i64>(GROUP_COLUMN_COUNT).map_err(backend)?,
            rows::group(r)?,
        ))
    })
}

/// Which of `ids` name a user or group of the organization: one indexed lookup per id.
pub(crate) fn known_members(
    conn: &Connection,
    org: OrgId,
    ids: &[String],
) -> StoreResult<HashSet<String>> {
    let org = org.to_string();
    let mut known = HashSet::new();
    for id in ids {
        if known.contains(id) {
            continue;
        }
        let found = fetch_optional(
            conn,
            "SELECT 1 FROM users WHERE org_id = ?1 AND id = ?2 \
             UNION ALL SELECT 1 FROM groups WHERE org_id = ?1 AND id = ?2",
            params![org, id],
            |_| Ok(()),
        )?;
        if found.is_some() {
            known.insert(id.clone());
        }
    }
    Ok(known)
}

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

#[async_trait]
impl GroupStore for SqliteStore {
    async fn insert_group(&self, g: &GroupRecord, members: &[String]) -> StoreResult<()> {
        let (g, members) = (g.clone(), members.to_vec());
        self.engine.write(move |c| insert(c, &g, &members)).await
    }

    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Option<GroupRecord>> {
        self.engine.read(move |c| get(c, org, id)).await
    }

    async fn group_members(&self, org: OrgId, id: GroupId) -> StoreResult<Vec<Member>> {
        self.engine.read_long(move |c| members(c, org, id)).await
    }

    async fn update_group(
        &self,
        g: &GroupRecord,
        expected_version: i64,
        changes: &[MembershipChange],
    ) -> StoreResult<()> {
        let (g, changes) = (g.clone(), changes.to_vec());
        self.engine
            .write(move |c| write_row(c, &g, expected_version, &changes))
            .await
    }

    async fn modify_group(
        &self,
        org: OrgId,
        id: GroupId,
        change: GroupChange,
    ) -> StoreResult<GroupRecord> {
        self.engine.write(move |c| modify(c, org, id, change)).await
    }

    async fn known_members(&self, org: OrgId, ids: &[String]) -> StoreResult<HashSet<String>> {
        let ids = ids.to_vec();
        self.engine
            .read_long(move |c| known_members(c, org, &ids))
            .await
    }

    async fn delete_group(&self, org: OrgId, id: GroupId) -> StoreResult<()> {
        self.engine.write(move |c| delete(c, org, id)).await
    }

    async fn query_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        q: &StoreQuery,
    ) -> StoreResult<Page<GroupRecord>> {
        let point = crate::query::is_point_lookup(q);
        let q = q.clone();
        let work = move |c: &rusqlite::Connection| query(c, org, scim_only, &q);
        if point {
            self.engine.read(work).await
        } else {
            self.engine.read_long(work).await
        }
    }

    async fn scan_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        q: &ScanQuery,
    ) -> StoreResult<Vec<(i64, GroupRecord)>> {
        let q = q.clone();
        self.engine
            .read_long(move |c| scan(c, org, scim_only, &q))
            .await
    }

    async fn list_groups_after(
        &self,
        org: OrgId,
        name_prefix: Option<&str>,
        after: Option<&(String, GroupId)>,
        limit: u32,
    ) -> StoreResult<Vec<GroupRecord>> {
        let (prefix, after) = (name_prefix.map(str::to_string), after.cloned());
        self.engine
            .read(move |c| list_after(c, org, prefix.as_deref(), after.as_ref(), limit))
            .await
    }

    async fn group_members_among(
        &self,
        org: OrgId,
        id: GroupId,
        ids: &[String],
    ) -> StoreResult<Vec<Member>> {
        let ids = ids.to_vec();
        self.engine
            .read(move |c| members_among(c, org, id, &ids))
            .await
    }

    async fn group_members_after(
        &self,
        org: OrgId,
        id: GroupId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let after = after.map(str::to_string);
        self.engine
            .read(move |c| members_after(c, org, id, after.as_deref(), limit))
            .await
    }
}
