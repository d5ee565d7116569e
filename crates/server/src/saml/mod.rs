//! The browser side of SAML sign-in: SP metadata, SP-initiated login, the ACS and `/login` by
//! email domain (`sign_in`), `/logout` and `/me` (`signed_in`), and the browser session cookie
//! a sign-in sets (`browser_session`; `GET /api/v1/me` reads it too).
//!
//! Errors here are HTML pages ([`SamlPageError`]), with a plain message and the request id as
//! reference; the admin-readable reason is in the audit log.
//!
//! [`SamlPageError`]: crate::http::errors::SamlPageError

pub mod browser_session;
mod sign_in;
mod signed_in;

pub use sign_in::ACS_BODY_LIMIT;
pub use signed_in::me_json;

use crate::http::pages::error_page;
use crate::http::request_id::RequestId;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/{client_id}/metadata", get(sign_in::sp_metadata))
        .route("/saml/{client_id}/login", get(sign_in::sp_login))
        .route("/saml/{client_id}/acs", post(sign_in::acs))
        .route(
            "/login",
            get(sign_in::login_form).post(sign_in::login_submit),
        )
        .route("/logout", post(signed_in::logout))
        .route("/me", get(signed_in::me_page))
        .method_not_allowed_fallback(method_not_allowed)
}

/// Any address no surface serves (the SCIM, API and console routers answer their own): an
/// HTML page with the page headers, not an empty 404.
pub async fn not_found(rid: RequestId) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is nothing at this address.",
        &rid.0,
    )
}

async fn method_not_allowed(rid: RequestId) -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not answer that kind of request.",
        &rid.0,
    )
}

/// The value of `name` in a URL-encoded query or form.
pub(super) fn form_value(encoded: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
