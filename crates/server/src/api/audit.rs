//! `/api/v1/orgs/{slug}/audit`: an organization's audit log, filtered as the console's.

use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::audit_query;
use crate::http::errors::ApiError;
use crate::http::extract::ApiPath;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use directory::query::AuditOutcome;
use directory::store::StoredAuditEvent;
use serde_json::{json, Value};

pub fn audit_json(e: &StoredAuditEvent) -> Value {
    let ev = &e.event;
    json!({
        "seq": e.seq,
        "at": ts(ev.at),
        "actor": {"kind": ev.actor_kind, "id": ev.actor_id},
        "operation": ev.operation,
        "resource_type": ev.resource_type,
        "resource_id": ev.resource_id,
        "outcome": if AuditOutcome::of(ev.status).succeeded() { "success" } else { "refused" },
        "status": ev.status,
        "detail": ev.detail,
        "request_id": ev.request_id,
        "repeated": e.repeated,
        "last_at": e.last_at.map(ts),
    })
}

pub(super) async fn audit(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let filter = audit_query::parse(q.as_deref(), 100)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let query = filter.query;
    let events = state.admin.audit(&org, &query).await?;
    Ok(ok_json(
        StatusCode::OK,
        Value::Array(events.iter().map(audit_json).collect()),
    ))
}
