//! `/scim/v2`: RFC 7644 over HTTP, one module per noun (`users`, `groups`, `bulk`, `me`,
//! `discovery`; the operations both resource types share are in `resources`). Thin handlers:
//! extractors authenticate the SCIM token ([`AuthenticatedCaller`]), read the projection and
//! the JSON body (`params::Projected`, `body::ScimJson`), the handler calls the SCIM service
//! and renders; every refusal is a [`ScimErrorResponse`].
//!
//! [`AuthenticatedCaller`]: caller::AuthenticatedCaller

mod body;
mod bulk;
pub mod caller;
mod discovery;
mod groups;
mod me;
mod params;
mod resources;
mod users;

use crate::http::errors::{scim_json, ScimErrorResponse};
use crate::http::observability::label_route;
use crate::state::AppState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use directory::scim_service::Written;
use scim::ScimError;

pub use crate::http::errors::SCIM_CONTENT_TYPE;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(users::routes())
        .merge(groups::routes())
        .route("/.search", post(resources::search_root))
        .route("/Bulk", post(bulk::bulk))
        .route("/Me", axum::routing::any(me::me))
        .merge(discovery::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(label_route))
}

/// What a SCIM handler answers.
type ScimResult = Result<Response, ScimErrorResponse>;

fn with_etag(mut res: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn written(status: StatusCode, w: Written) -> Response {
    let mut res = match &w.body {
        Some(body) => scim_json(status, body),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&w.location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    with_etag(res, &w.etag)
}

async fn not_found() -> ScimErrorResponse {
    ScimError::not_found("no such SCIM endpoint; the resources are /Users and /Groups").into()
}

async fn method_not_allowed() -> ScimErrorResponse {
    ScimErrorResponse::status(405, "this method is not supported on this SCIM endpoint")
}
