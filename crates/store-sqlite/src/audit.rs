//! The audit log: appended in batches, read newest first, and the newest event under an
//! operation prefix for the console's set-up overview.

use crate::engine::backend;
use crate::rows::arg_value;
use crate::rows::{execute, fetch_all, fetch_optional, from_ms, ms, parse_uuid};
use crate::SqliteStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::AuditEvent;
use directory::query::{AuditOutcome, AuditQuery};
use directory::store::{AuditStore, FoldedAuditEvent, StoreError, StoreResult, StoredAuditEvent};
use rusqlite::{params, params_from_iter, Connection};
use store_sql::audit as sql;
use store_sql::Dialect;

pub(crate) fn append(conn: &Connection, events: &[AuditEvent]) -> StoreResult<()> {
    for e in events {
        execute(
            conn,
            "INSERT INTO audit_events (org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                e.org_id.to_string(),
                ms(e.at),
                e.actor_kind,
                e.actor_id,
                e.operation,
                e.resource_type,
                e.resource_id,
                e.status as i64,
                e.detail,
                e.request_id,
            ],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Each event adds its count to the newest row of its organization with its fold key within
/// its window, or becomes that row.
pub(crate) fn append_folded(conn: &Connection, events: &[FoldedAuditEvent]) -> StoreResult<()> {
    for f in events {
        let e = &f.event;
        let count = i64::try_from(f.count.max(1)).unwrap_or(i64::MAX);
        let folded = execute(
            conn,
            "UPDATE audit_events SET repeated = repeated + ?1, last_at = MAX(COALESCE(last_at, at), ?2) \
             WHERE seq = (SELECT seq FROM audit_events WHERE org_id = ?3 AND fold_key = ?4 AND at >= ?5 ORDER BY seq DESC LIMIT 1)",
            params![count, ms(e.at), e.org_id.to_string(), f.fold_key, ms(f.window_start)],
        )
        .map_err(backend)?;
        if folded > 0 {
            continue;
        }
        execute(
            conn,
            sql::INSERT_AUDIT_EVENTS.sqlite(),
            params![
                e.org_id.to_string(),
                ms(e.at),
                e.actor_kind,
                e.actor_id,
                e.operation,
                e.resource_type,
                e.resource_id,
                e.status as i64,
                e.detail,
                e.request_id,
                f.fold_key,
                count,
                (count > 1).then(|| ms(e.at)),
            ],
        )
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn list(
    conn: &Connection,
    org: OrgId,
    q: &AuditQuery,
) -> StoreResult<Vec<StoredAuditEvent>> {
    let (sql, forward) = sql::list(Dialect::Sqlite, org.0, q);
    let mut events = fetch_all(
        conn,
        sql.text(),
        params_from_iter(sql.args().iter().map(arg_value)),
        stored_event,
    )?;
    if forward {
        events.reverse();
    }
    Ok(events)
}

/// An audit row selected as [`sql::AUDIT_COLUMNS`].
pub(crate) fn stored_event(r: &rusqlite::Row<'_>) -> StoreResult<StoredAuditEvent> {
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
        repeated: u64::try_from(r.get::<_, i64>(11).map_err(backend)?).unwrap_or(1),
        last_at: r.get::<_, Option<i64>>(12).map_err(backend)?.map(from_ms),
    })
}

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
    let succeeded = sql::outcome_term(Some("e"), AuditOutcome::Succeeded);
    let ok = if succeeded_only { &succeeded } else { "" };
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
        columns = sql::AUDIT_COLUMNS
    );
    fetch_optional(
        conn,
        &sql,
        params![org.to_string(), prefix, upper],
        crate::audit::stored_event,
    )
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let events = events.to_vec();
        self.engine.write(move |c| append(c, &events)).await
    }

    async fn append_audit_folded(&self, events: &[FoldedAuditEvent]) -> StoreResult<()> {
        let events = events.to_vec();
        self.engine.write(move |c| append_folded(c, &events)).await
    }

    async fn list_audit(&self, org: OrgId, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let q = q.clone();
        self.engine.read_long(move |c| list(c, org, &q)).await
    }

    async fn last_audit_event(
        &self,
        org: OrgId,
        operation_prefix: &str,
        succeeded_only: bool,
    ) -> StoreResult<Option<StoredAuditEvent>> {
        let upper = directory::query::prefix_upper_bound(operation_prefix).ok_or_else(|| {
            StoreError::Backend("the operation prefix must be non-empty ASCII".into())
        })?;
        let prefix = operation_prefix.to_string();
        self.engine
            .read(move |c| newest(c, org, &prefix, &upper, succeeded_only))
            .await
    }
}
