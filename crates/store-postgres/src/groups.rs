//! Groups and their members; the console's pages of groups and members are keyset pages, so
//! a page costs O(page) however many groups the organization or members the group has.

use crate::query::query_page;
use crate::query::scan_chunk;
use crate::query::Table;
use crate::rows::exact_uuid;
use crate::rows::ms;
use crate::rows::write_error;
use crate::rows::GROUP_COLUMNS;
use crate::rows::{backend, get};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::{GroupId, OrgId};
use directory::model::{GroupRecord, Member, MemberKind, MembershipChange, Page};
use directory::query::{ScanQuery, SortKey, StoreQuery};
use directory::store::{GroupChange, GroupStore, StoreError, StoreResult};
use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Postgres, QueryBuilder};
use std::collections::{HashMap, HashSet};
use store_sql::groups as sql;
use uuid::Uuid;

/// Adds members (users or groups of the same organization, never the group itself) to a
/// group; already-present members are left alone. The first id, in the order given, that
/// names no such user or group fails the whole change with `UnknownMember`.
///
/// Two lookups and one insert whatever the number of ids: O(changed members). The member
/// rows are key-share locked until commit so a concurrent delete cannot orphan the new rows.
pub(crate) async fn add_members(
    conn: &mut PgConnection,
    org: OrgId,
    group: GroupId,
    ids: &[String],
) -> StoreResult<()> {
    let mut wanted: Vec<Uuid> = ids.iter().filter_map(|s| exact_uuid(s)).collect();
    wanted.sort();
    wanted.dedup();
    let mut kinds: HashMap<Uuid, &'static str> = HashMap::with_capacity(wanted.len());
    if !wanted.is_empty() {
        let users: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM users WHERE org_id = $1 AND id = ANY($2) ORDER BY id FOR KEY SHARE",
        )
        .bind(org.0)
        .bind(&wanted)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        kinds.extend(users.into_iter().map(|id| (id, "User")));
        let rest: Vec<Uuid> = wanted
            .iter()
            .copied()
            .filter(|id| !kinds.contains_key(id))
            .collect();
        if !rest.is_empty() {
            let groups: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM groups WHERE org_id = $1 AND id = ANY($2) AND id <> $3 ORDER BY id FOR KEY SHARE",
            )
            .bind(org.0)
            .bind(&rest)
            .bind(group.0)
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
            kinds.extend(groups.into_iter().map(|id| (id, "Group")));
        }
    }
    let mut member_ids = Vec::with_capacity(ids.len());
    let mut member_types = Vec::with_capacity(ids.len());
    let mut seen = HashSet::with_capacity(ids.len());
    for id in ids {
        let Some((uuid, kind)) = exact_uuid(id).and_then(|u| kinds.get(&u).map(|k| (u, *k))) else {
            return Err(StoreError::UnknownMember(id.clone()));
        };
        if seen.insert(uuid) {
            member_ids.push(uuid);
            member_types.push(kind.to_string());
        }
    }
    if member_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO group_members (group_id, member_id, member_type, org_id) \
         SELECT $1, m.id, m.kind, $2 FROM UNNEST($3::uuid[], $4::text[]) AS m(id, kind) \
         ON CONFLICT DO NOTHING",
    )
    .bind(group.0)
    .bind(org.0)
    .bind(&member_ids)
    .bind(&member_types)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// After a version-checked write touched no row: was it the version or the row?
pub(crate) async fn missing_or_changed(
    conn: &mut PgConnection,
    sql: &str,
    org: OrgId,
    id: Uuid,
) -> StoreError {
    match sqlx::query_scalar::<_, i64>(sql)
        .bind(org.0)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
    {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound,
        Err(e) => backend(e),
    }
}

/// Writes a group row (if still at `expected_version`), then applies membership changes in order.
pub(crate) async fn write_group_row(
    conn: &mut PgConnection,
    g: &GroupRecord,
    expected_version: i64,
    changes: &[MembershipChange],
) -> StoreResult<()> {
    // The group row first: its lock queues concurrent changes of this group.
    let done = sqlx::query(sql::UPDATE_GROUP_ROW.postgres())
        .bind(&g.display_name)
        .bind(g.display_name.to_lowercase())
        .bind(&g.external_id)
        .bind(g.doc.to_string())
        .bind(g.managed_by.as_str())
        .bind(g.scim_visible)
        .bind(ms(g.updated_at))
        .bind(g.version)
        .bind(g.org_id.0)
        .bind(g.id.0)
        .bind(expected_version)
        .execute(&mut *conn)
        .await
        .map_err(|e| write_error(e, "displayName"))?;
    if done.rows_affected() == 0 {
        return Err(missing_or_changed(
            conn,
            sql::SELECT_GROUP_VERSION.postgres(),
            g.org_id,
            g.id.0,
        )
        .await);
    }
    for change in changes {
        match change {
            MembershipChange::Add(ids) => add_members(conn, g.org_id, g.id, ids).await?,
            MembershipChange::Remove(ids) => {
                let ids: Vec<Uuid> = ids.iter().filter_map(|s| exact_uuid(s)).collect();
                if ids.is_empty() {
                    continue;
                }
                sqlx::query(
                    "DELETE FROM group_members WHERE org_id = $1 AND group_id = $2 AND member_id = ANY($3)",
                )
                .bind(g.org_id.0)
                .bind(g.id.0)
                .bind(&ids)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
            }
            MembershipChange::RemoveAll => {
                sqlx::query("DELETE FROM group_members WHERE org_id = $1 AND group_id = $2")
                    .bind(g.org_id.0)
                    .bind(g.id.0)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
            }
        }
    }
    Ok(())
}

pub(crate) async fn list_after(
    pool: &PgPool,
    org: OrgId,
    prefix: Option<&str>,
    after: Option<&(String, GroupId)>,
    limit: u32,
) -> StoreResult<Vec<GroupRecord>> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "SELECT {} FROM groups g WHERE g.org_id = ",
        GROUP_COLUMNS
    ));
    q.push_bind(org.0);
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        // display_name_lower is COLLATE "C": byte order, so this range is every name that
        // starts with the prefix, and the (org, name) index serves it.
        q.push(" AND g.display_name_lower >= ")
            .push_bind(p.to_string())
            .push(" AND g.display_name_lower < ")
            .push_bind(format!("{p}{}", char::MAX));
    }
    if let Some((name, id)) = after {
        // `>=` first, so the (org, name) index starts the walk at the cursor.
        q.push(" AND g.display_name_lower >= ")
            .push_bind(name.clone())
            .push(" AND (g.display_name_lower > ")
            .push_bind(name.clone())
            .push(" OR g.id > ")
            .push_bind(id.0)
            .push(")");
    }
    q.push(" ORDER BY g.display_name_lower, g.id LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(PostgresStore::group_from_row).collect()
}

/// The members of the group among `ids` (see `Store::group_members_among`). Member ids are
/// UUIDs: an id that is none is no member.
pub(crate) async fn members_among(
    pool: &PgPool,
    org: OrgId,
    id: GroupId,
    ids: &[String],
) -> StoreResult<Vec<Member>> {
    let ids: Vec<Uuid> = ids.iter().filter_map(|i| i.parse().ok()).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) AS display \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = $1 AND m.group_id = $2 AND m.member_id = ANY($3) ORDER BY m.member_id",
    )
    .bind(org.0)
    .bind(id.0)
    .bind(&ids)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(member_row).collect()
}

fn member_row(r: &sqlx::postgres::PgRow) -> StoreResult<Member> {
    let kind: String = get(r, "member_type")?;
    let member: Uuid = get(r, "member_id")?;
    Ok(Member {
        id: member.hyphenated().to_string(),
        kind: if kind == "Group" {
            MemberKind::Group
        } else {
            MemberKind::User
        },
        display: get(r, "display")?,
    })
}

pub(crate) async fn members_after(
    pool: &PgPool,
    org: OrgId,
    id: GroupId,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Member>> {
    let after = match after {
        None => None,
        Some(a) => match a.parse::<Uuid>() {
            Ok(u) => Some(u),
            // Member ids are UUIDs: nothing follows a cursor that is none.
            Err(_) => return Ok(Vec::new()),
        },
    };
    let mut q = QueryBuilder::<Postgres>::new(
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) AS display \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = ",
    );
    q.push_bind(org.0)
        .push(" AND m.group_id = ")
        .push_bind(id.0);
    if let Some(a) = after {
        q.push(" AND m.member_id > ").push_bind(a);
    }
    q.push(" ORDER BY m.member_id LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(member_row).collect()
}

#[async_trait]
impl GroupStore for PostgresStore {
    async fn scan_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        q: &ScanQuery,
    ) -> StoreResult<Vec<(i64, GroupRecord)>> {
        let visible = if scim_only { " AND g.scim_visible" } else { "" };
        scan_chunk(
            &self.pool,
            Table::Groups,
            org,
            visible,
            q,
            Self::group_from_row,
        )
        .await
    }

    async fn insert_group(&self, g: &GroupRecord, members: &[String]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(sql::INSERT_GROUPS.postgres())
            .bind(g.id.0)
            .bind(g.org_id.0)
            .bind(&g.display_name)
            .bind(g.display_name.to_lowercase())
            .bind(&g.external_id)
            .bind(g.doc.to_string())
            .bind(g.managed_by.as_str())
            .bind(g.scim_visible)
            .bind(ms(g.created_at))
            .bind(ms(g.updated_at))
            .bind(g.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "displayName"))?;
        add_members(&mut tx, g.org_id, g.id, members).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Option<GroupRecord>> {
        sqlx::query(sql::SELECT_GROUPS_BY_ID.postgres())
            .bind(org.0)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| Self::group_from_row(&r))
            .transpose()
    }

    async fn group_members(&self, org: OrgId, id: GroupId) -> StoreResult<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) AS display \
             FROM group_members m \
             LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
             LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
             WHERE m.org_id = $1 AND m.group_id = $2 ORDER BY m.member_id",
        )
        .bind(org.0)
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let kind: String = get(r, "member_type")?;
                let member: Uuid = get(r, "member_id")?;
                Ok(Member {
                    id: member.hyphenated().to_string(),
                    kind: if kind == "Group" {
                        MemberKind::Group
                    } else {
                        MemberKind::User
                    },
                    display: get(r, "display")?,
                })
            })
            .collect()
    }

    async fn update_group(
        &self,
        g: &GroupRecord,
        expected_version: i64,
        changes: &[MembershipChange],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        write_group_row(&mut tx, g, expected_version, changes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    /// Two indexed queries whatever the number of ids (the default asks once per id).
    async fn known_members(&self, org: OrgId, ids: &[String]) -> StoreResult<HashSet<String>> {
        let mut wanted: Vec<Uuid> = ids.iter().filter_map(|s| exact_uuid(s)).collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(HashSet::new());
        }
        let found: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM users WHERE org_id = $1 AND id = ANY($2) \
             UNION ALL SELECT id FROM groups WHERE org_id = $1 AND id = ANY($2)",
        )
        .bind(org.0)
        .bind(&wanted)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found
            .into_iter()
            .map(|id| id.hyphenated().to_string())
            .collect())
    }

    async fn modify_group(
        &self,
        org: OrgId,
        id: GroupId,
        change: GroupChange,
    ) -> StoreResult<GroupRecord> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let current = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = $1 AND g.id = $2 FOR UPDATE"
        ))
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .map(|r| Self::group_from_row(&r))
        .transpose()?
        .ok_or(StoreError::NotFound)?;
        let (next, changes) = change(&current).map_err(|e| StoreError::Refused(Box::new(e)))?;
        write_group_row(&mut tx, &next, current.version, &changes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(next)
    }

    async fn delete_group(&self, org: OrgId, id: GroupId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let done = sqlx::query(sql::DELETE_GROUPS_BY_ID.postgres())
            .bind(org.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "DELETE FROM group_members WHERE (org_id = $2 AND group_id = $1) OR (org_id = $2 AND member_id = $1)",
        )
        .bind(id.0)
        .bind(org.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn query_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        q: &StoreQuery,
    ) -> StoreResult<Page<GroupRecord>> {
        let visible = if scim_only { " AND g.scim_visible" } else { "" };
        let sort = if q.sort == SortKey::UserName {
            SortKey::DisplayName
        } else {
            q.sort
        };
        query_page(
            &self.pool,
            Table::Groups,
            org,
            visible,
            q,
            sort,
            Self::group_from_row,
        )
        .await
    }

    async fn list_groups_after(
        &self,
        org: OrgId,
        name_prefix: Option<&str>,
        after: Option<&(String, GroupId)>,
        limit: u32,
    ) -> StoreResult<Vec<GroupRecord>> {
        list_after(&self.pool, org, name_prefix, after, limit).await
    }

    async fn group_members_among(
        &self,
        org: OrgId,
        id: GroupId,
        ids: &[String],
    ) -> StoreResult<Vec<Member>> {
        members_among(&self.pool, org, id, ids).await
    }

    async fn group_members_after(
        &self,
        org: OrgId,
        id: GroupId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        members_after(&self.pool, org, id, after, limit).await
    }
}
