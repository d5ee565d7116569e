//! The session cookie, and the small server-rendered HTML pages of the browser routes.
//!
//! Pages are plain strings: every value that comes from a user, an IdP or the directory goes
//! through [`escape`]. Each page carries a strict Content-Security-Policy.

use crate::app::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::sso::{SessionUser, SESSION_ABSOLUTE_TIMEOUT};

pub const COOKIE_NAME: &str = "portcullis_session";

/// The session cookie's secret, if the request carries one.
pub fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The signed-in person, if any. A store failure counts as signed out (and is logged by the
/// store layer): a page never turns into a 500 for it.
pub async fn current_user(state: &AppState, headers: &HeaderMap) -> Option<SessionUser> {
    let secret = cookie_secret(headers)?;
    match state.sso.session_user(&secret).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(detail = %e.detail, "session lookup failed");
            None
        }
    }
}

fn secure(state: &AppState) -> &'static str {
    if state.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// `Set-Cookie` for a new session. Max-Age is the absolute timeout; the idle timeout is
/// enforced by the store.
pub fn session_cookie(state: &AppState, secret: &str) -> String {
    format!(
        "{COOKIE_NAME}={secret}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        SESSION_ABSOLUTE_TIMEOUT.whole_seconds(),
        secure(state)
    )
}

pub fn clear_cookie(state: &AppState) -> String {
    format!(
        "{COOKIE_NAME}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        secure(state)
    )
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page: `body_html` must already be escaped where it holds data.
pub fn page(
    status: StatusCode,
    title: &str,
    body_html: &str,
    form_origin: Option<&str>,
) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · Portcullis</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}code{{background:#eee;padding:0 .2rem}}</style></head>\
         <body><h1>{}</h1>\n{}\n</body></html>\n",
        escape(title),
        escape(title),
        body_html
    );
    let mut res = (status, html).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let form_action = match form_origin {
        Some(o) => format!("'self' {o}"),
        None => "'self'".into(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A page that explains a refusal in plain words, with the reference that finds it in the
/// audit log.
pub fn error_page(status: StatusCode, message: &str, reference: &str) -> Response {
    let title = match status.as_u16() {
        404 => "Not found",
        403 => "Access denied",
        405 => "Not allowed",
        408 => "Too slow",
        413 => "Too large",
        429 => "Too many attempts",
        _ => "Sign-in failed",
    };
    page(
        status,
        title,
        &format!(
            "<p>{}</p><p>Reference: <code>{}</code></p>",
            escape(message),
            escape(reference)
        ),
        None,
    )
}

/// A 302/303 to a path or URL we built.
pub fn redirect(status: StatusCode, location: &str, set_cookie: Option<String>) -> Response {
    let mut res = status.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
