//! `/api/v1/orgs/{slug}/groups`: the organization's groups for the operator's API. Local
//! groups are created, renamed, their members changed, handed over to the IdP and deleted; a
//! group the IdP manages refuses every change with 409 and the reason the console shows.

use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::errors::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::Router;
use directory::local_groups::GroupSource;
use directory::model::{Actor, GroupRecord, Member};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/groups", get(list_groups).post(create_group))
        .route(
            "/orgs/{slug}/groups/{id}",
            get(get_group).patch(rename_group).delete(delete_group),
        )
        .route(
            "/orgs/{slug}/groups/{id}/members",
            get(list_members).post(add_members),
        )
        .route(
            "/orgs/{slug}/groups/{id}/members/{member_id}",
            delete(remove_member),
        )
        .route("/orgs/{slug}/groups/{id}/handover", post(hand_over))
}

pub fn group_json(g: &GroupRecord) -> Value {
    let source = GroupSource::of(g);
    json!({
        "id": g.id.to_string(),
        "displayName": g.display_name,
        "externalId": g.external_id,
        "source": source.as_str(),
        "externally_managed": source == GroupSource::Scim,
        "scim_visible": g.scim_visible,
        "read_only": source.read_only_reason().is_some(),
        "read_only_reason": source.read_only_reason(),
        "created_at": ts(g.created_at),
        "updated_at": ts(g.updated_at),
        "version": g.version,
    })
}

fn member_json(m: &Member) -> Value {
    json!({"id": m.id, "type": m.kind.as_str(), "display": m.display})
}

/// The query string's fields, decoded leniently: unknown ones are ignored.
fn query_field(q: &Option<String>, name: &str) -> Option<String> {
    let q = q.as_deref()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.trim().is_empty())
}

fn limit(q: &Option<String>) -> Result<Option<u32>, ApiError> {
    match query_field(q, "limit") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .map(Some)
            .map_err(|_| ApiError::bad_request("limit must be a whole number from 1 to 200")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateGroup {
    #[serde(rename = "displayName")]
    display_name: String,
    #[serde(default)]
    members: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RenameGroup {
    #[serde(rename = "displayName")]
    display_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddMembers {
    members: Vec<String>,
}

async fn list_groups(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let page = state
        .groups
        .list(
            &org,
            query_field(&q, "q").as_deref(),
            query_field(&q, "cursor").as_deref(),
            limit(&q)?,
        )
        .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "groups": page.items.iter().map(group_json).collect::<Vec<_>>(),
            "next_cursor": page.next,
        }),
    ))
}

async fn create_group(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<CreateGroup>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let g = state
        .groups
        .create(
            &org,
            &req.display_name,
            &req.members,
            &Actor::AdminKey(key.id),
        )
        .await?;
    Ok(ok_json(StatusCode::CREATED, group_json(&g)))
}

async fn get_group(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(_): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let g = state.groups.get(&org, &id).await?;
    Ok(ok_json(StatusCode::OK, group_json(&g)))
}

async fn list_members(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(_): Operator,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let g = state.groups.get(&org, &id).await?;
    let page = state
        .groups
        .members(&org, &g, query_field(&q, "cursor").as_deref(), limit(&q)?)
        .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "members": page.items.iter().map(member_json).collect::<Vec<_>>(),
            "next_cursor": page.next,
        }),
    ))
}

async fn rename_group(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<RenameGroup>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let g = state
        .groups
        .rename(&org, &id, &req.display_name, &Actor::AdminKey(key.id))
        .await?;
    Ok(ok_json(StatusCode::OK, group_json(&g)))
}

async fn add_members(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<AddMembers>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let (g, added) = state
        .groups
        .add_members(&org, &id, &req.members, &Actor::AdminKey(key.id))
        .await?;
    let mut out = group_json(&g);
    out["added"] = Value::from(added);
    Ok(ok_json(StatusCode::OK, out))
}

async fn remove_member(
    State(state): State<AppState>,
    ApiPath((slug, id, member_id)): ApiPath<(String, String, String)>,
    Operator(key): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    state
        .groups
        .remove_members(&org, &id, &[member_id], &Actor::AdminKey(key.id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn hand_over(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(key): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let g = state
        .groups
        .hand_over(&org, &id, &Actor::AdminKey(key.id))
        .await?;
    Ok(ok_json(StatusCode::OK, group_json(&g)))
}

async fn delete_group(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    Operator(key): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    state
        .groups
        .delete(&org, &id, &Actor::AdminKey(key.id))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
