//! The signed-in person's pages: `/me` (who they are, their groups) and `/logout`.

use super::browser_session::{clear_session_cookie, cookie_secret, current_user};
use crate::http::pages::{escape, page};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use directory::sso::SessionUser;
use serde_json::json;

pub(super) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
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
    if let Ok(v) = HeaderValue::from_str(&clear_session_cookie(&state)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

pub(super) async fn me_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
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
