//! The SAML browser session: the cookie a person holds after signing in through their
//! identity provider (not the console's session, see `console::session`).

use crate::http::cookies::{cookie, secure_attribute};
use crate::state::AppState;
use axum::http::HeaderMap;
use directory::sso::{SessionUser, SESSION_ABSOLUTE_TIMEOUT};

pub const BROWSER_SESSION_COOKIE: &str = "portcullis_session";

/// The browser session cookie's secret, if the request carries one.
pub fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    cookie(headers, BROWSER_SESSION_COOKIE)
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
    secure_attribute(&state.config.base_url)
}

/// `Set-Cookie` for a new session. Max-Age is the absolute timeout; the idle timeout is
/// enforced by the store.
pub fn session_cookie(state: &AppState, secret: &str) -> String {
    format!(
        "{BROWSER_SESSION_COOKIE}={secret}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
        SESSION_ABSOLUTE_TIMEOUT.whole_seconds(),
        secure(state)
    )
}

pub fn clear_session_cookie(state: &AppState) -> String {
    format!(
        "{BROWSER_SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
        secure(state)
    )
}
