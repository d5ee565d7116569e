//! `/Bulk` (RFC 7644 §3.7): the whole request applied by the SCIM service.

use super::body::ScimJson;
use super::caller::AuthenticatedCaller;
use super::ScimResult;
use crate::http::errors::scim_json;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

pub(super) async fn bulk(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    body: ScimJson,
) -> ScimResult {
    let out = state.scim.bulk(&caller, &body.value).await?;
    Ok(scim_json(StatusCode::OK, &out))
}
