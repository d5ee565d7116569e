//! The operator: whoever holds an operator key (`portcullis admin-key create`) and calls
//! `/api/v1`. Not a console admin, who signs in to one organization's console.

use crate::http::errors::ApiError;
use crate::http::extract::bearer_value;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use directory::model::AdminKeyRecord;

/// The operator calling `/api/v1`, authenticated by the operator key of its
/// `Authorization: Bearer` header; a refusal is a 401 problem.
pub struct Operator(pub AdminKeyRecord);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = bearer_value(parts).ok().flatten().ok_or_else(|| {
            ApiError::unauthenticated("send Authorization: Bearer <operator key>; create a key with `portcullis admin-key create`")
        })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "the Authorization header must be `Bearer <operator key>`",
                )
            })?;
        state
            .admin
            .authenticate_admin(token.trim())
            .await?
            .map(Operator)
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "this operator key is not known; create one with `portcullis admin-key create`",
                )
            })
    }
}
