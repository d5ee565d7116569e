//! SQL for a [`StoreQuery`]: the indexed key as a WHERE term, the sort, the window.

use crate::rows::ms;
use directory::query::{
    prefix_upper_bound, Cmp, IndexKey, ScanQuery, SortKey, StoreQuery, TextColumn, TextOp,
};
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
    push_key_term(sql, params, t, key, "");
}

/// The WHERE term of a key for one chunk of a scan in seq order. A key whose index does not
/// keep its rows in seq order (a text range or match, a time range) is written `+column`,
/// which no index serves, so the chunk walks the seq index and stops after `limit` rows
/// instead of sorting every match of the key again for each chunk.
pub(crate) fn push_scan_key(sql: &mut String, params: &mut Vec<Value>, t: &str, key: &IndexKey) {
    let walk_seq = matches!(
        key,
        IndexKey::Text(..) | IndexKey::LastModified(..) | IndexKey::Created(..)
    );
    push_key_term(sql, params, t, key, if walk_seq { "+" } else { "" });
}

/// ` AND {t}.seq > ? … ORDER BY seq LIMIT ?`: the keyset part of a scan chunk.
pub(crate) fn push_scan_window(sql: &mut String, params: &mut Vec<Value>, t: &str, q: &ScanQuery) {
    sql.push_str(&format!(" AND {t}.seq > ? ORDER BY {t}.seq LIMIT ?"));
    params.push(Value::Integer(q.after_seq));
    params.push(Value::Integer(i64::from(q.limit)));
}

/// `sw`, `co` or `ew` on `column` (an expression), byte for byte. The empty string starts,
/// is contained in and ends every value, but a missing value matches nothing.
fn push_text_match(
    sql: &mut String,
    params: &mut Vec<Value>,
    column: &str,
    op: TextOp,
    value: &str,
) {
    if value.is_empty() {
        sql.push_str(&format!(" AND {column} IS NOT NULL"));
        return;
    }
    match op {
        TextOp::Prefix => {
            sql.push_str(&format!(" AND {column} >= ?"));
            params.push(Value::Text(value.to_string()));
            if let Some(upper) = prefix_upper_bound(value) {
                sql.push_str(&format!(" AND {column} < ?"));
                params.push(Value::Text(upper));
            }
        }
        TextOp::Contains => {
            sql.push_str(&format!(" AND instr({column}, ?) > 0"));
            params.push(Value::Text(value.to_string()));
        }
        TextOp::Suffix => {
            // substr counts characters from the right when given a negative start.
            let chars = value.chars().count().min(i64::MAX as usize) as i64;
            sql.push_str(&format!(" AND substr({column}, ?) = ?"));
            params.push(Value::Integer(-chars));
            params.push(Value::Text(value.to_string()));
        }
    }
}

fn push_key_term(sql: &mut String, params: &mut Vec<Value>, t: &str, key: &IndexKey, plus: &str) {
    match key {
        IndexKey::Text(column, op, value) => {
            let name = match column {
                TextColumn::UserNameLower if t == "u" => "user_name_lower",
                TextColumn::DisplayNameLower => "display_name_lower",
                TextColumn::ExternalId => "external_id",
                TextColumn::EmailLower if t == "u" => {
                    sql.push_str(&format!(
                        " AND EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = {t}.id"
                    ));
                    push_text_match(sql, params, "e.email_lower", *op, value);
                    sql.push(')');
                    return;
                }
                // Groups have no userName and no emails.
                TextColumn::UserNameLower | TextColumn::EmailLower => {
                    sql.push_str(" AND 0");
                    return;
                }
            };
            push_text_match(sql, params, &format!("{plus}{t}.{name}"), *op, value);
        }
        IndexKey::Seqs(seqs) => {
            if seqs.is_empty() {
                sql.push_str(" AND 0");
                return;
            }
            sql.push_str(&format!(" AND {t}.seq IN ("));
            for (i, seq) in seqs.iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                params.push(Value::Integer(*seq));
            }
            sql.push(')');
        }
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
            sql.push_str(&format!(" AND {plus}{t}.updated_at{}", cmp_sql(*c)));
            params.push(Value::Integer(ms(*at)));
        }
        IndexKey::Created(c, at) => {
            sql.push_str(&format!(" AND {plus}{t}.created_at{}", cmp_sql(*c)));
            params.push(Value::Integer(ms(*at)));
        }
        IndexKey::Active(b) => {
            sql.push_str(&format!(" AND {t}.active = ?"));
            params.push(Value::Integer(*b as i64));
        }
    }
}

/// Whether the key names at most a handful of rows, or the page is a short walk of the
/// insertion-order index with no key at all: such a query is answered on the calling thread.
/// Anything else may count, scan or sort many rows of the organization (a text match, a time
/// or status range, another sort order: its `totalResults` alone visits every match) and goes
/// to a blocking thread, so it never holds an async worker that other tenants' requests wait for.
pub(crate) fn is_point_lookup(q: &StoreQuery) -> bool {
    match &q.key {
        Some(
            IndexKey::Id(_)
            | IndexKey::UserNameLower(_)
            | IndexKey::ExternalId(_)
            | IndexKey::DisplayNameLower(_)
            | IndexKey::EmailLower(_)
            | IndexKey::Seqs(_),
        ) => true,
        None => q.sort == SortKey::Seq && q.limit.is_some_and(|l| l <= 200) && q.offset <= 10_000,
        Some(_) => false,
    }
}

pub(crate) fn order_by(t: &str, sort: SortKey, descending: bool) -> String {
    store_sql::query::order_by(store_sql::Dialect::Sqlite, t, sort, descending)
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

#[cfg(test)]
mod tests {
    use super::*;
    use directory::query::{TextColumn, TextOp};

    fn page(key: Option<IndexKey>) -> StoreQuery {
        StoreQuery {
            key,
            sort: SortKey::Seq,
            descending: false,
            offset: 0,
            limit: Some(100),
        }
    }

    /// A text match's page counts every match for totalResults: never on the calling thread.
    #[test]
    fn only_lookups_and_short_plain_pages_run_on_the_calling_thread() {
        assert!(is_point_lookup(&page(Some(IndexKey::UserNameLower(
            "a@b.c".into()
        )))));
        assert!(is_point_lookup(&page(None)));
        for op in [TextOp::Prefix, TextOp::Contains, TextOp::Suffix] {
            let key = IndexKey::Text(TextColumn::DisplayNameLower, op, "11".into());
            assert!(!is_point_lookup(&page(Some(key))), "{op:?}");
        }
        assert!(!is_point_lookup(&page(Some(IndexKey::Active(true)))));
        let deep = StoreQuery {
            offset: 50_000,
            ..page(None)
        };
        assert!(!is_point_lookup(&deep));
    }
}
