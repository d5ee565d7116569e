//! The small server-rendered HTML pages of the SAML browser routes and of every refusal
//! outside the console (which has its own frame, see `console`).
//!
//! Pages are plain strings: every value that comes from a user, an IdP or the directory goes
//! through [`escape`]. Each page carries a strict Content-Security-Policy.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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
