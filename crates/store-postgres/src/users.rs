//! Users: rows, lookups, pages, scans and the console's user list (keyset pages under any
//! filter). Every statement is scoped by organization.

use crate::groups::missing_or_changed;
use crate::query::query_page;
use crate::query::scan_chunk;
use crate::query::Table;
use crate::rows::bind_args;
use crate::rows::ms;
use crate::rows::write_error;
use crate::rows::{backend, get, USER_COLUMNS};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::{GroupId, OrgId, UserId};
use directory::model::{Page, UserRecord};
use directory::query::{ScanQuery, StoreQuery, UserListPage, UserListQuery};
use directory::store::{ScannedUser, StoreError, StoreResult, UserChange, UserGroup, UserStore};
use sqlx::postgres::PgConnection;
use sqlx::PgPool;
use sqlx::Row;
use std::collections::HashMap;
use store_sql::users as sql;
use store_sql::{Arg, Dialect, Sql};
use uuid::Uuid;

pub(crate) async fn insert_emails(conn: &mut PgConnection, user: &UserRecord) -> StoreResult<()> {
    if user.emails.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO user_emails (org_id, user_id, email_lower) \
         SELECT $1, $2, e FROM UNNEST($3::text[]) AS e ON CONFLICT DO NOTHING",
    )
    .bind(user.org_id.0)
    .bind(user.id.0)
    .bind(&user.emails)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Writes a user row (if still at `expected_version`) and its email index.
pub(crate) async fn write_user_row(
    conn: &mut PgConnection,
    u: &UserRecord,
    expected_version: i64,
) -> StoreResult<()> {
    let done = sqlx::query("UPDATE users SET user_name = $1, user_name_lower = $2, external_id = $3, display_name = $4, display_name_lower = $5, active = $6, doc = $7, managed_by = $8, updated_at = $9, version = $10 WHERE org_id = $11 AND id = $12 AND version = $13")
            .bind(&u.user_name)
            .bind(u.user_name.to_lowercase())
            .bind(&u.external_id)
            .bind(&u.display_name)
            .bind(u.display_name.as_ref().map(|d| d.to_lowercase()))
            .bind(u.active)
            .bind(u.doc.to_string())
            .bind(u.managed_by.as_str())
            .bind(ms(u.updated_at))
            .bind(u.version)
            .bind(u.org_id.0)
            .bind(u.id.0)
            .bind(expected_version)
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "userName"))?;
    if done.rows_affected() == 0 {
        return Err(missing_or_changed(
            conn,
            sql::SELECT_USER_VERSION.postgres(),
            u.org_id,
            u.id.0,
        )
        .await);
    }
    sqlx::query("DELETE FROM user_emails WHERE org_id = $1 AND user_id = $2")
        .bind(u.org_id.0)
        .bind(u.id.0)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    insert_emails(conn, u).await?;
    Ok(())
}

/// ` AND {col} >= $ [AND {col} < $]`: the strings starting with the prefix, an index range
/// (the columns are COLLATE "C": code point order; no upper end when the prefix is only
/// U+10FFFF characters).
/// Matches counted at most per searched column before a prefix counts as broad.
const BROAD: i64 = 2_000;

/// Whether a prefix matches many users (at least [`BROAD`] in some column); each count stops
/// at [`BROAD`] index entries.
async fn is_broad(pool: &PgPool, org: OrgId, prefix: &str) -> StoreResult<bool> {
    let mut sql = Sql::new(Dialect::Postgres, "SELECT GREATEST(");
    for (i, (table, col)) in [
        ("users", "user_name_lower"),
        ("users", "display_name_lower"),
        ("user_emails", "email_lower"),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            sql.push(", ");
        }
        sql.push(&format!(
            "(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE org_id = "
        ))
        .push_arg(Arg::Id(org.0))
        .push_prefix_range(col, prefix)
        .push(" LIMIT ")
        .push_arg(Arg::Int(BROAD))
        .push(&format!(") c{i})"));
    }
    sql.push(")");
    let row = bind_args(sqlx::query(sql.text()), sql.args())
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let n: i64 = row.try_get(0).map_err(backend)?;
    Ok(n >= BROAD)
}

/// The horizon of a bounded broad search ([`sql::list_horizon`]); `None` when fewer users
/// are left.
async fn horizon(
    pool: &PgPool,
    org: OrgId,
    q: &UserListQuery,
    scan_limit: u32,
) -> StoreResult<Option<i64>> {
    let sql = sql::list_horizon(Dialect::Postgres, org.0, q, scan_limit);
    let row = bind_args(sqlx::query(sql.text()), sql.args())
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| r.try_get(0).map_err(backend)).transpose()
}

/// A page of the console's user list ([`sql::list_page`]).
pub(crate) async fn list_page(
    pool: &PgPool,
    org: OrgId,
    q: &UserListQuery,
) -> StoreResult<UserListPage> {
    let broad = match &q.prefix {
        Some(p) => is_broad(pool, org, p).await?,
        None => false,
    };
    let horizon = match (broad, q.scan_limit) {
        (true, Some(n)) => horizon(pool, org, q, n).await?,
        _ => None,
    };
    let sql = sql::list_page(Dialect::Postgres, USER_COLUMNS, org.0, q, broad, horizon);
    let fetched = bind_args(sqlx::query(sql.text()), sql.args())
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    let mut rows = fetched
        .iter()
        .map(|r| Ok((get::<i64>(r, "seq")?, PostgresStore::user_from_row(r)?)))
        .collect::<StoreResult<Vec<_>>>()?;
    if q.before_seq.is_some() {
        rows.reverse();
    }
    let searched_to = horizon.filter(|_| rows.len() < q.limit as usize);
    Ok(UserListPage { rows, searched_to })
}

impl PostgresStore {
    /// The groups of several users at once (a page of a list), keyed by user.
    async fn groups_of_users(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> StoreResult<HashMap<UserId, Vec<(GroupId, String, bool)>>> {
        let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
        let rows = sqlx::query("SELECT m.member_id, g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = $1 AND m.member_id = ANY($2) ORDER BY g.display_name_lower, g.seq")
            .bind(org.0)
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let mut out: HashMap<UserId, Vec<(GroupId, String, bool)>> =
            HashMap::with_capacity(users.len());
        for r in &rows {
            out.entry(UserId(get(r, "member_id")?)).or_default().push((
                GroupId(get(r, "id")?),
                get(r, "display_name")?,
                get(r, "scim_visible")?,
            ));
        }
        Ok(out)
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn query_users_with_groups(
        &self,
        org: OrgId,
        q: &StoreQuery,
        with_groups: bool,
    ) -> StoreResult<Page<(UserRecord, Vec<UserGroup>)>> {
        let page = self.query_users(org, q).await?;
        let mut groups = if with_groups && !page.items.is_empty() {
            let ids: Vec<UserId> = page.items.iter().map(|u| u.id).collect();
            self.groups_of_users(org, &ids).await?
        } else {
            HashMap::new()
        };
        Ok(Page {
            total: page.total,
            items: page
                .items
                .into_iter()
                .map(|u| {
                    let g = groups.remove(&u.id).unwrap_or_default();
                    (u, g)
                })
                .collect(),
        })
    }

    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower, active, doc, managed_by, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
            .bind(u.id.0)
            .bind(u.org_id.0)
            .bind(&u.user_name)
            .bind(u.user_name.to_lowercase())
            .bind(&u.external_id)
            .bind(&u.display_name)
            .bind(u.display_name.as_ref().map(|d| d.to_lowercase()))
            .bind(u.active)
            .bind(u.doc.to_string())
            .bind(u.managed_by.as_str())
            .bind(ms(u.created_at))
            .bind(ms(u.updated_at))
            .bind(u.version)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "userName"))?;
        insert_emails(&mut tx, u).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<Option<UserRecord>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = $1 AND u.id = $2"
        ))
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(|r| Self::user_from_row(&r))
        .transpose()
    }

    async fn users_by_ids(&self, org: OrgId, ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = $1 AND u.id = ANY($2)"
        ))
        .bind(org.0)
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(Self::user_from_row)
        .collect()
    }

    async fn update_user(&self, u: &UserRecord, expected_version: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        write_user_row(&mut tx, u, expected_version).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn modify_user(
        &self,
        org: OrgId,
        id: UserId,
        change: UserChange,
    ) -> StoreResult<UserRecord> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // FOR UPDATE holds the row: concurrent changes of this user queue behind this one.
        let current = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = $1 AND u.id = $2 FOR UPDATE OF u"
        ))
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?
        .map(|r| Self::user_from_row(&r))
        .transpose()?
        .ok_or(StoreError::NotFound)?;
        let next = change(&current).map_err(|e| StoreError::Refused(Box::new(e)))?;
        write_user_row(&mut tx, &next, current.version).await?;
        tx.commit().await.map_err(backend)?;
        Ok(next)
    }

    async fn delete_user(&self, org: OrgId, id: UserId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let done = sqlx::query(sql::DELETE_USERS_BY_ID.postgres())
            .bind(org.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        for sql in [
            "DELETE FROM user_emails WHERE org_id = $1 AND user_id = $2",
            "DELETE FROM group_members WHERE org_id = $1 AND member_id = $2",
        ] {
            sqlx::query(sql)
                .bind(org.0)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn query_users(&self, org: OrgId, q: &StoreQuery) -> StoreResult<Page<UserRecord>> {
        query_page(
            &self.pool,
            Table::Users,
            org,
            "",
            q,
            q.sort,
            Self::user_from_row,
        )
        .await
    }

    async fn scan_users(
        &self,
        org: OrgId,
        q: &ScanQuery,
        with_groups: bool,
    ) -> StoreResult<Vec<ScannedUser>> {
        let rows = scan_chunk(&self.pool, Table::Users, org, "", q, Self::user_from_row).await?;
        let mut groups = if with_groups && !rows.is_empty() {
            let ids: Vec<UserId> = rows.iter().map(|(_, u)| u.id).collect();
            self.groups_of_users(org, &ids).await?
        } else {
            HashMap::new()
        };
        Ok(rows
            .into_iter()
            .map(|(seq, u)| {
                let g = groups.remove(&u.id).unwrap_or_default();
                (seq, u, g)
            })
            .collect())
    }

    async fn get_user_with_groups(
        &self,
        org: OrgId,
        id: UserId,
        with_groups: bool,
    ) -> StoreResult<Option<(UserRecord, Vec<(GroupId, String, bool)>)>> {
        if !with_groups {
            return Ok(self.get_user(org, id).await?.map(|u| (u, Vec::new())));
        }
        // One round trip: the user row with its groups as a JSON array.
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, COALESCE((SELECT json_agg(json_build_array(g.id, g.display_name, g.scim_visible) ORDER BY g.display_name_lower, g.seq) \
             FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = u.org_id AND m.member_id = u.id), '[]'::json)::text AS groups \
             FROM users u WHERE u.org_id = $1 AND u.id = $2"
        ))
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let user = Self::user_from_row(&row)?;
        let raw: String = get(&row, "groups")?;
        let parsed: Vec<(Uuid, String, bool)> = serde_json::from_str(&raw)
            .map_err(|e| StoreError::Backend(format!("groups of a user: {e}")))?;
        let groups = parsed
            .into_iter()
            .map(|(gid, name, visible)| (GroupId(gid), name, visible))
            .collect();
        Ok(Some((user, groups)))
    }

    async fn user_groups(
        &self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<(GroupId, String, bool)>> {
        let rows = sqlx::query(sql::SELECT_GROUPS_OF_USER.postgres())
            .bind(org.0)
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    GroupId(get(r, "id")?),
                    get(r, "display_name")?,
                    get(r, "scim_visible")?,
                ))
            })
            .collect()
    }

    async fn list_users_page(&self, org: OrgId, q: &UserListQuery) -> StoreResult<UserListPage> {
        list_page(&self.pool, org, q).await
    }
}
