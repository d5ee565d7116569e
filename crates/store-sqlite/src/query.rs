//! SQL for a [`StoreQuery`]: the indexed key as a WHERE term, the sort, the window.

use crate::rows::ms;
use directory::query::{Cmp, IndexKey, SortKey, StoreQuery};
use rusqlite::types::Value;

fn cmp_sql(c: Cmp) -> &'static str {
    match c {
        Cmp::Gt => " > ?",
        Cmp::Ge => " >= ?",
        Cmp::Lt => " < ?",
        Cmp::Le => " <= ?",
    }
}

/// Appends the WHERE term of an indexed key for table alias `t` (`u` or `g`).
pub(crate) fn push_key(sql: &mut String, params: &mut Vec<Value>, t: &str, key: &IndexKey) {
    match key {
        IndexKey::Id(v) => {
            sql.push_str(&format!(" AND {t}.id = ?"));
            params.push(Value::Text(v.clone()));
        }
        IndexKey::UserNameLower(v) => {
            sql.push_str(&format!(" AND {t}.user_name_lower = ?"));
            params.push(Value::Text(v.clone()));
        }
        IndexKey::ExternalId(v) => {
            sql.push_str(&format!(" AND {t}.external_id = ?"));
            params.push(Value::Text(v.clone()));
        }
        IndexKey::DisplayNameLower(v) => {
            sql.push_str(&format!(" AND {t}.display_name_lower = ?"));
            params.push(Value::Text(v.clone()));
        }
        IndexKey::EmailLower(v) => {
            sql.push_str(&format!(
                " AND {t}.id IN (SELECT user_id FROM user_emails WHERE org_id = {t}.org_id AND email_lower = ?)"
            ));
            params.push(Value::Text(v.clone()));
        }
        IndexKey::LastModified(c, at) => {
            sql.push_str(&format!(" AND {t}.updated_at{}", cmp_sql(*c)));
            params.push(Value::Integer(ms(*at)));
        }
        IndexKey::Created(c, at) => {
            sql.push_str(&format!(" AND {t}.created_at{}", cmp_sql(*c)));
            params.push(Value::Integer(ms(*at)));
        }
        IndexKey::Active(b) => {
            sql.push_str(&format!(" AND {t}.active = ?"));
            params.push(Value::Integer(*b as i64));
        }
    }
}

/// Whether the key names at most a handful of rows, or the page is a short walk of the
/// insertion-order index: such a query is answered on the calling thread. Anything else may
/// scan or sort the whole organization (another sort order) and goes to a blocking thread.
pub(crate) fn is_point_lookup(q: &StoreQuery) -> bool {
    matches!(
        q.key,
        Some(
            IndexKey::Id(_)
                | IndexKey::UserNameLower(_)
                | IndexKey::ExternalId(_)
                | IndexKey::EmailLower(_)
        )
    ) || (q.sort == SortKey::Seq && q.limit.is_some_and(|l| l <= 200) && q.offset <= 10_000)
}

pub(crate) fn order_by(t: &str, sort: SortKey, descending: bool) -> String {
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
        format!(" ORDER BY {t}.seq {dir}")
    } else {
        format!(" ORDER BY {t}.{column} IS NULL, {t}.{column} {dir}, {t}.seq ASC")
    }
}

pub(crate) fn push_window(sql: &mut String, params: &mut Vec<Value>, q: &StoreQuery) {
    if let Some(limit) = q.limit {
        sql.push_str(" LIMIT ? OFFSET ?");
        params.push(Value::Integer(limit.min(i64::MAX as u64) as i64));
        params.push(Value::Integer(q.offset.min(i64::MAX as u64) as i64));
    } else if q.offset > 0 {
        sql.push_str(" LIMIT -1 OFFSET ?");
        params.push(Value::Integer(q.offset.min(i64::MAX as u64) as i64));
    }
}

/// Whether the page already tells the total (the first page, not full: every IdP lookup by
/// userName or externalId), so COUNT(*), which walks every matching index entry, is skipped.
pub(crate) fn page_is_complete(q: &StoreQuery, items: usize) -> bool {
    q.offset == 0 && q.limit.is_none_or(|l| (items as u64) < l)
}
