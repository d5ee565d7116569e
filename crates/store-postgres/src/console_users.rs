//! The console's user list (keyset pages under any filter) and a user's sessions.

use super::{backend, from_ms, get, PostgresStore, USER_COLUMNS};
use directory::ids::{OrgId, UserId};
use directory::model::SessionRecord;
use directory::query::{prefix_upper_bound, UserListPage, UserListQuery};
use directory::store::StoreResult;
use sqlx::{PgPool, Postgres, QueryBuilder};

/// ` AND {col} >= $ [AND {col} < $]`: the strings starting with the prefix, an index range
/// (the columns are COLLATE "C": code point order; no upper end when the prefix is only
/// U+10FFFF characters).
fn push_prefix_range(qb: &mut QueryBuilder<'_, Postgres>, col: &str, prefix: &str) {
    qb.push(format!(" AND {col} >= "))
        .push_bind(prefix.to_string());
    if let Some(upper) = prefix_upper_bound(prefix) {
        qb.push(format!(" AND {col} < ")).push_bind(upper);
    }
}

/// Matches counted at most per searched column before a prefix counts as broad.
const BROAD: i64 = 2_000;

/// Whether a prefix matches many users (at least [`BROAD`] in some column); each count stops
/// at [`BROAD`] index entries.
async fn is_broad(pool: &PgPool, org: OrgId, prefix: &str) -> StoreResult<bool> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("SELECT GREATEST(");
    for (i, (table, col)) in [
        ("users", "user_name_lower"),
        ("users", "display_name_lower"),
        ("user_emails", "email_lower"),
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            qb.push(", ");
        }
        qb.push(format!(
            "(SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE org_id = "
        ))
        .push_bind(org.0);
        push_prefix_range(&mut qb, col, prefix);
        qb.push(" LIMIT ").push_bind(BROAD).push(format!(") c{i})"));
    }
    qb.push(")");
    let n: i64 = qb
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    Ok(n >= BROAD)
}

/// The status and source filters and the cursor, shared by the page and its horizon.
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, q: &UserListQuery) {
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
}

fn direction(q: &UserListQuery) -> &'static str {
    if q.before_seq.is_some() {
        "DESC"
    } else {
        "ASC"
    }
}

/// The horizon of a bounded broad search: the seq of the `scan_limit`-th user past the cursor
/// (in the direction of travel) under the status and source filters, read from the filters'
/// index alone (an index-only scan); `None` when fewer users are left.
async fn horizon(
    pool: &PgPool,
    org: OrgId,
    q: &UserListQuery,
    scan_limit: u32,
) -> StoreResult<Option<i64>> {
    let mut qb: QueryBuilder<'_, Postgres> =
        QueryBuilder::new("SELECT u.seq FROM users u WHERE u.org_id = ");
    qb.push_bind(org.0);
    push_filters(&mut qb, q);
    qb.push(format!(" ORDER BY u.seq {} LIMIT 1 OFFSET ", direction(q)))
        .push_bind(i64::from(scan_limit.max(1)) - 1);
    qb.build_query_scalar()
        .fetch_optional(pool)
        .await
        .map_err(backend)
}

/// A narrow prefix reads its few matches through the three indexes and sorts them; a broad
/// one walks the seq order (under the filters) and stops once the page is full or at the
/// horizon of its scan bound.
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
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT {USER_COLUMNS}, u.seq FROM users u WHERE u.org_id = "
    ));
    qb.push_bind(org.0);
    push_filters(&mut qb, q);
    if let (Some(p), true) = (&q.prefix, broad) {
        if let Some(h) = horizon {
            qb.push(if q.before_seq.is_some() {
                " AND u.seq >= "
            } else {
                " AND u.seq <= "
            })
            .push_bind(h);
        }
        // `|| ''` keeps the planner off the name indexes: the page is read in seq order.
        qb.push(" AND ((TRUE");
        push_prefix_range(&mut qb, "(u.user_name_lower || '')", p);
        qb.push(") OR (TRUE");
        push_prefix_range(&mut qb, "(u.display_name_lower || '')", p);
        qb.push(") OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = u.id");
        push_prefix_range(&mut qb, "e.email_lower", p);
        qb.push("))");
    } else if let Some(p) = &q.prefix {
        // Three index range scans (userName, displayName, email), never a scan of the
        // organization.
        qb.push(" AND u.seq IN (SELECT seq FROM users WHERE org_id = ")
            .push_bind(org.0);
        push_prefix_range(&mut qb, "user_name_lower", p);
        qb.push(" UNION SELECT seq FROM users WHERE org_id = ")
            .push_bind(org.0);
        push_prefix_range(&mut qb, "display_name_lower", p);
        qb.push(" UNION SELECT u2.seq FROM user_emails e JOIN users u2 ON u2.id = e.user_id WHERE e.org_id = ")
            .push_bind(org.0);
        push_prefix_range(&mut qb, "e.email_lower", p);
        qb.push(")");
    }
    qb.push(format!(" ORDER BY u.seq {} LIMIT ", direction(q)))
        .push_bind(q.limit as i64);
    let fetched = qb.build().fetch_all(pool).await.map_err(backend)?;
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
