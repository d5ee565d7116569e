//! The admin console: server-rendered HTML (maud) for an organization's IT admins.
//!
//! Every page carries a strict CSP (no inline script or style: the stylesheet and the small
//! progressive-enhancement script are ours, served from `/console/static/`). Every form carries a `csrf` field, checked before anything else:
//! signed-in forms against the session's token, the sign-in and invitation forms against a
//! double-submit cookie. Errors are HTML pages with the request id as reference.

mod admins;
mod audit;
mod groups;
mod invite;
mod login;
mod logout;
mod multipart;
mod overview;
mod saml;
mod sso;
mod static_files;
mod tokens;
mod users;

use crate::app::AppState;
use crate::observability::RequestId;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use directory::console::{ConsoleContext, CONSOLE_ABSOLUTE_TIMEOUT};
use maud::{html, Markup, DOCTYPE};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const SESSION_COOKIE: &str = "portcullis_console";
pub const CSRF_COOKIE: &str = "portcullis_csrf";
pub const CSRF_FIELD: &str = "csrf";

/// The policy of every console page.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Console forms are a few short fields; anything bigger is refused unread.
const FORM_BODY_LIMIT: usize = 16 * 1024;
/// Longer form values cannot be valid; they are cut before reaching the service.
const MAX_FIELD_BYTES: usize = 2048;
/// A CSRF value we handed out is `csrf_` and 43 base64url characters.
const MAX_CSRF_BYTES: usize = 128;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(overview::page))
        .route("/console/", get(overview::page))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(logout::submit))
        .route(
            "/console/invite/{secret}",
            get(invite::form).post(invite::submit),
        )
        .route("/console/saml", get(saml::page))
        .route("/console/saml/setup", post(saml::setup))
        .route("/console/saml/metadata", post(saml::upload))
        .route("/console/saml/settings", post(saml::settings))
        .route("/console/saml/domains/check", post(saml::check_domain))
        .route(saml::TEST_RESULT, get(saml::test_result))
        .route("/console/tokens", get(tokens::list).post(tokens::create))
        .route("/console/audit", get(audit::page))
        .route(
            "/console/tokens/{id}/domains",
            get(tokens::domains_form).post(tokens::domains_submit),
        )
        .route(
            "/console/tokens/{id}/revoke",
            get(tokens::revoke_form).post(tokens::revoke_submit),
        )
        .route("/console/login/sso", post(sso::start))
        .route("/console/sso", get(sso::finish))
        .route("/console/admins", get(admins::page).post(admins::invite))
        .route(
            "/console/admins/{id}/remove",
            get(admins::remove_form).post(admins::remove_submit),
        )
        .route("/console/admins/group", post(admins::set_group))
        .route("/console/admins/group/clear", post(admins::clear_group))
        .route("/console/admins/users", post(admins::grant))
        .route("/console/admins/users/{id}/revoke", post(admins::revoke))
        .route("/console/groups", get(groups::list))
        .route(
            "/console/groups/new",
            get(groups::new_form).post(groups::create),
        )
        .route("/console/groups/{id}", get(groups::show))
        .route("/console/groups/{id}/rename", post(groups::rename))
        .route(
            "/console/groups/{id}/members/add",
            post(groups::add_members),
        )
        .route(
            "/console/groups/{id}/members/remove",
            post(groups::remove_members),
        )
        .route(
            "/console/groups/{id}/handover",
            get(groups::handover_form).post(groups::handover_submit),
        )
        .route(
            "/console/groups/{id}/delete",
            get(groups::delete_form).post(groups::delete_submit),
        )
        .route("/console/users", get(users::list))
        .route(
            "/console/users/new",
            get(users::new_form).post(users::new_submit),
        )
        .route("/console/users/{id}", get(users::show).post(users::update))
        .route(
            "/console/users/{id}/deactivate",
            get(users::deactivate_form).post(users::deactivate_submit),
        )
        .route(
            "/console/users/{id}/reactivate",
            get(users::reactivate_form).post(users::reactivate_submit),
        )
        .route("/console/users/{id}/sessions/end", post(users::end_session))
        .route(
            "/console/users/{id}/sessions/end-all",
            post(users::end_all_sessions),
        )
        .route("/console/static/console.css", get(static_files::css))
        .route("/console/static/console.js", get(static_files::js))
        .route("/console/{*rest}", get(not_found).post(not_found))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found(req: Request) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is no console page at this address.",
        &request_id(&req),
    )
}

async fn method_not_allowed(req: Request) -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not answer that kind of request.",
        &request_id(&req),
    )
}

pub(crate) fn request_id(req: &Request) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// The client's address, when the server knows its peers (see `serve`).
pub(crate) fn client_addr(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The value of cookie `name`, if the request carries one.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

fn secure(state: &AppState) -> &'static str {
    secure_for(&state.config.base_url)
}

/// Cookies are Secure whenever browsers reach us over https.
fn secure_for(base_url: &str) -> &'static str {
    if base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// `Set-Cookie` for a new console session; Max-Age is the absolute timeout, the idle one is
/// enforced by the store.
pub(crate) fn session_cookie(state: &AppState, secret: &str) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={}{}",
        CONSOLE_ABSOLUTE_TIMEOUT.whole_seconds(),
        secure(state)
    )
}

pub(crate) fn clear_session_cookie(state: &AppState) -> String {
    format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0{}",
        secure(state)
    )
}

/// A token we could have issued: bounded, and only characters safe in a cookie and a form.
fn plausible_token(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_CSRF_BYTES
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The double-submit token of a signed-out form: the browser's existing one (so several tabs
/// work), or a fresh one to set.
pub(crate) fn double_submit_token(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, CSRF_COOKIE).filter(|v| plausible_token(v)) {
        Some(v) => (v, None),
        None => {
            let v = directory::console::random_token();
            (v.clone(), Some(v))
        }
    }
}

pub(crate) fn csrf_cookie(state: &AppState, value: &str) -> String {
    format!(
        "{CSRF_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/console{}",
        secure(state)
    )
}

fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A double-submitted form: the field must equal the cookie.
pub(crate) fn double_submit_ok(headers: &HeaderMap, form: &Form) -> bool {
    match (cookie(headers, CSRF_COOKIE), form.get(CSRF_FIELD)) {
        (Some(c), Some(f)) => plausible_token(&c) && same_token(&c, f),
        _ => false,
    }
}

/// A signed-in form: the field must equal the session's token.
pub(crate) fn session_csrf_ok(ctx: &ConsoleContext, form: &Form) -> bool {
    form.get(CSRF_FIELD)
        .is_some_and(|f| same_token(&ctx.session.csrf_token, f))
}

pub(crate) fn csrf_refused(rid: &str) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this console. Go back, reload the page and try again.",
        rid,
    )
}

/// Reads a signed-in form: CSRF is checked before anything else in it is read, then who is
/// signed in (signed out goes to the sign-in page), then that the token is the session's.
pub(crate) async fn signed_in_form(
    state: &AppState,
    req: Request,
    rid: &str,
) -> Result<(ConsoleContext, Form), Response> {
    let (parts, body) = req.into_parts();
    let form = read_form(body, rid).await?;
    if form.get(CSRF_FIELD).is_none_or(str::is_empty) {
        return Err(csrf_refused(rid));
    }
    let Some(ctx) = current_admin(state, &parts.headers).await else {
        return Err(see_other("/console/login", None));
    };
    if !session_csrf_ok(&ctx, &form) {
        return Err(csrf_refused(rid));
    }
    Ok((ctx, form))
}

/// An instant as every console page shows it (RFC 3339, UTC).
pub(crate) fn when(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The same for an instant that may not have happened, with the words for that case.
pub(crate) fn when_or(t: Option<OffsetDateTime>, none: &str) -> String {
    t.map(when).unwrap_or_else(|| none.to_string())
}

/// Email domains typed in a form: commas, spaces and newlines all separate them; `*` counts
/// only when typed as such.
pub(crate) fn split_domains(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// A URL-encoded form body, decoded leniently: bytes that are not UTF-8 become U+FFFD, so odd
/// input is a wrong value, never a failure.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field that must be there and not blank.
    pub(crate) fn required(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }
}

/// Reads a form body, or answers the page that explains why not.
pub(crate) async fn read_form(body: Body, rid: &str) -> Result<Form, Response> {
    let bytes = axum::body::to_bytes(body, FORM_BODY_LIMIT)
        .await
        .map_err(|_| {
            error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form sent more than this page accepts.",
                rid,
            )
        })?;
    let fields = form_urlencoded::parse(&bytes)
        .map(|(k, v)| {
            let mut v = v.into_owned();
            if v.len() > MAX_FIELD_BYTES {
                let mut end = MAX_FIELD_BYTES;
                while !v.is_char_boundary(end) {
                    end -= 1;
                }
                v.truncate(end);
            }
            (k.into_owned(), v)
        })
        .collect();
    Ok(Form(fields))
}

/// The console's sections, in the order the setup guide meets them.
const SECTIONS: &[(&str, &str)] = &[
    ("/console", "Overview"),
    ("/console/saml", "SAML"),
    ("/console/tokens", "SCIM tokens"),
    ("/console/users", "Users"),
    ("/console/groups", "Groups"),
    ("/console/audit", "Audit log"),
    ("/console/admins", "Admins"),
];

/// The frame of every console page.
pub(crate) fn layout(title: &str, ctx: Option<&ConsoleContext>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Portcullis console" }
                link rel="stylesheet" href="/console/static/console.css";
            }
            body {
                header.top {
                    a.brand href="/console" { "Portcullis" }
                    @if let Some(ctx) = ctx {
                        span.who {
                            (ctx.organization.name) " · " (ctx.admin.email)
                        }
                        form.inline method="post" action="/console/logout" {
                            input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                @if ctx.is_some() {
                    nav.sections aria-label="Console sections" {
                        ul {
                            @for (href, label) in SECTIONS {
                                li { a href=(href) { (label) } }
                            }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// An HTML answer with the console's security headers.
pub(crate) fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut res = (status, markup.into_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) fn with_cookie(mut res: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// A refusal in plain words, with the reference that finds it in the logs.
pub(crate) fn error_page(status: StatusCode, message: &str, rid: &str) -> Response {
    let title = match status.as_u16() {
        400 => "Check the form",
        403 => "Access denied",
        404 => "Not found",
        405 => "Not allowed",
        413 => "Too large",
        429 => "Too many attempts",
        _ => "Something went wrong",
    };
    html_response(
        status,
        layout(
            title,
            None,
            html! {
                p { (message) }
                p.muted { "Reference: " code { (rid) } }
                p { a href="/console" { "Back to the console" } }
            },
        ),
    )
}

/// Every password slot is taken (`directory::password`): a 429 page that says to try again,
/// with `Retry-After`. Nothing was checked or counted.
pub(crate) fn busy_page(rid: &str) -> Response {
    let mut res = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        directory::password::PASSWORD_BUSY,
        rid,
    );
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(directory::password::PASSWORD_BUSY_RETRY_AFTER_SECS),
    );
    res
}

/// The page for a failure of the directory itself (logged; the person sees a reference).
pub(crate) fn internal_page(e: &directory::Error, rid: &str) -> Response {
    tracing::error!(request_id = %rid, detail = %e.detail, "console request failed");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The console could not complete this request. Try again in a moment.",
        rid,
    )
}

/// A 303 to a path of ours.
pub(crate) fn see_other(location: &'static str, set_cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(location));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    with_cookie(res, set_cookie)
}

/// The signed-in admin, if any. A failing lookup counts as signed out (and is logged): a
/// page never turns into a 500 for it.
pub(crate) async fn current_admin(state: &AppState, headers: &HeaderMap) -> Option<ConsoleContext> {
    let secret = cookie(headers, SESSION_COOKIE)?;
    match state.console.session(&secret).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(detail = %e.detail, "console session lookup failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_only_over_https() {
        assert_eq!(secure_for("https://id.example.com"), "; Secure");
        assert_eq!(secure_for("http://127.0.0.1:8080"), "");
    }

    #[test]
    fn tokens_that_may_reach_a_cookie_or_form() {
        assert!(plausible_token(&directory::console::random_token()));
        for bad in [
            "",
            "a b",
            "a;b",
            "a\"b",
            "<x>",
            &"a".repeat(MAX_CSRF_BYTES + 1),
        ] {
            assert!(!plausible_token(bad), "{bad:?}");
        }
        assert!(same_token("csrf_x", "csrf_x"));
        assert!(!same_token("csrf_x", "csrf_y"));
        assert!(!same_token("csrf_x", "csrf_xx"));
    }
}
