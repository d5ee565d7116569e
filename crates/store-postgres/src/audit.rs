//! The audit log: appended in batches, read newest first, and the newest event under an
//! operation prefix for the console's set-up overview.

use crate::rows::backend;
use crate::rows::bind_args;
use crate::rows::from_ms;
use crate::rows::get;
use crate::rows::ms;
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::AuditEvent;
use directory::query::{AuditOutcome, AuditQuery};
use directory::store::{AuditStore, FoldedAuditEvent, StoreError, StoreResult, StoredAuditEvent};
use sqlx::{PgPool, Postgres, QueryBuilder};
use store_sql::audit as sql;
use store_sql::Dialect;

/// An audit row selected as [`sql::AUDIT_COLUMNS`].
pub(crate) fn stored_event(r: &sqlx::postgres::PgRow) -> StoreResult<StoredAuditEvent> {
    Ok(StoredAuditEvent {
        seq: get(r, "seq")?,
        event: AuditEvent {
            org_id: OrgId(get(r, "org_id")?),
            at: from_ms(get(r, "at")?),
            actor_kind: get(r, "actor_kind")?,
            actor_id: get(r, "actor_id")?,
            operation: get(r, "operation")?,
            resource_type: get(r, "resource_type")?,
            resource_id: get(r, "resource_id")?,
            status: u16::try_from(get::<i32>(r, "status")?).unwrap_or(0),
            detail: get(r, "detail")?,
            request_id: get(r, "request_id")?,
        },
        repeated: u64::try_from(get::<i64>(r, "repeated")?).unwrap_or(1),
        last_at: get::<Option<i64>>(r, "last_at")?.map(from_ms),
    })
}

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
    let succeeded = sql::outcome_term(Some("e"), AuditOutcome::Succeeded);
    let ok = if succeeded_only { &succeeded } else { "" };
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
        columns = sql::AUDIT_COLUMNS
    );
    let row = sqlx::query(&sql)
        .bind(org.0)
        .bind(prefix)
        .bind(upper)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.as_ref().map(stored_event).transpose()
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // A few statements of many rows each (PostgreSQL takes at most 65535 parameters per
        // statement), in one transaction: the events get positions in the order given.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for chunk in events.chunks(1000) {
            let mut qb = QueryBuilder::<Postgres>::new("INSERT INTO audit_events (org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id) ");
            qb.push_values(chunk, |mut row, e| {
                row.push_bind(e.org_id.0)
                    .push_bind(ms(e.at))
                    .push_bind(&e.actor_kind)
                    .push_bind(&e.actor_id)
                    .push_bind(&e.operation)
                    .push_bind(&e.resource_type)
                    .push_bind(&e.resource_id)
                    .push_bind(i32::from(e.status))
                    .push_bind(&e.detail)
                    .push_bind(&e.request_id);
            });
            qb.build().execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn append_audit_folded(&self, events: &[FoldedAuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One event at a time, in one transaction: an event may fold into the one before it.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for f in events {
            let e = &f.event;
            let count = i64::try_from(f.count.max(1)).unwrap_or(i64::MAX);
            let folded = sqlx::query(
                "UPDATE audit_events SET repeated = repeated + $1, last_at = GREATEST(COALESCE(last_at, at), $2) \
                 WHERE seq = (SELECT seq FROM audit_events WHERE org_id = $3 AND fold_key = $4 AND at >= $5 ORDER BY seq DESC LIMIT 1)",
            )
            .bind(count)
            .bind(ms(e.at))
            .bind(e.org_id.0)
            .bind(&f.fold_key)
            .bind(ms(f.window_start))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if folded.rows_affected() > 0 {
                continue;
            }
            sqlx::query(sql::INSERT_AUDIT_EVENTS.postgres())
                .bind(e.org_id.0)
                .bind(ms(e.at))
                .bind(&e.actor_kind)
                .bind(&e.actor_id)
                .bind(&e.operation)
                .bind(&e.resource_type)
                .bind(&e.resource_id)
                .bind(i32::from(e.status))
                .bind(&e.detail)
                .bind(&e.request_id)
                .bind(&f.fold_key)
                .bind(count)
                .bind((count > 1).then(|| ms(e.at)))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn list_audit(&self, org: OrgId, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let (sql, forward) = sql::list(Dialect::Postgres, org.0, q);
        let rows = bind_args(sqlx::query(sql.text()), sql.args())
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let mut events = rows
            .iter()
            .map(stored_event)
            .collect::<StoreResult<Vec<_>>>()?;
        if forward {
            events.reverse();
        }
        Ok(events)
    }

    async fn last_audit_event(
        &self,
        org: OrgId,
        operation_prefix: &str,
        succeeded_only: bool,
    ) -> StoreResult<Option<StoredAuditEvent>> {
        newest(&self.pool, org, operation_prefix, succeeded_only).await
    }
}
