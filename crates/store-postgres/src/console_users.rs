//! The console's user list (keyset pages under any filter) and a user's sessions.

use super::{backend, from_ms, get, PostgresStore, USER_COLUMNS};
use directory::ids::{OrgId, UserId};
use directory::model::{SessionRecord, UserRecord};
use directory::query::UserListQuery;
use directory::store::StoreResult;
use sqlx::{PgPool, Postgres, QueryBuilder};

/// The exclusive upper end of the strings starting with `prefix` (the columns are COLLATE
/// "C": byte order).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Matches counted at most per searched column before a prefix counts as broad.
const BROAD: i64 = 2_000;

/// Whether a prefix matches many users (at least [`BROAD`] in some column); each count stops
/// at [`BROAD`] index entries.
async fn is_broad(pool: &PgPool, org: OrgId, prefix: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT GREATEST(\
         (SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE org_id = $1 AND user_name_lower >= $2 AND user_name_lower < $3 LIMIT $4) a), \
         (SELECT COUNT(*) FROM (SELECT 1 FROM users WHERE org_id = $1 AND display_name_lower >= $2 AND display_name_lower < $3 LIMIT $4) b), \
         (SELECT COUNT(*) FROM (SELECT 1 FROM user_emails WHERE org_id = $1 AND email_lower >= $2 AND email_lower < $3 LIMIT $4) c))",
    )
    .bind(org.0)
    .bind(prefix)
    .bind(prefix_end(prefix))
    .bind(BROAD)
    .fetch_one(pool)
    .await
    .map_err(backend)?;
    Ok(n >= BROAD)
}

/// A narrow prefix reads its few matches through the three indexes and sorts them; a broad
/// one walks the seq order (under the filters) and stops once the page is full.
pub(crate) async fn list_page(
    pool: &PgPool,
    org: OrgId,
    q: &UserListQuery,
) -> StoreResult<Vec<(i64, UserRecord)>> {
    let broad = match &q.prefix {
        Some(p) => is_broad(pool, org, p).await?,
        None => false,
    };
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT {USER_COLUMNS}, u.seq FROM users u WHERE u.org_id = "
    ));
    qb.push_bind(org.0);
    if let Some(active) = q.active {
        qb.push(" AND u.active = ").push_bind(active);
    }
    if let Some(m) = q.managed_by {
        qb.push(" AND u.managed_by = ").push_bind(m.as_str());
    }
    if let Some(after) = q.after_seq {
        qb.push(" AND u.seq > ").push_bind(after);
    }
    if let Some(before) = q.before_seq {
        qb.push(" AND u.seq < ").push_bind(before);
    }
    if let (Some(p), true) = (&q.prefix, broad) {
        // `|| ''` keeps the planner off the name indexes: the page is read in seq order.
        let end = prefix_end(p);
        qb.push(" AND ((u.user_name_lower || '') >= ")
            .push_bind(p.clone())
            .push(" AND (u.user_name_lower || '') < ")
            .push_bind(end.clone())
            .push(" OR (u.display_name_lower || '') >= ")
            .push_bind(p.clone())
            .push(" AND (u.display_name_lower || '') < ")
            .push_bind(end.clone())
            .push(" OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id AND e.email_lower >= ")
            .push_bind(p.clone())
            .push(" AND e.email_lower < ")
            .push_bind(end)
            .push("))");
    } else if let Some(p) = &q.prefix {
        // Three index range scans (userName, displayName, email), never a scan of the
        // organization.
        let end = prefix_end(p);
        qb.push(" AND u.seq IN (SELECT seq FROM users WHERE org_id = ")
            .push_bind(org.0)
            .push(" AND user_name_lower >= ")
            .push_bind(p.clone())
            .push(" AND user_name_lower < ")
            .push_bind(end.clone())
            .push(" UNION SELECT seq FROM users WHERE org_id = ")
            .push_bind(org.0)
            .push(" AND display_name_lower >= ")
            .push_bind(p.clone())
            .push(" AND display_name_lower < ")
            .push_bind(end.clone())
            .push(" UNION SELECT u2.seq FROM user_emails e JOIN users u2 ON u2.id = e.user_id WHERE e.org_id = ")
            .push_bind(org.0)
            .push(" AND e.email_lower >= ")
            .push_bind(p.clone())
            .push(" AND e.email_lower < ")
            .push_bind(end)
            .push(")");
    }
    let dir = if q.before_seq.is_some() {
        "DESC"
    } else {
        "ASC"
    };
    qb.push(format!(" ORDER BY u.seq {dir} LIMIT "))
        .push_bind(q.limit as i64);
    let rows = qb.build().fetch_all(pool).await.map_err(backend)?;
    let mut out = rows
        .iter()
        .map(|r| Ok((get::<i64>(r, "seq")?, PostgresStore::user_from_row(r)?)))
        .collect::<StoreResult<Vec<_>>>()?;
    if q.before_seq.is_some() {
        out.reverse();
    }
    Ok(out)
}

pub(crate) async fn user_sessions(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
) -> StoreResult<Vec<SessionRecord>> {
    let rows = sqlx::query(
        "SELECT id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at FROM sessions WHERE org_id = $1 AND user_id = $2 ORDER BY created_at DESC, id_hash",
    )
    .bind(org.0)
    .bind(user.0)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(SessionRecord {
                id_hash: get(r, "id_hash")?,
                org_id: OrgId(get(r, "org_id")?),
                user_id: UserId(get(r, "user_id")?),
                created_at: from_ms(get(r, "created_at")?),
                last_seen_at: from_ms(get(r, "last_seen_at")?),
                idle_expires_at: from_ms(get(r, "idle_expires_at")?),
                absolute_expires_at: from_ms(get(r, "absolute_expires_at")?),
            })
        })
        .collect()
}
