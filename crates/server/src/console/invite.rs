//! `GET|POST /console/invite/{secret}`: an invited admin sets a password and is signed in.

use super::{
    csrf_cookie, csrf_refused, double_submit_ok, double_submit_token, error_page, html_response,
    internal_page, layout, read_form, see_other, session_cookie, with_cookie, ConsoleResult,
    RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use directory::console::{PendingInvite, MIN_PASSWORD_CHARS};
use directory::ErrorKind;
use maud::{html, Markup};

const UNKNOWN: &str = "This invitation link is not valid: it was already used, it expired (links work for 7 days), or it was mistyped. Ask an admin of your organization for a new one.";

fn invite_form(secret: &str, pending: &PendingInvite, csrf: &str, message: Option<&str>) -> Markup {
    layout(
        "Set your console password",
        None,
        html! {
            p {
                "You are invited to administer " strong { (pending.organization.name) }
                " as " strong { (pending.email) } "."
            }
            @if let Some(m) = message {
                p.error role="alert" { (m) }
            }
            form.stack method="post" action={ "/console/invite/" (secret) } {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                // Lets password managers file the new password under the right account.
                input type="hidden" name="username" autocomplete="username" value=(pending.email);
                label for="password" { "New password" }
                input #password type="password" name="password" required
                    minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password"
                    aria-describedby="password-help";
                p #password-help .muted {
                    "At least " (MIN_PASSWORD_CHARS) " characters. A passphrase of several words works well."
                }
                label for="confirm" { "Confirm the password" }
                input #confirm type="password" name="confirm" required
                    minlength=(MIN_PASSWORD_CHARS) autocomplete="new-password";
                button type="submit" { "Set password and sign in" }
            }
        },
    )
}

pub(super) async fn form(
    State(state): State<AppState>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    RequestId(rid): RequestId,
    req: Request,
) -> ConsoleResult {
    let Ok(Path(secret)) = path else {
        return Ok(error_page(StatusCode::NOT_FOUND, UNKNOWN, &rid));
    };
    let pending = match state.console.pending_invite(&secret).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(error_page(StatusCode::NOT_FOUND, UNKNOWN, &rid)),
        Err(e) => return Err(e.into()),
    };
    let headers: &HeaderMap = req.headers();
    let (csrf, set) = double_submit_token(headers);
    Ok(with_cookie(
        html_response(StatusCode::OK, invite_form(&secret, &pending, &csrf, None)),
        set.map(|v| csrf_cookie(&state, &v)),
    ))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
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
    let Ok(Path(secret)) = path else {
        return Ok(error_page(StatusCode::NOT_FOUND, UNKNOWN, &rid));
    };
    let pending = match state.console.pending_invite(&secret).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(error_page(StatusCode::NOT_FOUND, UNKNOWN, &rid)),
        Err(e) => return Err(e.into()),
    };
    let csrf = form.get(CSRF_FIELD).unwrap_or_default().to_string();
    let (Some(password), Some(confirm)) = (form.required("password"), form.required("confirm"))
    else {
        return Ok(html_response(
            StatusCode::BAD_REQUEST,
            invite_form(
                &secret,
                &pending,
                &csrf,
                Some("Type the new password twice."),
            ),
        ));
    };
    Ok(
        match state
            .console
            .accept_invite(&secret, password, confirm)
            .await
        {
            Ok(Some(signed_in)) => see_other(
                "/console",
                Some(session_cookie(&state, &signed_in.cookie_secret)),
            ),
            Ok(None) => error_page(StatusCode::NOT_FOUND, UNKNOWN, &rid),
            Err(e) if e.kind == ErrorKind::Invalid => html_response(
                StatusCode::BAD_REQUEST,
                invite_form(&secret, &pending, &csrf, Some(&e.detail)),
            ),
            Err(e) if e.kind == ErrorKind::Busy => super::busy_page(&rid),
            Err(e) => internal_page(&e),
        },
    )
}
