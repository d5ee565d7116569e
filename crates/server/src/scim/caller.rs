//! The SCIM caller: an identity provider, authenticated by the SCIM token of its
//! `Authorization: Bearer` header.

use crate::http::errors::ScimErrorResponse;
use crate::http::extract::{bearer_value, request_id};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use directory::scim_service::ScimCaller;

/// The identity provider calling `/scim/v2`, authenticated by the SCIM token of its
/// `Authorization: Bearer` header; a refusal is a SCIM 401 with `WWW-Authenticate`.
pub struct AuthenticatedCaller(pub ScimCaller);

impl FromRequestParts<AppState> for AuthenticatedCaller {
    type Rejection = ScimErrorResponse;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = bearer_value(parts)
            .map_err(|_| ScimErrorResponse::unauthenticated("the Authorization header is not readable text"))?
            .ok_or_else(|| ScimErrorResponse::unauthenticated("this endpoint needs an Authorization: Bearer <SCIM token> header; generate a token with `portcullis token create`"))?;
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ScimErrorResponse::unauthenticated(
                "the Authorization header must be `Bearer <SCIM token>`",
            ));
        }
        let token = state.scim.authenticate(token.trim()).await?;
        let caller = ScimCaller {
            org: token.org_id,
            token,
            request_id: Some(request_id(&parts.extensions).0),
        };
        // For the body extractor, which charges a large body to the caller's organization.
        parts.extensions.insert(caller.clone());
        Ok(AuthenticatedCaller(caller))
    }
}
