//! Discovery (RFC 7643 §5–7): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`. No
//! token needed.

use super::ScimResult;
use crate::http::errors::scim_json;
use crate::http::extract::ScimPath;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use scim::ScimError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
}

fn capabilities(state: &AppState) -> scim::discovery::Capabilities {
    let l = state.config.limits;
    scim::discovery::Capabilities {
        bulk_max_operations: l.bulk_max_operations,
        bulk_max_payload_bytes: l.bulk_max_payload_bytes,
        filter_max_results: l.max_results as usize,
    }
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    let body = scim::discovery::service_provider_config(
        state.scim.base_url(),
        &capabilities(&state),
        None,
    );
    scim_json(StatusCode::OK, &body)
}

async fn resource_types(State(state): State<AppState>) -> Response {
    scim_json(
        StatusCode::OK,
        &scim::discovery::resource_types(state.scim.base_url()),
    )
}

async fn resource_type(
    State(state): State<AppState>,
    ScimPath(id): ScimPath<String>,
) -> ScimResult {
    let body =
        scim::discovery::resource_type_by_id(state.scim.base_url(), &id).ok_or_else(|| {
            ScimError::not_found(format!("no ResourceType '{id}'; there are User and Group"))
        })?;
    Ok(scim_json(StatusCode::OK, &body))
}

async fn schemas(State(state): State<AppState>) -> Response {
    scim_json(
        StatusCode::OK,
        &scim::discovery::schemas(state.scim.base_url()),
    )
}

async fn schema(State(state): State<AppState>, ScimPath(id): ScimPath<String>) -> ScimResult {
    let body = scim::discovery::schema_by_id(state.scim.base_url(), &id)
        .ok_or_else(|| ScimError::not_found(format!("no Schema '{id}'")))?;
    Ok(scim_json(StatusCode::OK, &body))
}
