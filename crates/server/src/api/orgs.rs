//! `/api/v1/orgs`: list, create and read organizations.

use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use directory::model::Organization;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn org_json(o: &Organization) -> Value {
    json!({"id": o.id.to_string(), "slug": o.slug, "name": o.name, "created_at": ts(o.created_at)})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateOrg {
    slug: String,
    name: Option<String>,
}

pub(super) async fn list_orgs(State(state): State<AppState>, Operator(_): Operator) -> ApiResult {
    let orgs = state.admin.list_orgs().await?;
    Ok(ok_json(
        StatusCode::OK,
        Value::Array(orgs.iter().map(org_json).collect()),
    ))
}

pub(super) async fn create_org(
    State(state): State<AppState>,
    Operator(_): Operator,
    ApiJson(req): ApiJson<CreateOrg>,
) -> ApiResult {
    let org = state
        .admin
        .create_org(&req.slug, req.name.as_deref())
        .await?;
    Ok(ok_json(StatusCode::CREATED, org_json(&org)))
}

pub(super) async fn get_org(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
) -> ApiResult {
    Ok(ok_json(
        StatusCode::OK,
        org_json(&state.admin.org(&slug).await?),
    ))
}
