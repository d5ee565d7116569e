//! `/Users`: the generic resource handlers (see `resources`) for SCIM users.

use super::resources::{create, delete, get_one, list, patch, replace, search, Users};
use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list::<Users>).post(create::<Users>))
        .route("/Users/.search", post(search::<Users>))
        .route(
            "/Users/{id}",
            get(get_one::<Users>)
                .put(replace::<Users>)
                .patch(patch::<Users>)
                .delete(delete::<Users>),
        )
}
