//! Signing in through SAML: the SP metadata, the SP-initiated login, the ACS (rate-limited
//! before any work), and `/login`, which finds the identity provider by email domain.

use super::browser_session::session_cookie;
use super::form_value;
use crate::http::errors::SamlPageError;
use crate::http::extract::PagePath;
use crate::http::pages::{error_page, escape, page, redirect};
use crate::http::request_id::RequestId;
use crate::http::serving::PeerConnection;
use crate::http::throttle::{ClientKey, Verdict};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use directory::Error;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The largest ACS form accepted: a signed, encrypted Okta response is a few KiB.
pub const ACS_BODY_LIMIT: usize = 512 * 1024;
/// The `/login` form is one email address.
const LOGIN_BODY_LIMIT: usize = 8 * 1024;

fn status_of(e: &Error) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(super) async fn sp_metadata(
    State(state): State<AppState>,
    PagePath(client_id): PagePath<String>,
) -> Result<Response, SamlPageError> {
    let xml = state.sso.sp_metadata(&client_id).await?;
    let mut res = (StatusCode::OK, xml).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    Ok(res)
}

pub(super) async fn sp_login(
    State(state): State<AppState>,
    PagePath(client_id): PagePath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, SamlPageError> {
    let return_to = query.and_then(|q| form_value(q.as_bytes(), "return_to"));
    let url = state
        .sso
        .begin_login(&client_id, return_to.as_deref())
        .await?;
    Ok(redirect(StatusCode::FOUND, &url, None))
}

pub(super) async fn acs(
    State(state): State<AppState>,
    rid: RequestId,
    connection: Option<Extension<Arc<PeerConnection>>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    PagePath(client_id): PagePath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let connection = connection.map(|Extension(c)| c);
    let peer = connection
        .as_ref()
        .map(|c| c.peer)
        .or(peer.map(|Extension(ConnectInfo(p))| p));
    let client = peer.map(|p| ClientKey::of(p.ip()));
    // Anyone may post here: the rate limit comes before any work, the body unread.
    if let Some(client) = client {
        let verdict = state
            .acs_throttle
            .check(client, connection.as_deref(), Instant::now());
        if let Verdict::Throttled {
            retry_after,
            report,
        } = verdict
        {
            if let Some(count) = report {
                if let Ok(conn) = state.sso.connection_by_client_id(&client_id).await {
                    let limit = state.acs_throttle.per_address();
                    let limit = format!(
                        "{} a minute, bursts of {}, per address; fewer per connection",
                        limit.per_minute, limit.burst
                    );
                    state
                        .sso
                        .record_acs_throttled(&conn, &client.to_string(), count, &limit, &rid.0)
                        .await;
                }
            }
            return throttled_page(retry_after, &rid);
        }
    }
    // Route by Client ID first: an unknown one is answered before the body is read.
    let conn = match state.sso.connection_by_client_id(&client_id).await {
        Ok(c) => c,
        Err(e) => return SamlPageError::from(e).into_response(),
    };
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The identity provider must post the SAML response as a form (HTTP-POST binding).",
            &rid.0,
        );
    }
    let bytes = match axum::body::to_bytes(body, ACS_BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            return error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The sign-in response is larger than Portcullis accepts.",
                &rid.0,
            )
        }
    };
    let Some(saml_response) = form_value(&bytes, "SAMLResponse") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The form carries no SAMLResponse. Start signing in again from your company's sign-in page.",
            &rid.0,
        );
    };
    let relay_state = form_value(&bytes, "RelayState");
    let outcome = state
        .sso
        .finish_login(
            &conn,
            &saml_response,
            relay_state.as_deref(),
            &rid.0,
            client.map(|c| c.to_string()).as_deref(),
        )
        .await;
    metrics::counter!(
        "portcullis_saml_signins_total",
        "outcome" => if outcome.is_ok() { "success" } else { "refused" }
    )
    .increment(1);
    match outcome {
        Ok(signed_in) => redirect(
            StatusCode::SEE_OTHER,
            &signed_in.return_to,
            Some(session_cookie(&state, &signed_in.cookie_secret)),
        ),
        Err(refusal) => error_page(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            &refusal.message,
            &refusal.reference,
        ),
    }
}

/// 429 for an ACS post over the rate limit, with when to retry.
fn throttled_page(retry_after: Duration, rid: &RequestId) -> Response {
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut res = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Too many sign-in attempts from your network. Wait {seconds} seconds, then start signing in again from your company's sign-in page."),
        &rid.0,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    res
}

fn login_page(status: StatusCode, email: &str, problem: Option<&str>) -> Response {
    let problem = problem
        .map(|p| format!("<p role=\"alert\"><strong>{}</strong></p>", escape(p)))
        .unwrap_or_default();
    page(
        status,
        "Sign in",
        &format!(
            "{problem}<form method=\"post\" action=\"/login\"><label>Work email <input type=\"email\" name=\"email\" value=\"{}\" required autofocus></label> <button type=\"submit\">Continue</button></form>",
            escape(email)
        ),
        // The form's answer redirects on to the IdP of the email's domain, which is not known
        // yet; browsers apply form-action to that redirect chain.
        Some("https:"),
    )
}

pub(super) async fn login_form() -> Response {
    login_page(StatusCode::OK, "", None)
}

pub(super) async fn login_submit(State(state): State<AppState>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, LOGIN_BODY_LIMIT).await else {
        return login_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
            Some("The form is too large."),
        );
    };
    let email = form_value(&bytes, "email").unwrap_or_default();
    match state.sso.login_url_for_email(&email).await {
        Ok(url) => redirect(StatusCode::SEE_OTHER, &url, None),
        Err(e) => login_page(status_of(&e), &email, Some(&e.detail)),
    }
}
