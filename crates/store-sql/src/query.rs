//! Pieces of the SQL for a [`StoreQuery`](directory::query::StoreQuery) (SCIM's lists of users
//! and groups) that both stores render alike.

use crate::Dialect;
use directory::query::SortKey;

/// The column a sort key orders by.
pub fn sort_column(sort: SortKey) -> &'static str {
    match sort {
        SortKey::Seq => "seq",
        SortKey::UserName => "user_name_lower",
        SortKey::DisplayName => "display_name_lower",
        SortKey::ExternalId => "external_id",
        SortKey::Created => "created_at",
        SortKey::LastModified => "updated_at",
    }
}

/// ` ORDER BY …` for `sort` on the table `alias`: rows without the value last, and seq
/// breaking ties so pages are stable. Each dialect says "nulls last" in the form its indexes
/// serve.
pub fn order_by(dialect: Dialect, alias: &str, sort: SortKey, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    if sort == SortKey::Seq {
        return format!(" ORDER BY {alias}.seq {dir}");
    }
    let column = sort_column(sort);
    match dialect {
        Dialect::Sqlite => {
            format!(" ORDER BY {alias}.{column} IS NULL, {alias}.{column} {dir}, {alias}.seq ASC")
        }
        Dialect::Postgres => {
            format!(" ORDER BY {alias}.{column} {dir} NULLS LAST, {alias}.seq ASC")
        }
    }
}
