//! The newest audit event under an operation prefix, for the console's set-up overview.

use super::backend;
use directory::ids::OrgId;
use directory::store::{StoreError, StoreResult, StoredAuditEvent};
use sqlx::PgPool;

/// A skip scan of `audit_org_operation_seq`: the distinct operations in the prefix's range,
/// one seek each, then the newest event of each from the (partial, when only successes count)
/// index. `operation` is COLLATE "C", so the range is a byte range. Cost: a few seeks per
/// distinct operation, not a walk through the log.
pub(crate) async fn newest(
    pool: &PgPool,
    org: OrgId,
    prefix: &str,
    succeeded_only: bool,
) -> StoreResult<Option<StoredAuditEvent>> {
    let upper = directory::query::prefix_upper_bound(prefix).ok_or_else(|| {
        StoreError::Backend("the operation prefix must be non-empty ASCII".into())
    })?;
    let ok = if succeeded_only {
        " AND e.status >= 200 AND e.status < 300"
    } else {
        ""
    };
    let sql = format!(
        "WITH RECURSIVE ops(op) AS ( \
           SELECT (SELECT operation FROM audit_events WHERE org_id = $1 AND operation >= $2 AND operation < $3 ORDER BY operation LIMIT 1) \
           UNION ALL \
           SELECT (SELECT a.operation FROM audit_events a WHERE a.org_id = $1 AND a.operation > ops.op AND a.operation < $3 ORDER BY a.operation LIMIT 1) \
           FROM ops WHERE ops.op IS NOT NULL \
         ) \
         SELECT {columns} \
         FROM audit_events WHERE org_id = $1 AND seq = ( \
           SELECT MAX((SELECT e.seq FROM audit_events e WHERE e.org_id = $1 AND e.operation = ops.op{ok} ORDER BY e.seq DESC LIMIT 1)) \
           FROM ops WHERE ops.op IS NOT NULL)",
        columns = crate::AUDIT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(org.0)
        .bind(prefix)
        .bind(upper)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(crate::stored_event).transpose()
}
