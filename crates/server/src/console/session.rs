//! The console session: the cookie a console admin holds once signed in, the CSRF tokens of
//! console forms, and the extractors handlers take instead of reading either by hand:
//! [`ConsoleAdmin`] (signed in, else a redirect to the sign-in page) and [`CsrfForm`] (a
//! signed-in form whose CSRF field is the session's, checked before anything else in it).

use super::{error_page, see_other};
use crate::http::cookies::{cookie, secure_attribute};
use crate::http::request_id::RequestId;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use directory::console::{ConsoleContext, CONSOLE_ABSOLUTE_TIMEOUT};
use subtle::ConstantTimeEq;

/// The console session's cookie (a console admin signed in to the console; not the SAML
/// browser session, `portcullis_session`).
pub const CONSOLE_SESSION_COOKIE: &str = "portcullis_console";
pub const CSRF_COOKIE: &str = "portcullis_csrf";
pub const CSRF_FIELD: &str = "csrf";

/// Console forms are a few short fields; anything bigger is refused unread.
const FORM_BODY_LIMIT: usize = 16 * 1024;
/// Longer form values cannot be valid; they are cut before reaching the service.
const MAX_FIELD_BYTES: usize = 2048;
/// A CSRF value we handed out is `csrf_` and 43 base64url characters.
const MAX_CSRF_BYTES: usize = 128;

fn secure(state: &AppState) -> &'static str {
    secure_attribute(&state.config.base_url)
}

/// `Set-Cookie` for a new console session; Max-Age is the absolute timeout, the idle one is
/// enforced by the store.
pub(crate) fn session_cookie(state: &AppState, secret: &str) -> String {
    format!(
        "{CONSOLE_SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={}{}",
        CONSOLE_ABSOLUTE_TIMEOUT.whole_seconds(),
        secure(state)
    )
}

pub(crate) fn clear_session_cookie(state: &AppState) -> String {
    format!(
        "{CONSOLE_SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0{}",
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
async fn signed_in_form(
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

/// A URL-encoded form body, decoded leniently: bytes that are not UTF-8 become U+FFFD, so odd
/// input is a wrong value, never a failure.
pub(crate) struct Form(pub(crate) Vec<(String, String)>);

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

/// The signed-in console admin, if any. A failing lookup counts as signed out (and is logged): a
/// page never turns into a 500 for it.
pub(crate) async fn current_admin(state: &AppState, headers: &HeaderMap) -> Option<ConsoleContext> {
    let secret = cookie(headers, CONSOLE_SESSION_COOKIE)?;
    match state.console.session(&secret).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(detail = %e.detail, "console session lookup failed");
            None
        }
    }
}

/// The console admin signed in to the console. Signed out (or a failing lookup, which is
/// logged) is a 303 to the sign-in page.
pub(crate) struct ConsoleAdmin(pub ConsoleContext);

impl FromRequestParts<AppState> for ConsoleAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        current_admin(state, &parts.headers)
            .await
            .map(ConsoleAdmin)
            .ok_or_else(|| see_other("/console/login", None))
    }
}

/// A signed-in console form and who sent it. The CSRF field is checked before anything else in
/// the form is read (none: 403), then who is signed in (nobody: to the sign-in page), then that
/// the field is the session's token (403).
pub(crate) struct CsrfForm(pub ConsoleContext, pub Form);

impl FromRequest<AppState> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let rid = RequestId::of(req.extensions()).0;
        signed_in_form(state, req, &rid)
            .await
            .map(|(ctx, form)| CsrfForm(ctx, form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
