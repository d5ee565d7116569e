//! SQL for a [`StoreQuery`](directory::query::StoreQuery): the indexed key as a WHERE term,
//! the sort, the window, and the page and scan chunk that run them.

use crate::rows::backend;
use crate::rows::exact_uuid;
use crate::rows::get;
use crate::rows::ms;
use crate::rows::GROUP_COLUMNS;
use crate::rows::USER_COLUMNS;
use directory::ids::OrgId;
use directory::model::Page;
use directory::query::{
    prefix_upper_bound, Cmp, IndexKey, ScanQuery, SortKey, StoreQuery, TextColumn, TextOp,
};
use directory::store::StoreResult;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder};

pub(crate) fn cmp_sql(c: Cmp) -> &'static str {
    match c {
        Cmp::Gt => " > ",
        Cmp::Ge => " >= ",
        Cmp::Lt => " < ",
        Cmp::Le => " <= ",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Users,
    Groups,
}

impl Table {
    pub(crate) fn alias(self) -> &'static str {
        match self {
            Table::Users => "u",
            Table::Groups => "g",
        }
    }
}

/// Appends the WHERE clause of an indexed key. A key the table has no column for (userName,
/// email or active on groups) matches nothing.
pub(crate) fn push_key(qb: &mut QueryBuilder<'_, Postgres>, table: Table, key: &IndexKey) {
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
pub(crate) fn push_text_match(
    qb: &mut QueryBuilder<'_, Postgres>,
    column: &str,
    op: TextOp,
    value: &str,
) {
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
pub(crate) async fn scan_chunk<T>(
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
pub(crate) fn is_selective(key: &IndexKey) -> bool {
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
pub(crate) fn order_by(alias: &str, sort: SortKey, descending: bool) -> String {
    store_sql::query::order_by(store_sql::Dialect::Postgres, alias, sort, descending)
}

pub(crate) fn push_window(qb: &mut QueryBuilder<'_, Postgres>, q: &StoreQuery) {
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
pub(crate) async fn query_page<T>(
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
