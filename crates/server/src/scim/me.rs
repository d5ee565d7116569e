//! `/Me`: for a browser session, GET answers the signed-in user's resource. A SCIM token
//! acts for an identity provider, not a person, so with a valid bearer token it stays 501.
//! Without either (or with a token we do not know) it is 401, the client's error.

use super::caller::AuthenticatedCaller;
use super::{with_etag, ScimResult};
use crate::http::errors::{scim_json, ScimErrorResponse};
use crate::saml::browser_session;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, Method, StatusCode};

pub(super) async fn me(State(state): State<AppState>, req: Request) -> ScimResult {
    let (mut parts, _) = req.into_parts();
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        let Some(me) = browser_session::current_user(&state, &parts.headers).await else {
            return Err(ScimErrorResponse::unauthenticated(
                "/Me needs a signed-in session: sign in through your organization's identity provider at /login",
            ));
        };
        if parts.method != Method::GET {
            return Err(ScimErrorResponse::status(
                405,
                "a signed-in session may only read /Me (GET); changes come from the identity provider",
            ));
        }
        let (body, tag) = state
            .scim
            .user_for_session(me.user.org_id, me.user.id)
            .await?;
        return Ok(with_etag(scim_json(StatusCode::OK, &body), &tag));
    }
    AuthenticatedCaller::from_request_parts(&mut parts, &state).await?;
    Err(ScimErrorResponse::status(
        501,
        "/Me needs a signed-in session; SCIM tokens act for an identity provider, not a person",
    ))
}
