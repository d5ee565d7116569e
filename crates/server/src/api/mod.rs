//! `/api/v1/`: the operator's JSON API (organizations, SCIM tokens, users, groups, SAML,
//! login domains, audit), authenticated by an operator key from `portcullis admin-key create`
//! (the [`Operator`] extractor). One module per noun; every refusal is an [`ApiError`]
//! (`application/problem+json`).
//!
//! The JSON shapes (`org_json`, `token_json`, …) are shared with the CLI's `--json` output.
//!
//! [`Operator`]: operator::Operator

mod audit;
mod domains;
mod groups;
mod me;
pub mod operator;
mod orgs;
mod saml;
mod tokens;
mod users;

pub use audit::audit_json;
pub use domains::domain_claim_json;
pub use orgs::org_json;
pub use saml::saml_json;
pub use tokens::token_json;

use crate::http::errors::ApiError;
use crate::http::extract::API_BODY_LIMIT;
use crate::http::observability::label_route;
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// What an API handler answers.
type ApiResult = Result<Response, ApiError>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(orgs::list_orgs).post(orgs::create_org))
        .route("/orgs/{slug}", get(orgs::get_org))
        .route(
            "/orgs/{slug}/tokens",
            get(tokens::list_tokens).post(tokens::create_token),
        )
        .route(
            "/orgs/{slug}/tokens/{id}",
            axum::routing::delete(tokens::revoke_token),
        )
        .route("/orgs/{slug}/tokens/{id}/domains", put(tokens::set_domains))
        .route("/orgs/{slug}/audit", get(audit::audit))
        .route(
            "/orgs/{slug}/saml",
            get(saml::get_saml).patch(saml::patch_saml),
        )
        .route(
            "/orgs/{slug}/saml/setup",
            axum::routing::post(saml::setup_saml),
        )
        .route(
            "/orgs/{slug}/saml/metadata",
            put(saml::upload_saml_metadata),
        )
        .route("/orgs/{slug}/domains", get(domains::list_domains))
        .route(
            "/orgs/{slug}/domains/{domain}/approve",
            axum::routing::post(domains::approve_domain),
        )
        .route(
            "/orgs/{slug}/domains/{domain}/revoke",
            axum::routing::post(domains::revoke_domain),
        )
        .route("/me", get(me::api_me))
        .merge(groups::router())
        .merge(users::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // What `ApiBody` reads at most; the same number names the limit in its 413.
        .layer(axum::extract::DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(axum::middleware::from_fn(label_route))
}

fn ok_json(status: StatusCode, v: Value) -> Response {
    let mut res = (status, Bytes::from(v.to_string())).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn ts(t: time::OffsetDateTime) -> Value {
    Value::from(t.format(&Rfc3339).unwrap_or_default())
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such admin API endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this admin API endpoint does not answer that method",
    )
}
