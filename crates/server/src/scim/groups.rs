//! `/Groups`: the generic resource handlers (see `resources`) for SCIM-managed groups.

use super::resources::{create, delete, get_one, list, patch, replace, search, Groups};
use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list::<Groups>).post(create::<Groups>))
        .route("/Groups/.search", post(search::<Groups>))
        .route(
            "/Groups/{id}",
            get(get_one::<Groups>)
                .put(replace::<Groups>)
                .patch(patch::<Groups>)
                .delete(delete::<Groups>),
        )
}
