//! The directory's [`Store`] on PostgreSQL.
//!
//! Several Portcullis nodes share one database, so every write is a transaction that is safe
//! to run concurrently with the same write on another node:
//! - version-checked updates are one `UPDATE … WHERE version = $expected`: it takes the row
//!   lock, so concurrent writers of one row serialize and the loser sees `VersionMismatch`;
//! - `update_group` updates the group row *first*, so concurrent PATCHes of one group queue
//!   behind each other and no membership change is lost;
//! - adding a member takes a key-share lock on the member's row, so a concurrent delete of
//!   that user or group either waits for the add (and then removes the new membership) or
//!   wins (and the add reports `UnknownMember`): no membership ever points at nothing.
//!
//! The semantics (errors, ordering, what matches what) are those of the SQLite store; both
//! pass the same suite (`testkit::store_suite`).

use async_trait::async_trait;
use directory::ids::{AdminId, GroupId, OrgId, TokenId, UserId};
use directory::model::{
    AdminAccount, AdminInvite, AdminKeyRecord, AuditEvent, ConsoleSession, DomainClaim,
    DomainProof, GroupRecord, ManagedBy, Member, MemberKind, MembershipChange, Organization, Page,
    SamlConnection, ScimTokenRecord, SessionRecord, UserRecord,
};
use directory::query::{
    prefix_upper_bound, AuditOutcome, AuditQuery, Cmp, IndexKey, ScanQuery, SortKey, StoreQuery,
    TextColumn, TextOp, UserListPage, UserListQuery,
};
use directory::store::{
    FoldedAuditEvent, GroupChange, ScannedUser, Store, StoreError, StoreResult, StoredAuditEvent,
    UserChange,
};
use directory::store::{SignInLimit, SignInReservation};
use directory::token::DomainList;
use sqlx::postgres::{PgConnection, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

mod console;
mod console_groups;
mod console_roles;
mod console_users;
mod domains;
mod last_event;
mod sso;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many connections one node keeps to the database at most.
const POOL_SIZE: u32 = 10;

pub struct PostgresStore {
    pool: PgPool,
}

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint failure to `Conflict`, anything else to `Backend`.
fn write_error(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(what.to_string());
        }
    }
    backend(e)
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(v as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// An id as a client gave it, when it names a row: ids are compared exactly (as text in the
/// SQLite store), so only the canonical lower-case hyphenated form matches anything.
fn exact_uuid(s: &str) -> Option<Uuid> {
    let u = Uuid::parse_str(s).ok()?;
    (u.hyphenated().to_string() == s).then_some(u)
}

fn parse_doc(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored document: {e}")))
}

fn managed(s: &str) -> StoreResult<ManagedBy> {
    ManagedBy::parse(s).ok_or_else(|| StoreError::Backend(format!("stored managed_by '{s}'")))
}

fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(backend)
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…`) with a pool of up to ten
    /// connections and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(backend)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        Ok(PostgresStore { pool })
    }

    fn user_from_row(row: &PgRow) -> StoreResult<UserRecord> {
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

    fn group_from_row(row: &PgRow) -> StoreResult<GroupRecord> {
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

    fn token_from_row(row: &PgRow) -> StoreResult<ScimTokenRecord> {
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

    fn org_from_row(row: &PgRow) -> StoreResult<Organization> {
        Ok(Organization {
            id: OrgId(get(row, "id")?),
            slug: get(row, "slug")?,
            name: get(row, "name")?,
            created_at: from_ms(get(row, "created_at")?),
        })
    }
}

const USER_COLUMNS: &str = "u.id, u.org_id, u.user_name, u.external_id, u.display_name, u.active, u.doc, u.managed_by, u.created_at, u.updated_at, u.version, ARRAY(SELECT e.email_lower FROM user_emails e WHERE e.user_id = u.id ORDER BY e.email_lower) AS emails";
const GROUP_COLUMNS: &str = "g.id, g.org_id, g.display_name, g.external_id, g.doc, g.managed_by, g.scim_visible, g.created_at, g.updated_at, g.version";
const TOKEN_COLUMNS: &str =
    "id, org_id, name, prefix, hash, domains, created_at, last_used_at, revoked_at";

fn cmp_sql(c: Cmp) -> &'static str {
    match c {
        Cmp::Gt => " > ",
        Cmp::Ge => " >= ",
        Cmp::Lt => " < ",
        Cmp::Le => " <= ",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Users,
    Groups,
}

impl Table {
    fn alias(self) -> &'static str {
        match self {
            Table::Users => "u",
            Table::Groups => "g",
        }
    }
}

/// Appends the WHERE clause of an indexed key. A key the table has no column for (userName,
/// email or active on groups) matches nothing.
fn push_key(qb: &mut QueryBuilder<'_, Postgres>, table: Table, key: &IndexKey) {
    let a = table.alias();
    match key {
        IndexKey::Id(v) => match exact_uuid(v) {
            Some(id) => {
                qb.push(format!(" AND {a}.id = ")).push_bind(id);
            }
            None => {
                qb.push(" AND FALSE");
            }
        },
        IndexKey::UserNameLower(v) if table == Table::Users => {
            qb.push(" AND u.user_name_lower = ").push_bind(v.clone());
        }
        IndexKey::ExternalId(v) => {
            qb.push(format!(" AND {a}.external_id = "))
                .push_bind(v.clone());
        }
        IndexKey::DisplayNameLower(v) => {
            qb.push(format!(" AND {a}.display_name_lower = "))
                .push_bind(v.clone());
        }
        IndexKey::EmailLower(v) if table == Table::Users => {
            qb.push(
                " AND u.id IN (SELECT e.user_id FROM user_emails e WHERE e.org_id = u.org_id AND e.email_lower = ",
            )
            .push_bind(v.clone())
            .push(")");
        }
        IndexKey::LastModified(c, t) => {
            qb.push(format!(" AND {a}.updated_at{}", cmp_sql(*c)))
                .push_bind(ms(*t));
        }
        IndexKey::Created(c, t) => {
            qb.push(format!(" AND {a}.created_at{}", cmp_sql(*c)))
                .push_bind(ms(*t));
        }
        IndexKey::Active(b) if table == Table::Users => {
            qb.push(" AND u.active = ").push_bind(*b);
        }
        IndexKey::UserNameLower(_) | IndexKey::EmailLower(_) | IndexKey::Active(_) => {
            qb.push(" AND FALSE");
        }
        IndexKey::Text(column, op, value) => {
            let name = match column {
                TextColumn::UserNameLower if table == Table::Users => "u.user_name_lower",
                TextColumn::DisplayNameLower => &format!("{a}.display_name_lower"),
                TextColumn::ExternalId => &format!("{a}.external_id"),
                TextColumn::EmailLower if table == Table::Users => {
                    qb.push(" AND EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id");
                    push_text_match(qb, "e.email_lower", *op, value);
                    qb.push(")");
                    return;
                }
                // Groups have no userName and no emails.
                TextColumn::UserNameLower | TextColumn::EmailLower => {
                    qb.push(" AND FALSE");
                    return;
                }
            };
            push_text_match(qb, name, *op, value);
        }
        IndexKey::Seqs(seqs) => {
            qb.push(format!(" AND {a}.seq = ANY("))
                .push_bind(seqs.clone())
                .push(")");
        }
    }
}

/// `sw`, `co` or `ew` on `column`, byte for byte (the columns are `COLLATE "C"`). The empty
/// string starts, is contained in and ends every value; a missing value matches nothing.
fn push_text_match(qb: &mut QueryBuilder<'_, Postgres>, column: &str, op: TextOp, value: &str) {
    if value.is_empty() {
        qb.push(format!(" AND {column} IS NOT NULL"));
        return;
    }
    match op {
        TextOp::Prefix => {
            qb.push(format!(" AND {column} >= "))
                .push_bind(value.to_string());
            if let Some(upper) = prefix_upper_bound(value) {
                qb.push(format!(" AND {column} < ")).push_bind(upper);
            }
        }
        TextOp::Contains => {
            qb.push(format!(" AND strpos({column}, "))
                .push_bind(value.to_string())
                .push(") > 0");
        }
        TextOp::Suffix => {
            let chars = i32::try_from(value.chars().count()).unwrap_or(i32::MAX);
            qb.push(format!(" AND right({column}, "))
                .push_bind(chars)
                .push(") = ")
                .push_bind(value.to_string());
        }
    }
}

/// One chunk of a keyset scan in seq order: `limit` rows after `after_seq` at most.
async fn scan_chunk<T>(
    pool: &PgPool,
    table: Table,
    org: OrgId,
    extra: &str,
    q: &ScanQuery,
    from_row: impl Fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Vec<(i64, T)>> {
    let (from, columns) = match table {
        Table::Users => ("users u", USER_COLUMNS),
        Table::Groups => ("groups g", GROUP_COLUMNS),
    };
    let a = table.alias();
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {columns}, {a}.seq AS scan_seq FROM {from} WHERE {a}.org_id = "
    ));
    qb.push_bind(org.0).push(extra);
    if let Some(k) = &q.key {
        push_key(&mut qb, table, k);
    }
    // As in `query_page`: `seq + 0` keeps the planner on the key's index for a key that
    // names a handful of rows, rather than a walk of the whole organization in seq order.
    let order = if q.key.as_ref().is_some_and(is_selective) {
        format!("({a}.seq + 0)")
    } else {
        format!("{a}.seq")
    };
    qb.push(format!(" AND {a}.seq > "))
        .push_bind(q.after_seq)
        .push(format!(" ORDER BY {order} LIMIT "))
        .push_bind(i64::from(q.limit));
    let rows = qb.build().fetch_all(pool).await.map_err(backend)?;
    rows.iter()
        .map(|r| Ok((get::<i64>(r, "scan_seq")?, from_row(r)?)))
        .collect()
}

/// Keys that name a handful of rows at most (the IdPs' lookups).
fn is_selective(key: &IndexKey) -> bool {
    matches!(
        key,
        IndexKey::Id(_)
            | IndexKey::UserNameLower(_)
            | IndexKey::ExternalId(_)
            | IndexKey::DisplayNameLower(_)
            | IndexKey::EmailLower(_)
            | IndexKey::Seqs(_)
    )
}

/// NULLs sort last in both directions and `seq` breaks ties, as in the SQLite store; text
/// columns are `COLLATE "C"`, so the order is byte order there too.
fn order_by(alias: &str, sort: SortKey, descending: bool) -> String {
    let column = match sort {
        SortKey::Seq => "seq",
        SortKey::UserName => "user_name_lower",
        SortKey::DisplayName => "display_name_lower",
        SortKey::ExternalId => "external_id",
        SortKey::Created => "created_at",
        SortKey::LastModified => "updated_at",
    };
    let dir = if descending { "DESC" } else { "ASC" };
    if sort == SortKey::Seq {
        format!(" ORDER BY {alias}.seq {dir}")
    } else {
        format!(" ORDER BY {alias}.{column} {dir} NULLS LAST, {alias}.seq ASC")
    }
}

fn push_window(qb: &mut QueryBuilder<'_, Postgres>, q: &StoreQuery) {
    if let Some(limit) = q.limit {
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    if q.offset > 0 {
        qb.push(" OFFSET ")
            .push_bind(i64::try_from(q.offset).unwrap_or(i64::MAX));
    }
}

/// Counts the matching rows and reads one window of them.
async fn query_page<T>(
    pool: &PgPool,
    table: Table,
    org: OrgId,
    extra: &str,
    q: &StoreQuery,
    sort: SortKey,
    from_row: fn(&PgRow) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let (from, columns) = match table {
        Table::Users => ("users u", USER_COLUMNS),
        Table::Groups => ("groups g", GROUP_COLUMNS),
    };
    let a = table.alias();
    let mut page =
        QueryBuilder::<Postgres>::new(format!("SELECT {columns} FROM {from} WHERE {a}.org_id = "));
    page.push_bind(org.0).push(extra);
    if let Some(k) = &q.key {
        push_key(&mut page, table, k);
    }
    let mut order = order_by(a, sort, q.descending);
    if q.key.as_ref().is_some_and(is_selective) && sort == SortKey::Seq {
        // With ORDER BY seq and a LIMIT, the planner may walk the (org_id, seq) index and
        // filter every row of the organization, rather than look the key up and sort the few
        // rows it names: `seq + 0` matches no index, so the key's index is used.
        order = order.replace(&format!("{a}.seq"), &format!("({a}.seq + 0)"));
    }
    page.push(order);
    push_window(&mut page, q);
    let rows = page.build().fetch_all(pool).await.map_err(backend)?;
    let items = rows.iter().map(from_row).collect::<StoreResult<Vec<_>>>()?;
    // COUNT(*) walks every matching row: skip it when the page already tells the total (the
    // first page, not full: every IdP lookup by userName, externalId or displayName).
    if q.offset == 0 && q.limit.is_none_or(|l| (items.len() as u64) < l) {
        return Ok(Page {
            total: items.len() as u64,
            items,
        });
    }
    let mut count =
        QueryBuilder::<Postgres>::new(format!("SELECT COUNT(*) FROM {from} WHERE {a}.org_id = "));
    count.push_bind(org.0).push(extra);
    if let Some(k) = &q.key {
        push_key(&mut count, table, k);
    }
    let total: i64 = count
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(Page {
        total: total as u64,
        items,
    })
}

async fn insert_emails(conn: &mut PgConnection, user: &UserRecord) -> StoreResult<()> {
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

/// Adds members (users or groups of the same organization, never the group itself) to a
/// group; already-present members are left alone. The first id, in the order given, that
/// names no such user or group fails the whole change with `UnknownMember`.
///
/// Two lookups and one insert whatever the number of ids: O(changed members). The member
/// rows are key-share locked until commit so a concurrent delete cannot orphan the new rows.
async fn add_members(
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
async fn missing_or_changed(
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

/// Writes a user row (if still at `expected_version`) and its email index.
async fn write_user_row(
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
            "SELECT version FROM users WHERE org_id = $1 AND id = $2",
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

/// Writes a group row (if still at `expected_version`), then applies membership changes in order.
async fn write_group_row(
    conn: &mut PgConnection,
    g: &GroupRecord,
    expected_version: i64,
    changes: &[MembershipChange],
) -> StoreResult<()> {
    // The group row first: its lock queues concurrent changes of this group.
    let done = sqlx::query("UPDATE groups SET display_name = $1, display_name_lower = $2, external_id = $3, doc = $4, managed_by = $5, scim_visible = $6, updated_at = $7, version = $8 WHERE org_id = $9 AND id = $10 AND version = $11")
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
            "SELECT version FROM groups WHERE org_id = $1 AND id = $2",
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

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.id.0)
        .bind(&org.slug)
        .bind(&org.name)
        .bind(ms(org.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "slug"))?;
        Ok(())
    }

    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| Self::org_from_row(&r))
            .transpose()
    }

    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| Self::org_from_row(&r))
            .transpose()
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations ORDER BY slug")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(Self::org_from_row)
            .collect()
    }

    async fn create_token(&self, t: &ScimTokenRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO scim_tokens (id, org_id, name, prefix, hash, domains, created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(t.id.0)
            .bind(t.org_id.0)
            .bind(&t.name)
            .bind(&t.prefix)
            .bind(&t.hash)
            .bind(t.domains.to_stored())
            .bind(ms(t.created_at))
            .bind(t.last_used_at.map(ms))
            .bind(t.revoked_at.map(ms))
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(|r| Self::token_from_row(&r))
        .transpose()
    }

    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE org_id = $1 ORDER BY created_at, id"
        ))
        .bind(org.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?
        .iter()
        .map(Self::token_from_row)
        .collect()
    }

    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        let done = sqlx::query("UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE org_id = $2 AND id = $3")
            .bind(ms(at))
            .bind(org.0)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_token_domains(
        &self,
        org: OrgId,
        id: TokenId,
        domains: &DomainList,
    ) -> StoreResult<()> {
        let done = sqlx::query("UPDATE scim_tokens SET domains = $1 WHERE org_id = $2 AND id = $3")
            .bind(domains.to_stored())
            .bind(org.0)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) WHERE org_id = $2 AND id = $3")
            .bind(ms(at))
            .bind(org.0)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO admin_keys (id, name, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(key.id.0)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind(ms(key.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "admin key"))?;
        Ok(())
    }

    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>> {
        let row = sqlx::query(
            "SELECT id, name, prefix, hash, created_at FROM admin_keys WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(AdminKeyRecord {
                id: directory::ids::AdminKeyId(get(&r, "id")?),
                name: get(&r, "name")?,
                prefix: get(&r, "prefix")?,
                hash: get(&r, "hash")?,
                created_at: from_ms(get(&r, "created_at")?),
            })
        })
        .transpose()
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
        let done = sqlx::query("DELETE FROM users WHERE org_id = $1 AND id = $2")
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

    async fn user_groups(
        &self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<(GroupId, String, bool)>> {
        let rows = sqlx::query("SELECT g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = $1 AND m.member_id = $2 ORDER BY g.display_name_lower, g.seq")
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
        console_users::list_page(&self.pool, org, q).await
    }

    async fn user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        console_users::user_sessions(&self.pool, org, user).await
    }

    async fn insert_group(&self, g: &GroupRecord, members: &[String]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO groups (id, org_id, display_name, display_name_lower, external_id, doc, managed_by, scim_visible, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
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
        sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = $1 AND g.id = $2"
        ))
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
        let done = sqlx::query("DELETE FROM groups WHERE org_id = $1 AND id = $2")
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
        console_groups::list_after(&self.pool, org, name_prefix, after, limit).await
    }

    async fn group_members_among(
        &self,
        org: OrgId,
        id: GroupId,
        ids: &[String],
    ) -> StoreResult<Vec<Member>> {
        console_groups::members_among(&self.pool, org, id, ids).await
    }

    async fn group_members_after(
        &self,
        org: OrgId,
        id: GroupId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        console_groups::members_after(&self.pool, org, id, after, limit).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // A few statements of many rows each (PostgreSQL takes at most 65535 parameters per
        // statement), in one transaction: the events get positions in the order given.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for chunk in events.chunks(1000) {
            let mut qb = QueryBuilder::<Postgres>::new("INSERT INTO audit_events (org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id) ");
            qb.push_values(chunk, |mut row, e| {
                row.push_bind(e.org_id.0)
                    .push_bind(ms(e.at))
                    .push_bind(&e.actor_kind)
                    .push_bind(&e.actor_id)
                    .push_bind(&e.operation)
                    .push_bind(&e.resource_type)
                    .push_bind(&e.resource_id)
                    .push_bind(i32::from(e.status))
                    .push_bind(&e.detail)
                    .push_bind(&e.request_id);
            });
            qb.build().execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn append_audit_folded(&self, events: &[FoldedAuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One event at a time, in one transaction: an event may fold into the one before it.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for f in events {
            let e = &f.event;
            let count = i64::try_from(f.count.max(1)).unwrap_or(i64::MAX);
            let folded = sqlx::query(
                "UPDATE audit_events SET repeated = repeated + $1, last_at = GREATEST(COALESCE(last_at, at), $2) \
                 WHERE seq = (SELECT seq FROM audit_events WHERE org_id = $3 AND fold_key = $4 AND at >= $5 ORDER BY seq DESC LIMIT 1)",
            )
            .bind(count)
            .bind(ms(e.at))
            .bind(e.org_id.0)
            .bind(&f.fold_key)
            .bind(ms(f.window_start))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if folded.rows_affected() > 0 {
                continue;
            }
            sqlx::query(
                "INSERT INTO audit_events (org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id, fold_key, repeated, last_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(e.org_id.0)
            .bind(ms(e.at))
            .bind(&e.actor_kind)
            .bind(&e.actor_id)
            .bind(&e.operation)
            .bind(&e.resource_type)
            .bind(&e.resource_id)
            .bind(i32::from(e.status))
            .bind(&e.detail)
            .bind(&e.request_id)
            .bind(&f.fold_key)
            .bind(count)
            .bind((count > 1).then(|| ms(e.at)))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn list_audit(&self, org: OrgId, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE org_id = "
        ));
        qb.push_bind(org.0);
        if let Some(p) = &q.operation_prefix {
            // A range, not LIKE or substr: the prefix is literal (the column is COLLATE "C").
            qb.push(" AND operation >= ").push_bind(p.clone());
            if let Some(bound) = prefix_upper_bound(p) {
                qb.push(" AND operation < ").push_bind(bound);
            }
        }
        if let Some(t) = &q.resource_type {
            qb.push(" AND resource_type = ").push_bind(t.clone());
        }
        if let Some(r) = &q.resource_id {
            qb.push(" AND resource_id = ").push_bind(r.clone());
        }
        if let Some(k) = &q.actor_kind {
            qb.push(" AND actor_kind = ").push_bind(k.clone());
            if let Some(a) = &q.actor_id {
                qb.push(" AND actor_id = ").push_bind(a.clone());
            }
        }
        // Literal bounds, so the partial index of refusals (migration 0006) applies.
        match q.outcome {
            Some(AuditOutcome::Succeeded) => {
                qb.push(" AND status < 400");
            }
            Some(AuditOutcome::Refused) => {
                qb.push(" AND status >= 400");
            }
            None => {}
        }
        if let Some(t) = q.since {
            qb.push(" AND at >= ").push_bind(ms(t));
        }
        if let Some(t) = q.until {
            qb.push(" AND at < ").push_bind(ms(t));
        }
        // A forward page is read oldest first from its cursor, then turned around.
        let forward = q.before_seq.is_none() && q.after_seq.is_some();
        if let Some(b) = q.before_seq {
            qb.push(" AND seq < ").push_bind(b);
        } else if let Some(a) = q.after_seq {
            qb.push(" AND seq > ").push_bind(a);
        }
        qb.push(if forward {
            " ORDER BY seq ASC LIMIT "
        } else {
            " ORDER BY seq DESC LIMIT "
        })
        .push_bind(i64::from(q.limit.clamp(1, 1000)));
        let rows = qb.build().fetch_all(&self.pool).await.map_err(backend)?;
        let mut events = rows
            .iter()
            .map(stored_event)
            .collect::<StoreResult<Vec<_>>>()?;
        if forward {
            events.reverse();
        }
        Ok(events)
    }

    async fn put_saml_connection(&self, conn: &SamlConnection) -> StoreResult<()> {
        sso::put_connection(&self.pool, conn).await
    }

    async fn saml_connection(&self, org: OrgId) -> StoreResult<Option<SamlConnection>> {
        sso::connection(&self.pool, org).await
    }

    async fn saml_connection_by_client_id(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<SamlConnection>> {
        sso::connection_by_client_id(&self.pool, client_id).await
    }

    async fn last_audit_event(
        &self,
        org: OrgId,
        operation_prefix: &str,
        succeeded_only: bool,
    ) -> StoreResult<Option<StoredAuditEvent>> {
        last_event::newest(&self.pool, org, operation_prefix, succeeded_only).await
    }

    async fn org_for_login_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        domains::org_for_domain(&self.pool, domain).await
    }

    async fn login_domain_claims(&self, org: OrgId) -> StoreResult<Vec<DomainClaim>> {
        domains::claims(&self.pool, org).await
    }

    async fn replace_login_domain_claims(
        &self,
        org: OrgId,
        claims: &[DomainClaim],
    ) -> StoreResult<(Vec<String>, Vec<String>)> {
        domains::replace_claims(&self.pool, org, claims).await
    }

    async fn add_login_domain_claim(&self, claim: &DomainClaim) -> StoreResult<bool> {
        domains::add_claim(&self.pool, claim).await
    }

    async fn verify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        at: OffsetDateTime,
        displaced_note: &str,
    ) -> StoreResult<Vec<OrgId>> {
        domains::verify(&self.pool, org, domain, proof, at, displaced_note).await
    }

    async fn record_login_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        failure: Option<&str>,
        lapse_after: u32,
    ) -> StoreResult<DomainClaim> {
        domains::record_check(&self.pool, org, domain, at, failure, lapse_after).await
    }

    async fn record_login_domain_unanswered(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<()> {
        domains::record_unanswered(&self.pool, org, domain, at, note).await
    }

    async fn unverify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        note: &str,
    ) -> StoreResult<bool> {
        domains::unverify(&self.pool, org, domain, note).await
    }

    async fn login_domains_due_for_check(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<DomainClaim>> {
        domains::due_for_check(&self.pool, checked_before, limit).await
    }

    async fn remember_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        return_to: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sso::remember_request(&self.pool, org, request_id, return_to, expires_at).await
    }

    async fn take_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>> {
        sso::take_request(&self.pool, org, request_id, now).await
    }

    async fn remember_assertion(
        &self,
        org: OrgId,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        sso::remember_assertion(&self.pool, org, assertion_id, until, now).await
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        sso::create_session(&self.pool, session).await
    }

    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        sso::session_by_hash(&self.pool, id_hash).await
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sso::touch_session(&self.pool, id_hash, now, idle_expires_at).await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sso::delete_session(&self.pool, id_hash).await
    }

    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        sso::delete_user_sessions(&self.pool, org, user).await
    }

    async fn create_admin(&self, admin: &AdminAccount) -> StoreResult<()> {
        console::create_admin(&self.pool, admin).await
    }

    async fn admin_by_email(&self, org: OrgId, email: &str) -> StoreResult<Option<AdminAccount>> {
        console::admin_by_email(&self.pool, org, email).await
    }

    async fn admin_by_id(&self, org: OrgId, id: AdminId) -> StoreResult<Option<AdminAccount>> {
        console::admin_by_id(&self.pool, org, id).await
    }

    async fn set_admin_password(&self, org: OrgId, id: AdminId, hash: &str) -> StoreResult<()> {
        console::set_admin_password(&self.pool, org, id, hash).await
    }

    async fn record_admin_sign_in(
        &self,
        org: OrgId,
        id: AdminId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        console::record_admin_sign_in(&self.pool, org, id, at).await
    }

    async fn create_admin_invite(&self, invite: &AdminInvite) -> StoreResult<()> {
        console::create_invite(&self.pool, invite).await
    }

    async fn admin_invite_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminInvite>> {
        console::invite_by_hash(&self.pool, token_hash).await
    }

    async fn take_admin_invite(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AdminInvite>> {
        console::take_invite(&self.pool, token_hash, now).await
    }

    async fn list_admins(&self, org: OrgId) -> StoreResult<Vec<AdminAccount>> {
        console_roles::list_admins(&self.pool, org).await
    }

    async fn delete_admin(&self, org: OrgId, id: AdminId) -> StoreResult<()> {
        console_roles::delete_admin(&self.pool, org, id).await
    }

    async fn link_admin_user(&self, org: OrgId, id: AdminId, user: UserId) -> StoreResult<()> {
        console_roles::link_admin_user(&self.pool, org, id, user).await
    }

    async fn admin_by_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<AdminAccount>> {
        console_roles::admin_by_user(&self.pool, org, user).await
    }

    async fn admin_group(&self, org: OrgId) -> StoreResult<Option<GroupId>> {
        console_roles::admin_group(&self.pool, org).await
    }

    async fn set_admin_group(
        &self,
        org: OrgId,
        group: Option<GroupId>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        console_roles::set_admin_group(&self.pool, org, group, at).await
    }

    async fn grant_admin_role(
        &self,
        org: OrgId,
        user: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        console_roles::grant_admin_role(&self.pool, org, user, at).await
    }

    async fn revoke_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        console_roles::revoke_admin_role(&self.pool, org, user).await
    }

    async fn admin_role_users(&self, org: OrgId) -> StoreResult<Vec<UserId>> {
        console_roles::admin_role_users(&self.pool, org).await
    }

    async fn holds_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        console_roles::holds_admin_role(&self.pool, org, user).await
    }

    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        console::create_session(&self.pool, session).await
    }

    async fn console_session_by_hash(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        console::session_by_hash(&self.pool, id_hash).await
    }

    async fn touch_console_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        console::touch_session(&self.pool, id_hash, now, idle_expires_at).await
    }

    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        console::delete_session(&self.pool, id_hash).await
    }

    async fn delete_admin_console_sessions(&self, org: OrgId, admin: AdminId) -> StoreResult<u64> {
        console::delete_admin_sessions(&self.pool, org, admin).await
    }

    async fn delete_user_console_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        console_roles::delete_user_sessions(&self.pool, org, user).await
    }

    async fn reserve_sign_in_attempt(
        &self,
        limits: &[SignInLimit],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<SignInReservation> {
        console::reserve_sign_in_attempt(&self.pool, limits, now, window).await
    }

    async fn release_sign_in_attempt(&self, key: &str, at: OffsetDateTime) -> StoreResult<()> {
        console::release_sign_in_attempt(&self.pool, key, at).await
    }

    async fn failed_sign_ins(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<u32> {
        console::failed_sign_ins(&self.pool, key, now, window).await
    }

    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()> {
        console::clear_failed_sign_ins(&self.pool, key).await
    }
}

/// The columns [`stored_event`] reads.
pub(crate) const AUDIT_COLUMNS: &str = "seq, org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id, repeated, last_at";

/// An audit row selected as [`AUDIT_COLUMNS`].
pub(crate) fn stored_event(r: &sqlx::postgres::PgRow) -> StoreResult<StoredAuditEvent> {
    Ok(StoredAuditEvent {
        seq: get(r, "seq")?,
        event: AuditEvent {
            org_id: OrgId(get(r, "org_id")?),
            at: from_ms(get(r, "at")?),
            actor_kind: get(r, "actor_kind")?,
            actor_id: get(r, "actor_id")?,
            operation: get(r, "operation")?,
            resource_type: get(r, "resource_type")?,
            resource_id: get(r, "resource_id")?,
            status: u16::try_from(get::<i32>(r, "status")?).unwrap_or(0),
            detail: get(r, "detail")?,
            request_id: get(r, "request_id")?,
        },
        repeated: u64::try_from(get::<i64>(r, "repeated")?).unwrap_or(1),
        last_at: get::<Option<i64>>(r, "last_at")?.map(from_ms),
    })
}
