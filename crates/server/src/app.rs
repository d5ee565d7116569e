//! The top-level router: every surface's routes under one state, with the tracking and
//! body-timeout layers. Only `lib.rs`, the CLI's `serve` and tests import it.

use crate::http::{observability, serving};
use crate::state::AppState;
use crate::{api, console, health, saml, scim};
use axum::routing::get;
use axum::Router;

pub fn build_router(state: AppState) -> Router {
    Router::new()
        .nest("/scim/v2", scim::router())
        .nest("/api/v1", api::router())
        .merge(saml::router())
        .merge(console::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .fallback(saml::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(serving::answer_body_timeouts))
        .layer(axum::middleware::from_fn(observability::track))
}
