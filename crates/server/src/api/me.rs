//! `GET /api/v1/me`: the person signed in through SAML (their browser session), as JSON.

use crate::http::errors::ApiError;
use crate::saml::{self, browser_session};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// `GET /api/v1/me`: the signed-in person, or 401 problem+json.
pub(super) async fn api_me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(me) = browser_session::current_user(&state, &headers).await else {
        let mut res = ApiError::unauthenticated(
            "not signed in: sign in through your organization's identity provider (GET /login)",
        )
        .into_response();
        // The answer is a session cookie, not the operator key the API's challenge names.
        res.headers_mut().remove(header::WWW_AUTHENTICATE);
        return res;
    };
    let mut res = (StatusCode::OK, Bytes::from(saml::me_json(&me).to_string())).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
