//! `POST /console/logout`: ends the console session.

use super::{
    clear_session_cookie, cookie, csrf_refused, current_admin, read_form, see_other,
    session_csrf_ok, ConsoleResult, RequestId, CONSOLE_SESSION_COOKIE, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::{Request, State};

pub(super) async fn submit(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    req: Request,
) -> ConsoleResult {
    let (parts, body) = req.into_parts();
    let form = match read_form(body, &rid).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    // No token at all is refused whether or not there is a session.
    if form.get(CSRF_FIELD).is_none_or(str::is_empty) {
        return Ok(csrf_refused(&rid));
    }
    let Some(ctx) = current_admin(&state, &parts.headers).await else {
        // Nothing to end.
        return Ok(see_other(
            "/console/login",
            Some(clear_session_cookie(&state)),
        ));
    };
    if !session_csrf_ok(&ctx, &form) {
        return Ok(csrf_refused(&rid));
    }
    if let Some(secret) = cookie(&parts.headers, CONSOLE_SESSION_COOKIE) {
        if let Err(e) = state.console.sign_out(&secret).await {
            tracing::warn!(detail = %e.detail, "console sign-out could not delete the session");
        }
    }
    Ok(see_other(
        "/console/login",
        Some(clear_session_cookie(&state)),
    ))
}
