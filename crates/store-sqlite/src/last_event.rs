//! The newest audit event under an operation prefix, for the console's set-up overview.

use crate::rows::fetch_optional;
use directory::ids::OrgId;
use directory::store::{StoreResult, StoredAuditEvent};
use rusqlite::{params, Connection};

/// A skip scan of `audit_org_operation_seq`: the distinct operations in the prefix's range,
/// one seek each, then the newest event of each from the (partial, when only successes count)
/// index. Cost: a few seeks per distinct operation, not a walk through the log.
pub(crate) fn newest(
    conn: &Connection,
    org: OrgId,
    prefix: &str,
    upper: &str,
    succeeded_only: bool,
) -> StoreResult<Option<StoredAuditEvent>> {
    let ok = if succeeded_only {
        " AND e.status >= 200 AND e.status < 300"
    } else {
        ""
    };
    let sql = format!(
        "WITH RECURSIVE ops(op) AS ( \
           SELECT (SELECT operation FROM audit_events WHERE org_id = ?1 AND operation >= ?2 AND operation < ?3 ORDER BY operation LIMIT 1) \
           UNION ALL \
           SELECT (SELECT operation FROM audit_events WHERE org_id = ?1 AND operation > ops.op AND operation < ?3 ORDER BY operation LIMIT 1) \
           FROM ops WHERE ops.op IS NOT NULL \
         ) \
         SELECT {columns} \
         FROM audit_events WHERE org_id = ?1 AND seq = ( \
           SELECT MAX((SELECT e.seq FROM audit_events e WHERE e.org_id = ?1 AND e.operation = ops.op{ok} ORDER BY e.seq DESC LIMIT 1)) \
           FROM ops WHERE ops.op IS NOT NULL)",
        columns = crate::audit::AUDIT_COLUMNS
    );
    fetch_optional(
        conn,
        &sql,
        params![org.to_string(), prefix, upper],
        crate::audit::stored_event,
    )
}
