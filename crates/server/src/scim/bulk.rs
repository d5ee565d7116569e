//! `/Bulk` (RFC 7644 §3.7): the whole request applied by the SCIM service.

use super::body::write_body;
use super::caller::AuthenticatedCaller;
use super::ScimResult;
use crate::http::errors::scim_json;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

pub(super) async fn bulk(
    State(state): State<AppState>,
    AuthenticatedCaller(caller): AuthenticatedCaller,
    headers: HeaderMap,
    body: Body,
) -> ScimResult {
    let (body, _large) = write_body(&state, &caller, &headers, body).await?;
    let out = state.scim.bulk(&caller, &body).await?;
    Ok(scim_json(StatusCode::OK, &out))
}
