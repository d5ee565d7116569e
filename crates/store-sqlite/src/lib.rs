//! The directory's [`Store`] on embedded SQLite.
//!
//! WAL mode with `synchronous = NORMAL`: readers never block the writer and a commit does not
//! wait for fsync (a power cut may lose the last commits, never corrupt the file). SQLite has
//! one writer at a time, so writes go through a one-connection pool and reads through a pool
//! of several connections.

use async_trait::async_trait;
use directory::ids::{AdminKeyId, GroupId, OrgId, TokenId, UserId};
use directory::model::{
    AdminKeyRecord, AuditEvent, GroupRecord, ManagedBy, Member, MemberKind, MembershipChange,
    Organization, Page, ScimTokenRecord, UserRecord,
};
use directory::query::{AuditQuery, Cmp, IndexKey, SortKey, StoreQuery};
use directory::store::{
    GroupChange, Store, StoreError, StoreResult, StoredAuditEvent, UserChange, UserGroup,
};
use directory::token::DomainList;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

mod user_batch;

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    users: user_batch::UserInserter,
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
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

pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(v as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn parse_uuid<T: FromStr>(s: &str) -> StoreResult<T> {
    s.parse()
        .map_err(|_| StoreError::Backend(format!("stored id '{s}' is not a UUID")))
}

fn parse_doc(s: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("stored document: {e}")))
}

fn managed(s: &str) -> StoreResult<ManagedBy> {
    ManagedBy::parse(s).ok_or_else(|| StoreError::Backend(format!("stored managed_by '{s}'")))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`)
    /// and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .synchronous(SqliteSynchronous::Normal)
            // A small page cache plus memory-mapped reads: SQLite empties a connection's page
            // cache whenever another connection has committed, at a cost that grows with the
            // cache's size, while mapped pages stay valid in the OS cache.
            .pragma("cache_size", "-2000")
            .pragma("mmap_size", "1073741824")
            .pragma("temp_store", "memory");
        if !memory {
            options = options.journal_mode(SqliteJournalMode::Wal);
            if let Some(parent) = Path::new(options.get_filename()).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))?;
        // An in-memory database exists once per connection: reads must share the writer.
        let reader = if memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options.read_only(true))
                .await
                .map_err(backend)?
        };
        let users = user_batch::UserInserter::spawn(writer.clone());
        Ok(SqliteStore {
            reader,
            writer,
            users,
        })
    }

    fn user_from_row(row: &SqliteRow) -> StoreResult<UserRecord> {
        let emails: String = row.try_get("emails_json").map_err(backend)?;
        Ok(UserRecord {
            id: parse_uuid(row.try_get("id").map_err(backend)?)?,
            org_id: parse_uuid(row.try_get("org_id").map_err(backend)?)?,
            user_name: row.try_get("user_name").map_err(backend)?,
            external_id: row.try_get("external_id").map_err(backend)?,
            display_name: row.try_get("display_name").map_err(backend)?,
            active: row.try_get::<i64, _>("active").map_err(backend)? != 0,
            emails: serde_json::from_str(&emails)
                .map_err(|e| StoreError::Backend(format!("stored emails: {e}")))?,
            doc: parse_doc(row.try_get("doc").map_err(backend)?)?,
            managed_by: managed(row.try_get("managed_by").map_err(backend)?)?,
            created_at: from_ms(row.try_get("created_at").map_err(backend)?),
            updated_at: from_ms(row.try_get("updated_at").map_err(backend)?),
            version: row.try_get("version").map_err(backend)?,
        })
    }

    fn group_from_row(row: &SqliteRow) -> StoreResult<GroupRecord> {
        Ok(GroupRecord {
            id: parse_uuid(row.try_get("id").map_err(backend)?)?,
            org_id: parse_uuid(row.try_get("org_id").map_err(backend)?)?,
            display_name: row.try_get("display_name").map_err(backend)?,
            external_id: row.try_get("external_id").map_err(backend)?,
            doc: parse_doc(row.try_get("doc").map_err(backend)?)?,
            managed_by: managed(row.try_get("managed_by").map_err(backend)?)?,
            scim_visible: row.try_get::<i64, _>("scim_visible").map_err(backend)? != 0,
            created_at: from_ms(row.try_get("created_at").map_err(backend)?),
            updated_at: from_ms(row.try_get("updated_at").map_err(backend)?),
            version: row.try_get("version").map_err(backend)?,
        })
    }

    fn token_from_row(row: &SqliteRow) -> StoreResult<ScimTokenRecord> {
        let domains: String = row.try_get("domains").map_err(backend)?;
        Ok(ScimTokenRecord {
            id: parse_uuid(row.try_get("id").map_err(backend)?)?,
            org_id: parse_uuid(row.try_get("org_id").map_err(backend)?)?,
            name: row.try_get("name").map_err(backend)?,
            prefix: row.try_get("prefix").map_err(backend)?,
            hash: row.try_get("hash").map_err(backend)?,
            domains: DomainList::from_stored(&domains).map_err(StoreError::Backend)?,
            created_at: from_ms(row.try_get("created_at").map_err(backend)?),
            last_used_at: row
                .try_get::<Option<i64>, _>("last_used_at")
                .map_err(backend)?
                .map(from_ms),
            revoked_at: row
                .try_get::<Option<i64>, _>("revoked_at")
                .map_err(backend)?
                .map(from_ms),
        })
    }

    fn org_from_row(row: &SqliteRow) -> StoreResult<Organization> {
        Ok(Organization {
            id: parse_uuid(row.try_get("id").map_err(backend)?)?,
            slug: row.try_get("slug").map_err(backend)?,
            name: row.try_get("name").map_err(backend)?,
            created_at: from_ms(row.try_get("created_at").map_err(backend)?),
        })
    }
}

const USER_COLUMNS: &str = "u.id, u.org_id, u.user_name, u.external_id, u.display_name, u.active, u.doc, u.managed_by, u.created_at, u.updated_at, u.version, u.emails_json";
const GROUP_COLUMNS: &str = "g.id, g.org_id, g.display_name, g.external_id, g.doc, g.managed_by, g.scim_visible, g.created_at, g.updated_at, g.version";
/// A user's groups as a JSON array of `[id, displayName, scim_visible]`, for `USER_COLUMNS` rows.
const USER_GROUPS_COLUMN: &str =
    "(SELECT json_group_array(json_array(g.id, g.display_name, g.scim_visible)) \
     FROM group_members m JOIN groups g ON g.id = m.group_id \
     WHERE m.org_id = u.org_id AND m.member_id = u.id) AS groups";

/// Reads the `groups` column of `USER_GROUPS_COLUMN` (NULL when not selected), sorted by name.
fn groups_from_row(row: &SqliteRow) -> StoreResult<Vec<UserGroup>> {
    let raw: Option<String> = row.try_get("groups").map_err(backend)?;
    let parsed: Vec<(String, String, i64)> = match raw {
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

fn cmp_sql(c: Cmp) -> &'static str {
    match c {
        Cmp::Gt => " > ",
        Cmp::Ge => " >= ",
        Cmp::Lt => " < ",
        Cmp::Le => " <= ",
    }
}

/// Appends the WHERE clause of an indexed key for table alias `t` (`u` or `g`).
fn push_key(qb: &mut QueryBuilder<'_, Sqlite>, alias: &str, key: &IndexKey) {
    match key {
        IndexKey::Id(v) => {
            qb.push(format!(" AND {alias}.id = ")).push_bind(v.clone());
        }
        IndexKey::UserNameLower(v) => {
            qb.push(format!(" AND {alias}.user_name_lower = "))
                .push_bind(v.clone());
        }
        IndexKey::ExternalId(v) => {
            qb.push(format!(" AND {alias}.external_id = "))
                .push_bind(v.clone());
        }
        IndexKey::DisplayNameLower(v) => {
            qb.push(format!(" AND {alias}.display_name_lower = "))
                .push_bind(v.clone());
        }
        IndexKey::EmailLower(v) => {
            qb.push(format!(
                " AND {alias}.id IN (SELECT user_id FROM user_emails WHERE org_id = {alias}.org_id AND email_lower = "
            ))
            .push_bind(v.clone())
            .push(")");
        }
        IndexKey::LastModified(c, t) => {
            qb.push(format!(" AND {alias}.updated_at{}", cmp_sql(*c)))
                .push_bind(ms(*t));
        }
        IndexKey::Created(c, t) => {
            qb.push(format!(" AND {alias}.created_at{}", cmp_sql(*c)))
                .push_bind(ms(*t));
        }
        IndexKey::Active(b) => {
            qb.push(format!(" AND {alias}.active = "))
                .push_bind(*b as i64);
        }
    }
}

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
    // seq breaks ties so pages are stable.
    if sort == SortKey::Seq {
        format!(" ORDER BY {alias}.seq {dir}")
    } else {
        format!(" ORDER BY {alias}.{column} IS NULL, {alias}.{column} {dir}, {alias}.seq ASC")
    }
}

fn push_window(qb: &mut QueryBuilder<'_, Sqlite>, q: &StoreQuery) {
    if let Some(limit) = q.limit {
        qb.push(" LIMIT ").push_bind(limit as i64);
        qb.push(" OFFSET ").push_bind(q.offset as i64);
    } else if q.offset > 0 {
        qb.push(" LIMIT -1 OFFSET ").push_bind(q.offset as i64);
    }
}

/// Adds members (users or groups of the same organization) to a group; already-present
/// members are left alone. A few statements per chunk of ids, whatever their number: which
/// ids are users, which are groups, then one multi-row insert.
async fn add_members(
    conn: &mut sqlx::SqliteConnection,
    org: OrgId,
    group: GroupId,
    ids: &[String],
) -> StoreResult<()> {
    let org_s = org.to_string();
    let group_s = group.to_string();
    // 500 ids a chunk keeps every statement far below SQLite's parameter limit.
    for chunk in ids.chunks(500) {
        let mut kinds: HashMap<String, &'static str> = HashMap::with_capacity(chunk.len());
        for (table, kind) in [("users", "User"), ("groups", "Group")] {
            let missing: Vec<&String> =
                chunk.iter().filter(|id| !kinds.contains_key(*id)).collect();
            if missing.is_empty() {
                break;
            }
            let mut qb =
                QueryBuilder::<Sqlite>::new(format!("SELECT id FROM {table} WHERE org_id = "));
            qb.push_bind(org_s.clone())
                .push(" AND id <> ")
                .push_bind(group_s.clone())
                .push(" AND id IN (");
            let mut list = qb.separated(", ");
            for id in &missing {
                list.push_bind((*id).clone());
            }
            qb.push(")");
            let found: Vec<String> = qb
                .build_query_scalar()
                .fetch_all(&mut *conn)
                .await
                .map_err(backend)?;
            kinds.extend(found.into_iter().map(|id| (id, kind)));
        }
        if let Some(unknown) = chunk.iter().find(|id| !kinds.contains_key(*id)) {
            return Err(StoreError::UnknownMember(unknown.clone()));
        }
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT OR IGNORE INTO group_members (group_id, member_id, member_type, org_id) ",
        );
        qb.push_values(chunk, |mut row, id| {
            row.push_bind(group_s.clone())
                .push_bind(id.clone())
                .push_bind(kinds.get(id).copied().unwrap_or("User"))
                .push_bind(org_s.clone());
        });
        qb.build().execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

/// Writes a user row (if still at `expected_version`) and its email index.
async fn write_user_row(
    conn: &mut sqlx::SqliteConnection,
    u: &UserRecord,
    expected_version: i64,
) -> StoreResult<()> {
    let done = sqlx::query("UPDATE users SET user_name = ?, user_name_lower = ?, external_id = ?, display_name = ?, display_name_lower = ?, active = ?, emails_json = ?, doc = ?, managed_by = ?, updated_at = ?, version = ? WHERE org_id = ? AND id = ? AND version = ?")
            .bind(&u.user_name)
            .bind(u.user_name.to_lowercase())
            .bind(&u.external_id)
            .bind(&u.display_name)
            .bind(u.display_name.as_ref().map(|d| d.to_lowercase()))
            .bind(u.active as i64)
            .bind(emails_json(u))
            .bind(u.doc.to_string())
            .bind(u.managed_by.as_str())
            .bind(ms(u.updated_at))
            .bind(u.version)
            .bind(u.org_id.to_string())
            .bind(u.id.to_string())
            .bind(expected_version)
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "userName"))?;
    if done.rows_affected() == 0 {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM users WHERE org_id = ? AND id = ?")
                .bind(u.org_id.to_string())
                .bind(u.id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
        return Err(if exists.is_some() {
            StoreError::VersionMismatch
        } else {
            StoreError::NotFound
        });
    }
    Ok(())
}

pub(crate) fn emails_json(u: &UserRecord) -> String {
    serde_json::Value::from(u.emails.clone()).to_string()
}

/// Writes a group row (if still at `expected_version`) and applies membership changes in order.
async fn write_group_row(
    conn: &mut sqlx::SqliteConnection,
    g: &GroupRecord,
    expected_version: i64,
    changes: &[MembershipChange],
) -> StoreResult<()> {
    let done = sqlx::query("UPDATE groups SET display_name = ?, display_name_lower = ?, external_id = ?, doc = ?, managed_by = ?, scim_visible = ?, updated_at = ?, version = ? WHERE org_id = ? AND id = ? AND version = ?")
            .bind(&g.display_name)
            .bind(g.display_name.to_lowercase())
            .bind(&g.external_id)
            .bind(g.doc.to_string())
            .bind(g.managed_by.as_str())
            .bind(g.scim_visible as i64)
            .bind(ms(g.updated_at))
            .bind(g.version)
            .bind(g.org_id.to_string())
            .bind(g.id.to_string())
            .bind(expected_version)
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "displayName"))?;
    if done.rows_affected() == 0 {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM groups WHERE org_id = ? AND id = ?")
                .bind(g.org_id.to_string())
                .bind(g.id.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
        return Err(if exists.is_some() {
            StoreError::VersionMismatch
        } else {
            StoreError::NotFound
        });
    }
    for change in changes {
        match change {
            MembershipChange::Add(ids) => add_members(conn, g.org_id, g.id, ids).await?,
            MembershipChange::Remove(ids) => {
                for chunk in ids.chunks(500) {
                    let mut qb =
                        QueryBuilder::<Sqlite>::new("DELETE FROM group_members WHERE org_id = ");
                    qb.push_bind(g.org_id.to_string())
                        .push(" AND group_id = ")
                        .push_bind(g.id.to_string())
                        .push(" AND member_id IN (");
                    let mut list = qb.separated(", ");
                    for id in chunk {
                        list.push_bind(id.clone());
                    }
                    qb.push(")");
                    qb.build().execute(&mut *conn).await.map_err(backend)?;
                }
            }
            MembershipChange::RemoveAll => {
                sqlx::query("DELETE FROM group_members WHERE org_id = ? AND group_id = ?")
                    .bind(g.org_id.to_string())
                    .bind(g.id.to_string())
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
            }
        }
    }
    Ok(())
}

/// One multi-row insert of audit events.
async fn insert_audit_rows<'c, E>(executor: E, events: &[AuditEvent]) -> StoreResult<()>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    if events.is_empty() {
        return Ok(());
    }
    let mut qb = QueryBuilder::<Sqlite>::new("INSERT INTO audit_events (org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id) ");
    qb.push_values(events, |mut row, e| {
        row.push_bind(e.org_id.to_string())
            .push_bind(ms(e.at))
            .push_bind(e.actor_kind.clone())
            .push_bind(e.actor_id.clone())
            .push_bind(e.operation.clone())
            .push_bind(e.resource_type.clone())
            .push_bind(e.resource_id.clone())
            .push_bind(e.status as i64)
            .push_bind(e.detail.clone())
            .push_bind(e.request_id.clone());
    });
    qb.build().execute(executor).await.map_err(backend)?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        sqlx::query("INSERT INTO organizations (id, slug, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(org.id.to_string())
            .bind(&org.slug)
            .bind(&org.name)
            .bind(ms(org.created_at))
            .execute(&self.writer)
            .await
            .map_err(|e| write_error(e, "slug"))?;
        Ok(())
    }

    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations WHERE slug = ?")
            .bind(slug)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .map(|r| Self::org_from_row(&r))
            .transpose()
    }

    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .map(|r| Self::org_from_row(&r))
            .transpose()
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations ORDER BY slug")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(Self::org_from_row)
            .collect()
    }

    async fn create_token(&self, t: &ScimTokenRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO scim_tokens (id, org_id, name, prefix, hash, domains, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(t.id.to_string())
            .bind(t.org_id.to_string())
            .bind(&t.name)
            .bind(&t.prefix)
            .bind(&t.hash)
            .bind(t.domains.to_stored())
            .bind(ms(t.created_at))
            .bind(t.last_used_at.map(ms))
            .bind(t.revoked_at.map(ms))
            .execute(&self.writer)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>> {
        sqlx::query("SELECT * FROM scim_tokens WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?
            .map(|r| Self::token_from_row(&r))
            .transpose()
    }

    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
        sqlx::query("SELECT * FROM scim_tokens WHERE org_id = ? ORDER BY created_at, id")
            .bind(org.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?
            .iter()
            .map(Self::token_from_row)
            .collect()
    }

    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        let done = sqlx::query("UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE org_id = ? AND id = ?")
            .bind(ms(at))
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.writer)
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
        let done = sqlx::query("UPDATE scim_tokens SET domains = ? WHERE org_id = ? AND id = ?")
            .bind(domains.to_stored())
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE org_id = ? AND id = ?")
            .bind(ms(at))
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO admin_keys (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(key.id.to_string())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind(ms(key.created_at))
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "admin key"))?;
        Ok(())
    }

    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>> {
        let row =
            sqlx::query("SELECT id, name, prefix, hash, created_at FROM admin_keys WHERE hash = ?")
                .bind(hash)
                .fetch_optional(&self.reader)
                .await
                .map_err(backend)?;
        row.map(|r| {
            Ok(AdminKeyRecord {
                id: parse_uuid::<AdminKeyId>(r.try_get("id").map_err(backend)?)?,
                name: r.try_get("name").map_err(backend)?,
                prefix: r.try_get("prefix").map_err(backend)?,
                hash: r.try_get("hash").map_err(backend)?,
                created_at: from_ms(r.try_get("created_at").map_err(backend)?),
            })
        })
        .transpose()
    }

    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        // Grouped with the inserts waiting at the same moment: one statement for all.
        self.users.insert(u.clone()).await
    }

    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<Option<UserRecord>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?
        .map(|r| Self::user_from_row(&r))
        .transpose()
    }

    async fn update_user(&self, u: &UserRecord, expected_version: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        write_user_row(&mut tx, u, expected_version).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn modify_user(
        &self,
        org: OrgId,
        id: UserId,
        change: UserChange<'_>,
    ) -> StoreResult<UserRecord> {
        // The one writer connection holds the write lock from the read to the commit, so no
        // other change to this user can interleave.
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let current = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.org_id = ? AND u.id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
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

    async fn get_user_with_groups(
        &self,
        org: OrgId,
        id: UserId,
        with_groups: bool,
    ) -> StoreResult<Option<(UserRecord, Vec<UserGroup>)>> {
        if !with_groups {
            return Ok(self.get_user(org, id).await?.map(|u| (u, Vec::new())));
        }
        // One round trip: the user row with its groups as a JSON array.
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, {USER_GROUPS_COLUMN} FROM users u WHERE u.org_id = ? AND u.id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let user = Self::user_from_row(&row)?;
        let groups = groups_from_row(&row)?;
        Ok(Some((user, groups)))
    }

    async fn delete_user(&self, org: OrgId, id: UserId) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let done = sqlx::query("DELETE FROM users WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM group_members WHERE org_id = ? AND member_id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
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
        let groups_column = if with_groups {
            USER_GROUPS_COLUMN
        } else {
            "NULL AS groups"
        };
        let mut page = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {USER_COLUMNS}, {groups_column} FROM users u WHERE u.org_id = "
        ));
        page.push_bind(org.to_string());
        if let Some(k) = &q.key {
            push_key(&mut page, "u", k);
        }
        page.push(order_by("u", q.sort, q.descending));
        push_window(&mut page, q);
        let rows = page
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let items = rows
            .iter()
            .map(|r| Ok((Self::user_from_row(r)?, groups_from_row(r)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        // COUNT(*) walks every matching index entry: skip it when the page already tells
        // the total (the first page, not full: every IdP lookup by userName or externalId).
        let complete = q.offset == 0 && q.limit.is_none_or(|l| (items.len() as u64) < l);
        let total = if complete {
            items.len() as u64
        } else {
            if q.key.is_none() {
                let n: Option<i64> =
                    sqlx::query_scalar("SELECT users FROM org_user_counts WHERE org_id = ?")
                        .bind(org.to_string())
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(backend)?;
                return Ok(Page {
                    total: n.unwrap_or(0).max(0) as u64,
                    items,
                });
            }
            let mut count =
                QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM users u WHERE u.org_id = ");
            count.push_bind(org.to_string());
            if let Some(k) = &q.key {
                push_key(&mut count, "u", k);
            }
            let total: i64 = count
                .build_query_scalar()
                .fetch_one(&self.reader)
                .await
                .map_err(backend)?;
            total as u64
        };
        Ok(Page { total, items })
    }

    async fn groups_of_users(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> StoreResult<HashMap<UserId, Vec<UserGroup>>> {
        let mut out: HashMap<UserId, Vec<UserGroup>> = HashMap::with_capacity(users.len());
        // Pages are at most a thousand users; SQLite takes up to 32,766 parameters.
        for chunk in users.chunks(500) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "SELECT m.member_id, g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = ",
            );
            qb.push_bind(org.to_string()).push(" AND m.member_id IN (");
            let mut list = qb.separated(", ");
            for u in chunk {
                list.push_bind(u.to_string());
            }
            qb.push(") ORDER BY g.display_name_lower, g.seq");
            let rows = qb.build().fetch_all(&self.reader).await.map_err(backend)?;
            for r in &rows {
                let member: UserId = parse_uuid(r.try_get("member_id").map_err(backend)?)?;
                out.entry(member).or_default().push((
                    parse_uuid(r.try_get("id").map_err(backend)?)?,
                    r.try_get("display_name").map_err(backend)?,
                    r.try_get::<i64, _>("scim_visible").map_err(backend)? != 0,
                ));
            }
        }
        Ok(out)
    }

    async fn user_groups(
        &self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<(GroupId, String, bool)>> {
        let rows = sqlx::query("SELECT g.id, g.display_name, g.scim_visible FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.org_id = ? AND m.member_id = ? ORDER BY g.display_name_lower, g.seq")
            .bind(org.to_string())
            .bind(user.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok((
                    parse_uuid(r.try_get("id").map_err(backend)?)?,
                    r.try_get("display_name").map_err(backend)?,
                    r.try_get::<i64, _>("scim_visible").map_err(backend)? != 0,
                ))
            })
            .collect()
    }

    async fn insert_group(&self, g: &GroupRecord, members: &[String]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO groups (id, org_id, display_name, display_name_lower, external_id, doc, managed_by, scim_visible, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(g.id.to_string())
            .bind(g.org_id.to_string())
            .bind(&g.display_name)
            .bind(g.display_name.to_lowercase())
            .bind(&g.external_id)
            .bind(g.doc.to_string())
            .bind(g.managed_by.as_str())
            .bind(g.scim_visible as i64)
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
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = ? AND g.id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.reader)
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
             WHERE m.org_id = ? AND m.group_id = ? ORDER BY m.member_id",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("member_type").map_err(backend)?;
                Ok(Member {
                    id: r.try_get("member_id").map_err(backend)?,
                    kind: if kind == "Group" {
                        MemberKind::Group
                    } else {
                        MemberKind::User
                    },
                    display: r.try_get("display").map_err(backend)?,
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        write_group_row(&mut tx, g, expected_version, changes).await?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn modify_group(
        &self,
        org: OrgId,
        id: GroupId,
        change: GroupChange<'_>,
    ) -> StoreResult<GroupRecord> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let current = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = ? AND g.id = ?"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
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
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let done = sqlx::query("DELETE FROM groups WHERE org_id = ? AND id = ?")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "DELETE FROM group_members WHERE (org_id = ?2 AND group_id = ?1) OR (org_id = ?2 AND member_id = ?1)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
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
        let visible = if scim_only {
            " AND g.scim_visible = 1"
        } else {
            ""
        };
        let mut page = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.org_id = "
        ));
        page.push_bind(org.to_string()).push(visible);
        if let Some(k) = &q.key {
            push_key(&mut page, "g", k);
        }
        let sort = if q.sort == SortKey::UserName {
            SortKey::DisplayName
        } else {
            q.sort
        };
        page.push(order_by("g", sort, q.descending));
        push_window(&mut page, q);
        let rows = page
            .build()
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let items = rows
            .iter()
            .map(Self::group_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // COUNT(*) walks every matching index entry: skip it when the page already tells
        // the total (the first page, not full: every IdP lookup by userName or externalId).
        let complete = q.offset == 0 && q.limit.is_none_or(|l| (items.len() as u64) < l);
        let total = if complete {
            items.len() as u64
        } else {
            let mut count =
                QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM groups g WHERE g.org_id = ");
            count.push_bind(org.to_string()).push(visible);
            if let Some(k) = &q.key {
                push_key(&mut count, "g", k);
            }
            let total: i64 = count
                .build_query_scalar()
                .fetch_one(&self.reader)
                .await
                .map_err(backend)?;
            total as u64
        };
        Ok(Page { total, items })
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        // Many rows per statement (10 parameters a row, SQLite takes 32,766 a statement): the
        // writer connection is shared with every SCIM write, so each hand-off counts. One
        // statement is atomic by itself; several share a transaction.
        const ROWS: usize = 500;
        if events.len() <= ROWS {
            return insert_audit_rows(&self.writer, events).await;
        }
        let mut tx = self.writer.begin().await.map_err(backend)?;
        for chunk in events.chunks(ROWS) {
            insert_audit_rows(&mut *tx, chunk).await?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn list_audit(&self, org: OrgId, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT * FROM audit_events WHERE org_id = ");
        qb.push_bind(org.to_string());
        if let Some(p) = &q.operation_prefix {
            qb.push(" AND substr(operation, 1, length(")
                .push_bind(p.clone())
                .push(")) = ")
                .push_bind(p.clone());
        }
        if let Some(r) = &q.resource_id {
            qb.push(" AND resource_id = ").push_bind(r.clone());
        }
        if let Some(b) = q.before_seq {
            qb.push(" AND seq < ").push_bind(b);
        }
        qb.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(q.limit.clamp(1, 1000) as i64);
        let rows = qb.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(StoredAuditEvent {
                    seq: r.try_get("seq").map_err(backend)?,
                    event: AuditEvent {
                        org_id: parse_uuid(r.try_get("org_id").map_err(backend)?)?,
                        at: from_ms(r.try_get("at").map_err(backend)?),
                        actor_kind: r.try_get("actor_kind").map_err(backend)?,
                        actor_id: r.try_get("actor_id").map_err(backend)?,
                        operation: r.try_get("operation").map_err(backend)?,
                        resource_type: r.try_get("resource_type").map_err(backend)?,
                        resource_id: r.try_get("resource_id").map_err(backend)?,
                        status: r.try_get::<i64, _>("status").map_err(backend)? as u16,
                        detail: r.try_get("detail").map_err(backend)?,
                        request_id: r.try_get("request_id").map_err(backend)?,
                    },
                })
            })
            .collect()
    }
}
