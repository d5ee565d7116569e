//! The audit log: its insert, the console's and the admin API's filtered list, and what
//! "succeeded" means.

use crate::{statement, Arg, Dialect, Sql, Statement};
use directory::query::{prefix_upper_bound, AuditOutcome, AuditQuery};
use uuid::Uuid;

/// The columns both stores read an audit event from, in this order.
pub const AUDIT_COLUMNS: &str = "seq, org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id, repeated, last_at";

/// What "succeeded" means wherever the log is read (the filtered list, the newest successful
/// event): any status below 400, so a redirect counts; 400 and above is refused. Literal
/// bounds, so the partial indexes written with the same text (migrations 0006, 0010) apply.
pub const SUCCEEDED: &str = "status < 400";
/// The complement of [`SUCCEEDED`].
pub const REFUSED: &str = "status >= 400";

/// The term an outcome filter adds, for a column `status` (optionally of a table alias).
pub fn outcome_term(alias: Option<&str>, outcome: AuditOutcome) -> String {
    let term = match outcome {
        AuditOutcome::Succeeded => SUCCEEDED,
        AuditOutcome::Refused => REFUSED,
    };
    match alias {
        Some(a) => format!(" AND {a}.{term}"),
        None => format!(" AND {term}"),
    }
}

/// The page of the organization's log a query asks for, newest first unless it is a forward
/// page (`after_seq` without `before_seq`): that one is read oldest first from its cursor, and
/// the caller turns it around (the second value says so).
pub fn list(dialect: Dialect, org: Uuid, q: &AuditQuery) -> (Sql, bool) {
    let mut sql = Sql::new(
        dialect,
        &format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE org_id = "),
    );
    sql.push_arg(Arg::Id(org));
    if let Some(p) = &q.operation_prefix {
        // A range, not LIKE or substr: the prefix is literal and the comparison can use an
        // index (binary collation in SQLite, COLLATE "C" in PostgreSQL).
        sql.push(" AND operation >= ")
            .push_arg(Arg::Text(p.clone()));
        if let Some(bound) = prefix_upper_bound(p) {
            sql.push(" AND operation < ").push_arg(Arg::Text(bound));
        }
    }
    if let Some(t) = &q.resource_type {
        sql.push(" AND resource_type = ")
            .push_arg(Arg::Text(t.clone()));
    }
    if let Some(r) = &q.resource_id {
        sql.push(" AND resource_id = ")
            .push_arg(Arg::Text(r.clone()));
    }
    if let Some(k) = &q.actor_kind {
        sql.push(" AND actor_kind = ")
            .push_arg(Arg::Text(k.clone()));
        if let Some(a) = &q.actor_id {
            sql.push(" AND actor_id = ").push_arg(Arg::Text(a.clone()));
        }
    }
    if let Some(outcome) = q.outcome {
        sql.push(&outcome_term(None, outcome));
    }
    if let Some(t) = q.since {
        sql.push(" AND at >= ").push_arg(Arg::Int(crate::ms(t)));
    }
    if let Some(t) = q.until {
        sql.push(" AND at < ").push_arg(Arg::Int(crate::ms(t)));
    }
    let forward = q.before_seq.is_none() && q.after_seq.is_some();
    if let Some(b) = q.before_seq {
        sql.push(" AND seq < ").push_arg(Arg::Int(b));
    } else if let Some(a) = q.after_seq {
        sql.push(" AND seq > ").push_arg(Arg::Int(a));
    }
    sql.push(if forward {
        " ORDER BY seq ASC LIMIT "
    } else {
        " ORDER BY seq DESC LIMIT "
    })
    .push_arg(Arg::Int(i64::from(q.limit.clamp(1, 1000))));
    (sql, forward)
}

pub const INSERT_AUDIT_EVENTS: Statement = statement!("INSERT INTO audit_events (org_id, at, actor_kind, actor_id, operation, resource_type, resource_id, status, detail, request_id, fold_key, repeated, last_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)");
