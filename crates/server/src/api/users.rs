//! `/api/v1/orgs/{slug}/users`: the console's users list and local-user changes as JSON, with
//! the same rules (Externally Managed users are read-only: 409 with the reason). There is no
//! DELETE: a local user is deactivated, as IdPs do over SCIM, so their history keeps its subject.

use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::errors::ApiError;
use crate::http::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use directory::local_users::{name_part, ListParams, UserEdit};
use directory::model::{Actor, ManagedBy, UserRecord};
use serde::Deserialize;
use serde_json::{json, Value};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{slug}/users", get(list_users).post(create_user))
        .route("/orgs/{slug}/users/{id}", get(get_user).patch(patch_user))
}

pub fn user_json(u: &UserRecord) -> Value {
    json!({
        "id": u.id.to_string(),
        "userName": u.user_name,
        "displayName": u.display_name,
        "name": {
            "givenName": name_part(u, "givenName"),
            "familyName": name_part(u, "familyName"),
        },
        "emails": u.emails,
        "externalId": u.external_id,
        "active": u.active,
        "managedBy": u.managed_by.as_str(),
        "externallyManaged": u.managed_by == ManagedBy::Scim,
        "created": ts(u.created_at),
        "lastModified": ts(u.updated_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateUser {
    #[serde(rename = "userName")]
    user_name: String,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NameParts {
    #[serde(rename = "givenName")]
    given_name: Option<String>,
    #[serde(rename = "familyName")]
    family_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchUser {
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    name: Option<NameParts>,
    emails: Option<Vec<String>>,
    active: Option<bool>,
}

fn path_id(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), ApiError> {
    path.map(|p| p.0)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such user"))
}

async fn list_users(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let mut p = ListParams::default();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "q" => p.q = v,
            "status" => p.status = v,
            "source" => p.source = v,
            "after" => p.after = v,
            "before" => p.before = v,
            "limit" => p.limit = v,
            other => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                    "unknown parameter '{other}': use q, status, source, after, before or limit"
                ),
                ))
            }
        }
    }
    let page = state.users.list(org.id, &p).await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "users": page.users.iter().map(user_json).collect::<Vec<_>>(),
            "next_after": page.next_after,
            "prev_before": page.prev_before,
            // A broad search stopped at its bound before the page was full: more may match
            // past it, and the cursor in the direction of travel continues the search.
            "partial": page.partial,
        }),
    ))
}

async fn create_user(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let user = state
        .users
        .create(
            org.id,
            &req.user_name,
            req.display_name.as_deref(),
            req.email.as_deref(),
            &Actor::AdminKey(key.id),
        )
        .await?;
    Ok(ok_json(StatusCode::CREATED, user_json(&user)))
}

async fn get_user(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    Operator(_): Operator,
) -> ApiResult {
    let (slug, id) = path_id(path)?;
    let org = state.admin.org(&slug).await?;
    let d = state.users.detail(org.id, &id, None).await?;
    let mut out = user_json(&d.user);
    out["groups"] = d
        .groups
        .iter()
        .map(|(gid, name, _)| json!({"id": gid.to_string(), "displayName": name}))
        .collect();
    out["sessions"] = d
        .sessions
        .iter()
        .map(|s| {
            json!({
                "created": ts(s.created_at),
                "lastSeen": ts(s.last_seen_at),
                "expires": ts(s.idle_expires_at.min(s.absolute_expires_at)),
            })
        })
        .collect();
    Ok(ok_json(StatusCode::OK, out))
}

async fn patch_user(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<PatchUser>,
) -> ApiResult {
    let (slug, id) = path_id(path)?;
    let org = state.admin.org(&slug).await?;
    let (given_name, family_name) = match req.name {
        Some(n) => (n.given_name, n.family_name),
        None => (None, None),
    };
    let edit = UserEdit {
        display_name: req.display_name,
        given_name,
        family_name,
        emails: req.emails,
        active: req.active,
    };
    let user = state
        .users
        .update(org.id, &id, &edit, &Actor::AdminKey(key.id))
        .await?;
    Ok(ok_json(StatusCode::OK, user_json(&user)))
}
