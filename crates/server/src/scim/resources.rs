//! The operations of `/Users` and `/Groups`, one handler per operation, generic over the
//! resource type; and the root `/.search`.

use super::body::ScimJson;
use super::caller::AuthenticatedCaller;
use super::params::{if_match, list_params, not_modified, search_params, Projected};
use super::{with_etag, written, ScimResult};
use crate::http::errors::scim_json;
use crate::http::extract::ScimPath;
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use directory::scim_service::ScimCaller;
use scim::schema::ResourceKind;

/// The resource type a handler serves.
pub(super) trait Resource {
    const KIND: ResourceKind;
}
pub(super) struct Users;
pub(super) struct Groups;
impl Resource for Users {
    const KIND: ResourceKind = ResourceKind::User;
}
impl Resource for Groups {
    const KIND: ResourceKind = ResourceKind::Group;
}

pub(super) async fn list<R: Resource>(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    RawQuery(q): RawQuery,
) -> ScimResult {
    let params = list_params(q.as_deref())?;
    let body = state.scim.list(&caller, R::KIND, &params).await?;
    Ok(scim_json(StatusCode::OK, &body))
}

async fn search_in(
    state: AppState,
    caller: ScimCaller,
    body: ScimJson,
    kind: Option<ResourceKind>,
) -> ScimResult {
    let params = search_params(&body.value)?;
    let body = match kind {
        Some(kind) => state.scim.list(&caller, kind, &params).await?,
        None => state.scim.search_root(&caller, &params).await?,
    };
    Ok(scim_json(StatusCode::OK, &body))
}

pub(super) async fn search<R: Resource>(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    body: ScimJson,
) -> ScimResult {
    search_in(state, caller, body, Some(R::KIND)).await
}

pub(super) async fn search_root(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    body: ScimJson,
) -> ScimResult {
    search_in(state, caller, body, None).await
}

pub(super) async fn create<R: Resource>(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    Projected {
        projection: proj, ..
    }: Projected<R>,
    body: ScimJson,
) -> ScimResult {
    let written_resource = match R::KIND {
        ResourceKind::User => state.scim.create_user(&caller, &body.value, &proj).await?,
        ResourceKind::Group => state.scim.create_group(&caller, &body.value, &proj).await?,
    };
    Ok(written(StatusCode::CREATED, written_resource))
}

pub(super) async fn get_one<R: Resource>(
    State(state): State<AppState>,
    ScimPath(id): ScimPath<String>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    Projected {
        projection: proj, ..
    }: Projected<R>,
    headers: HeaderMap,
) -> ScimResult {
    if headers.contains_key(header::IF_NONE_MATCH) {
        let etag = match R::KIND {
            ResourceKind::User => state.scim.user_etag(&caller, &id).await?,
            ResourceKind::Group => state.scim.group_etag(&caller, &id).await?,
        };
        if not_modified(&headers, &etag) {
            return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag));
        }
    }
    let (body, etag) = match R::KIND {
        ResourceKind::User => state.scim.get_user(&caller, &id, &proj).await?,
        ResourceKind::Group => state.scim.get_group(&caller, &id, &proj).await?,
    };
    Ok(with_etag(scim_json(StatusCode::OK, &body), &etag))
}

pub(super) async fn replace<R: Resource>(
    State(state): State<AppState>,
    ScimPath(id): ScimPath<String>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    Projected {
        projection: proj, ..
    }: Projected<R>,
    headers: HeaderMap,
    body: ScimJson,
) -> ScimResult {
    let if_match = if_match(&headers);
    let scim = &state.scim;
    let written_resource = match R::KIND {
        ResourceKind::User => {
            scim.replace_user(&caller, &id, &body.value, if_match.as_deref(), &proj)
                .await?
        }
        ResourceKind::Group => {
            scim.replace_group(&caller, &id, &body.value, if_match.as_deref(), &proj)
                .await?
        }
    };
    Ok(written(StatusCode::OK, written_resource))
}

/// A user PATCH answers the user; a group PATCH answers 204 unless `attributes` or
/// `excludedAttributes` asks for a body, so a PATCH never serializes a huge member list.
pub(super) async fn patch<R: Resource>(
    State(state): State<AppState>,
    ScimPath(id): ScimPath<String>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    Projected {
        projection: proj,
        asked,
        ..
    }: Projected<R>,
    headers: HeaderMap,
    body: ScimJson,
) -> ScimResult {
    let if_match = if_match(&headers);
    let scim = &state.scim;
    let written_resource = match R::KIND {
        ResourceKind::User => {
            scim.patch_user(&caller, &id, &body.value, if_match.as_deref(), &proj)
                .await?
        }
        ResourceKind::Group => {
            scim.patch_group(&caller, &id, &body.value, if_match.as_deref(), &proj, asked)
                .await?
        }
    };
    Ok(written(StatusCode::OK, written_resource))
}

pub(super) async fn delete<R: Resource>(
    State(state): State<AppState>,
    ScimPath(id): ScimPath<String>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    headers: HeaderMap,
) -> ScimResult {
    let if_match = if_match(&headers);
    match R::KIND {
        ResourceKind::User => {
            state
                .scim
                .delete_user(&caller, &id, if_match.as_deref())
                .await?
        }
        ResourceKind::Group => {
            state
                .scim
                .delete_group(&caller, &id, if_match.as_deref())
                .await?
        }
    };
    Ok(StatusCode::NO_CONTENT.into_response())
}
