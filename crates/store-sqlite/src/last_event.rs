//! The newest audit event under an operation prefix, for the console's set-up overview.

use crate::engine::backend;
use crate::rows::{fetch_optional, from_ms, parse_uuid};
use directory::ids::OrgId;
use directory::model::AuditEvent;
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
         SELECT seq, org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id \
         FROM audit_events WHERE org_id = ?1 AND seq = ( \
           SELECT MAX((SELECT e.seq FROM audit_events e WHERE e.org_id = ?1 AND e.operation = ops.op{ok} ORDER BY e.seq DESC LIMIT 1)) \
           FROM ops WHERE ops.op IS NOT NULL)"
    );
    fetch_optional(conn, &sql, params![org.to_string(), prefix, upper], |r| {
        Ok(StoredAuditEvent {
            seq: r.get(0).map_err(backend)?,
            event: AuditEvent {
                org_id: parse_uuid(&r.get::<_, String>(1).map_err(backend)?)?,
                at: from_ms(r.get(2).map_err(backend)?),
                actor_kind: r.get(3).map_err(backend)?,
                actor_id: r.get(4).map_err(backend)?,
                operation: r.get(5).map_err(backend)?,
                resource_type: r.get(6).map_err(backend)?,
                resource_id: r.get(7).map_err(backend)?,
                status: r.get::<_, i64>(8).map_err(backend)? as u16,
                detail: r.get(9).map_err(backend)?,
                request_id: r.get(10).map_err(backend)?,
            },
        })
    })
}
