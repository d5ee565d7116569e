//! The browser side of SAML sign-in: SP metadata, SP-initiated login, the ACS, `/login` by
//! email domain, `/logout`, `/me`, and `GET /api/v1/me`.
//!
//! Errors here are HTML pages (the API route answers problem+json), with a plain message and
//! the request id as reference; the admin-readable reason is in the audit log.

use crate::api::Problem;
use crate::app::AppState;
use crate::extract::PagePath;
use crate::observability::RequestId;
use crate::serving::PeerConnection;
use crate::session::{
    clear_cookie, cookie_secret, current_user, error_page, escape, page, redirect, session_cookie,
};
use crate::throttle::{ClientKey, Verdict};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use directory::sso::SessionUser;
use directory::Error;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The largest ACS form accepted: a signed, encrypted Okta response is a few KiB.
pub const ACS_BODY_LIMIT: usize = 512 * 1024;
/// The `/login` form is one email address.
const LOGIN_BODY_LIMIT: usize = 8 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/{client_id}/metadata", get(sp_metadata))
        .route("/saml/{client_id}/login", get(sp_login))
        .route("/saml/{client_id}/acs", post(acs))
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/me", get(me_page))
        .method_not_allowed_fallback(method_not_allowed)
}

/// Any address no surface serves (the SCIM, API and console routers answer their own): an
/// HTML page with the page headers, not an empty 404.
pub async fn not_found(Extension(rid): Extension<RequestId>) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is nothing at this address.",
        &rid.0,
    )
}

async fn method_not_allowed(Extension(rid): Extension<RequestId>) -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not answer that kind of request.",
        &rid.0,
    )
}

fn status_of(e: &Error) -> StatusCode {
    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn domain_error_page(e: &Error, rid: &RequestId) -> Response {
    if e.kind == directory::ErrorKind::Internal {
        tracing::error!(request_id = %rid.0, detail = %e.detail, "internal error");
    }
    error_page(status_of(e), &e.detail, &rid.0)
}

/// The value of `name` in a URL-encoded query or form.
fn form_value(encoded: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn sp_metadata(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    PagePath(client_id): PagePath<String>,
) -> Response {
    match state.sso.sp_metadata(&client_id).await {
        Ok(xml) => {
            let mut res = (StatusCode::OK, xml).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/samlmetadata+xml"),
            );
            res
        }
        Err(e) => domain_error_page(&e, &rid),
    }
}

async fn sp_login(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    PagePath(client_id): PagePath<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let return_to = query.and_then(|q| form_value(q.as_bytes(), "return_to"));
    match state
        .sso
        .begin_login(&client_id, return_to.as_deref())
        .await
    {
        Ok(url) => redirect(StatusCode::FOUND, &url, None),
        Err(e) => domain_error_page(&e, &rid),
    }
}

async fn acs(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
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
        Err(e) => return domain_error_page(&e, &rid),
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

async fn login_form() -> Response {
    login_page(StatusCode::OK, "", None)
}

async fn login_submit(State(state): State<AppState>, body: Body) -> Response {
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

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = cookie_secret(&headers) {
        if let Err(e) = state.sso.logout(&secret).await {
            tracing::warn!(detail = %e.detail, "logout could not delete the session");
        }
    }
    let mut res = page(
        StatusCode::OK,
        "Signed out",
        "<p>You are signed out of Portcullis.</p><p><a href=\"/login\">Sign in again</a></p>",
        None,
    );
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(&state)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

async fn me_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(me) = current_user(&state, &headers).await else {
        return page(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "<p>You are not signed in.</p><p><a href=\"/login\">Sign in</a></p>",
            None,
        );
    };
    let groups = if me.groups.is_empty() {
        "<p>You belong to no group.</p>".to_string()
    } else {
        format!(
            "<ul>{}</ul>",
            me.groups
                .iter()
                .map(|g| format!("<li>{}</li>", escape(g)))
                .collect::<String>()
        )
    };
    page(
        StatusCode::OK,
        "Signed in",
        &format!(
            "<p>{} (<code>{}</code>) in organization <code>{}</code>.</p><h2>Groups</h2>{groups}<form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>",
            escape(me.user.display_name.as_deref().unwrap_or(&me.user.user_name)),
            escape(&me.user.user_name),
            escape(&me.organization.slug),
        ),
        None,
    )
}

pub fn me_json(me: &SessionUser) -> serde_json::Value {
    json!({
        "user": {
            "id": me.user.id.to_string(),
            "userName": me.user.user_name,
            "displayName": me.user.display_name,
            "active": me.user.active,
        },
        "organization": me.organization.slug,
        "groups": me.groups,
    })
}

/// `GET /api/v1/me`: the signed-in person, or 401 problem+json.
pub async fn api_me(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let Some(me) = current_user(&state, &headers).await else {
        let mut res = Problem::unauthenticated(
            "not signed in: sign in through your organization's identity provider (GET /login)",
            &rid,
        )
        .into_response();
        // The answer is a session cookie, not the operator key the API's challenge names.
        res.headers_mut().remove(header::WWW_AUTHENTICATE);
        return res;
    };
    let mut res = (StatusCode::OK, Bytes::from(me_json(&me).to_string())).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
