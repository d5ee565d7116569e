//! The admin console: server-rendered HTML (maud) for an organization's IT admins.
//!
//! Every page carries a strict CSP (no inline script or style: the stylesheet and the small
//! progressive-enhancement script are ours, served from `/console/static/`). Every form carries a `csrf` field, checked before anything else:
//! signed-in forms against the session's token, the sign-in and invitation forms against a
//! double-submit cookie. Errors are HTML pages with the request id as reference.

mod admins;
mod audit;
mod error;
mod groups;
mod invite;
mod login;
mod logout;
mod multipart;
mod overview;
mod saml;
mod session;
mod sso;
mod static_files;
mod tokens;
mod users;

pub(crate) use crate::http::cookies::cookie;
pub(crate) use crate::http::request_id::RequestId;
pub(crate) use error::{ConsolePageError, ConsoleResult};
pub(crate) use session::{
    clear_session_cookie, csrf_cookie, csrf_refused, current_admin, double_submit_ok,
    double_submit_token, read_form, session_cookie, session_csrf_ok, ConsoleAdmin, CsrfForm, Form,
    CONSOLE_SESSION_COOKIE, CSRF_FIELD,
};

use crate::state::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use directory::console::ConsoleContext;
use maud::{html, Markup, DOCTYPE};
use std::net::SocketAddr;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The policy of every console page.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

async fn not_found(RequestId(rid): RequestId) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is no console page at this address.",
        &rid,
    )
}

async fn method_not_allowed(RequestId(rid): RequestId) -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address does not answer that kind of request.",
        &rid,
    )
}

/// The client's address, when the server knows its peers (see `serve`).
pub(crate) fn client_addr(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
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

/// The page for an error of the directory a handler does not answer itself: see
/// [`ConsolePageError`] for how each kind is shown.
pub(crate) fn internal_page(e: &directory::Error) -> Response {
    ConsolePageError::from(e.clone()).into_response()
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
