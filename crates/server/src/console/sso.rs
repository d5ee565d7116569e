//! Admin sign-in through the organization's SAML SSO.
//!
//! `POST /console/login/sso` routes a work email to its organization's SP-initiated sign-in
//! (as `/login` does) with `return_to=/console/sso`; the ACS signs the person in to Portcullis
//! and sends them to `GET /console/sso`, which turns that SAML session into a console session
//! when the person holds the admin role, and explains the refusal when not.

use super::{
    csrf_refused, double_submit_ok, error_page, html_response, internal_page, read_form,
    session_cookie, with_cookie, ConsoleResult, RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use directory::console_roles::SsoConsoleOutcome;
use directory::ErrorKind;
use maud::{html, DOCTYPE};

/// Where the ACS sends an admin back to.
pub const RETURN_PATH: &str = "/console/sso";

pub(super) async fn start(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    req: Request,
) -> ConsoleResult {
    let (parts, body) = req.into_parts();
    let form = match read_form(body, &rid).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    if !double_submit_ok(&parts.headers, &form) {
        return Ok(csrf_refused(&rid));
    }
    let csrf = form.get(CSRF_FIELD).unwrap_or_default().to_string();
    let email = form.get("email").unwrap_or_default();
    Ok(match state.sso.login_url_for_email(email).await {
        Ok(url) => leave_for(&format!("{url}?return_to={}", urlencode(RETURN_PATH))),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::NotFound) => {
            let status = if e.kind == ErrorKind::Invalid {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NOT_FOUND
            };
            super::login::page_with_sso_error(status, &csrf, email, &e.detail)
        }
        Err(e) => internal_page(&e),
    })
}

/// A page that moves on to the organization's sign-in, rather than a redirect: the console's
/// CSP says `form-action 'self'` and browsers apply it to a form's redirect chain, which here
/// would end at the IdP. A meta refresh is a navigation of its own; the link is for browsers
/// that ignore it.
fn leave_for(sign_in_url: &str) -> Response {
    html_response(
        StatusCode::OK,
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta http-equiv="refresh" content={ "0;url=" (sign_in_url) };
                    title { "Signing in · Portcullis console" }
                    link rel="stylesheet" href="/console/static/console.css";
                }
                body {
                    main {
                        h1 { "Signing in through your organization's SSO" }
                        p { a #continue-to-idp href=(sign_in_url) { "Continue to your organization's sign-in" } }
                    }
                }
            }
        },
    )
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) async fn finish(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    req: Request,
) -> ConsoleResult {
    let Some(me) = crate::saml::browser_session::current_user(&state, req.headers()).await else {
        return Ok(error_page(
            StatusCode::UNAUTHORIZED,
            "Your sign-in through your organization's SSO did not reach the console, or it expired. Start again from the console's sign-in page.",
            &rid,
        ));
    };
    Ok(
        match state.console.sso_sign_in(&me.organization, &me.user).await {
            Ok(SsoConsoleOutcome::SignedIn(signed_in)) => with_cookie(
                continue_page(),
                Some(session_cookie(&state, &signed_in.cookie_secret)),
            ),
            Ok(SsoConsoleOutcome::NotAdmin(message)) => {
                error_page(StatusCode::FORBIDDEN, &message, &rid)
            }
            Err(e) => internal_page(&e),
        },
    )
}

/// The answer that sets the console cookie.
///
/// Not a 303 to `/console`: this request ends a redirect chain that began with the IdP's
/// cross-site POST to the ACS, and a browser does not send a SameSite=Strict cookie on a
/// redirect within such a chain, so `/console` would see no session and bounce to the sign-in
/// page. A page of ours that moves on by itself starts a same-site navigation, which carries
/// the cookie. A meta refresh, not a script (the CSP allows no inline script), and a link for
/// browsers that ignore the refresh.
fn continue_page() -> Response {
    html_response(
        StatusCode::OK,
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta http-equiv="refresh" content="0;url=/console";
                    title { "Signed in · Portcullis console" }
                    link rel="stylesheet" href="/console/static/console.css";
                }
                body {
                    main {
                        h1 { "Signed in" }
                        p { a #continue-to-console href="/console" { "Continue to the console" } }
                    }
                }
            }
        },
    )
}
