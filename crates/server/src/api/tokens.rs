//! `/api/v1/orgs/{slug}/tokens`: an organization's SCIM tokens (list, create, revoke, edit
//! domains).

use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use directory::model::{Actor, ScimTokenRecord};
use serde::Deserialize;
use serde_json::{json, Value};

/// The token listing shape shared with `portcullis token list --json`.
pub fn token_json(t: &ScimTokenRecord) -> Value {
    json!({
        "id": t.id.to_string(),
        "name": t.name,
        "prefix": t.prefix,
        "domains": t.domains.domains().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "created_at": ts(t.created_at),
        "last_used_at": t.last_used_at.map(ts),
        "revoked": t.revoked_at.is_some(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateToken {
    name: Option<String>,
    domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetDomains {
    domains: Vec<String>,
}

pub(super) async fn list_tokens(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let tokens = state.admin.list_tokens(&org).await?;
    Ok(ok_json(
        StatusCode::OK,
        Value::Array(tokens.iter().map(token_json).collect()),
    ))
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let issued = state
        .admin
        .create_token(
            &org,
            req.name.as_deref(),
            &req.domains,
            &Actor::AdminKey(key.id),
        )
        .await?;
    let mut out = token_json(&issued.record);
    out["token"] = Value::from(issued.secret);
    out["scim_base_url"] = Value::from(state.scim.base_url());
    Ok(ok_json(StatusCode::CREATED, out))
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(key): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    state
        .admin
        .revoke_token(&org, &id, &Actor::AdminKey(key.id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn set_domains(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<SetDomains>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let token = state
        .admin
        .set_token_domains(&org, &id, &req.domains, &Actor::AdminKey(key.id))
        .await?;
    Ok(ok_json(StatusCode::OK, token_json(&token)))
}
