//! Extractors whose refusals speak their surface's language.
//!
//! axum's own extractors (`Path`, `Bytes`) answer a request they cannot read with a
//! plain-text body and none of our headers: a path segment that is not UTF-8 once
//! percent-decoded (`/scim/v2/Users/%FF`) or a body past the limit would get
//! `text/plain` on every surface. These wrap them and turn each refusal into the error
//! of the surface the route belongs to: a SCIM error (`invalidValue`) under `/scim/v2`,
//! `application/problem+json` under `/api/v1`, an HTML page with the page headers (CSP
//! and the rest) on the SAML pages. The console's handlers take
//! `Result<Path<_>, PathRejection>` and treat an unreadable id as an unknown one.
//!
//! The extractors that authenticate a caller live with their surface: `scim::caller`
//! (a SCIM token), `api::operator` (an operator key), `console::session` (a console admin).

use super::errors::{ApiError, ScimErrorResponse};
use super::pages::error_page;
use super::request_id::RequestId;
use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, Extensions, StatusCode};
use axum::response::Response;
use scim::ScimError;
use serde::de::DeserializeOwned;

/// Largest request body of the admin API (`/api/v1`): JSON objects of a few fields, and IdP
/// metadata (itself refused past 256 KiB). Larger bodies get 413 problem+json unread.
pub const API_BODY_LIMIT: usize = 2 * 1024 * 1024;

pub(crate) fn request_id(extensions: &Extensions) -> RequestId {
    RequestId::of(extensions)
}

/// Why the path parameters could not be read, as a status and a sentence for the client.
/// A 500 is a route declared with the wrong parameters: a bug of ours, logged.
fn path_refusal(rejection: &PathRejection, rid: &RequestId) -> (StatusCode, String) {
    if let PathRejection::FailedToDeserializePathParams(failed) = rejection {
        if let ErrorKind::InvalidUtf8InPathParam { key } = failed.kind() {
            return (
                StatusCode::BAD_REQUEST,
                format!(
                    "the `{key}` part of the address is not UTF-8 text once percent-decoded \
                     (%XX escapes must spell UTF-8)"
                ),
            );
        }
        if failed.status() == StatusCode::BAD_REQUEST {
            return (
                StatusCode::BAD_REQUEST,
                format!("the address cannot be read: {}", failed.body_text()),
            );
        }
    }
    tracing::error!(request_id = %rid.0, detail = %rejection.body_text(), "route parameters do not fit the handler");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server could not read the route's parameters".to_string(),
    )
}

async fn path_params<T, S>(
    parts: &mut Parts,
    state: &S,
) -> Result<T, (RequestId, StatusCode, String)>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    match Path::<T>::from_request_parts(parts, state).await {
        Ok(Path(value)) => Ok(value),
        Err(rejection) => {
            let rid = request_id(&parts.extensions);
            let (status, detail) = path_refusal(&rejection, &rid);
            Err((rid, status, detail))
        }
    }
}

/// Path parameters of a `/scim/v2` route; a refusal is a SCIM error, 400 `invalidValue`.
pub struct ScimPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ScimPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ScimErrorResponse;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_params(parts, state)
            .await
            .map(ScimPath)
            .map_err(|(_, status, detail)| {
                if status == StatusCode::BAD_REQUEST {
                    ScimError::invalid_value(detail).into()
                } else {
                    ScimErrorResponse::status(status.as_u16(), detail)
                }
            })
    }
}

/// Path parameters of an `/api/v1` route; a refusal is problem+json.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_params(parts, state)
            .await
            .map(ApiPath)
            .map_err(|(_, status, detail)| ApiError::new(status, detail))
    }
}

/// Path parameters of a SAML page (`/saml/…`); a refusal is an HTML page with the page
/// headers.
pub struct PagePath<T>(pub T);

impl<T, S> FromRequestParts<S> for PagePath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        path_params(parts, state)
            .await
            .map(PagePath)
            .map_err(|(rid, status, detail)| {
                let message = format!("This address cannot be right: {detail}.");
                error_page(status, &message, &rid.0)
            })
    }
}

/// The whole body of an `/api/v1` request, at most [`API_BODY_LIMIT`] bytes; a refusal is
/// problem+json (413 past the limit).
pub struct ApiBody(pub Bytes);

impl<S> FromRequest<S> for ApiBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than the {API_BODY_LIMIT} bytes the admin API accepts"),
            )
        };
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > API_BODY_LIMIT as u64) {
            return Err(too_large());
        }
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBody(bytes)),
            Err(BytesRejection::FailedToBufferBody(failed))
                if failed.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(too_large())
            }
            Err(rejection) => Err(ApiError::bad_request(format!(
                "the request body could not be read: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// A JSON body of an `/api/v1` request, read as [`ApiBody`] and parsed into `T`; a body that
/// is not the expected JSON is a 400 problem.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiBody(bytes) = ApiBody::from_request(req, state).await?;
        parse_api_json(&bytes).map(ApiJson)
    }
}

/// An API body parsed as `T`, for a handler that reads the body itself (an optional one).
pub fn parse_api_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("the request body is not the expected JSON: {e}"))
    })
}

/// The `Authorization` header as text: `Ok(None)` when absent, `Err` when not readable.
pub fn bearer_value(parts: &Parts) -> Result<Option<&str>, header::ToStrError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value.to_str().map(Some)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::{get, post};
    use axum::Router;
    use tower::ServiceExt as _;

    async fn call(router: Router, req: axum::http::Request<Body>) -> (StatusCode, String, String) {
        let res = router.oneshot(req).await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn an_api_body_past_the_limit_is_a_413_problem_declared_or_not() {
        async fn echo(ApiBody(body): ApiBody) -> String {
            body.len().to_string()
        }
        let router = Router::new()
            .route("/", post(echo))
            .layer(axum::extract::DefaultBodyLimit::max(API_BODY_LIMIT));
        // Built by hand, the request declares no length: the limit is found while reading.
        let big = axum::http::Request::post("/")
            .body(Body::from(vec![b'x'; API_BODY_LIMIT + 1]))
            .unwrap();
        let (status, content_type, body) = call(router.clone(), big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(content_type, "application/problem+json");
        assert!(body.contains(&API_BODY_LIMIT.to_string()), "{body}");
        let declared = axum::http::Request::post("/")
            .header("content-length", (API_BODY_LIMIT + 1).to_string())
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            call(router.clone(), declared).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let fits = axum::http::Request::post("/")
            .body(Body::from(vec![b'x'; API_BODY_LIMIT]))
            .unwrap();
        let (status, _, body) = call(router, fits).await;
        assert_eq!((status, body), (StatusCode::OK, API_BODY_LIMIT.to_string()));
    }

    #[tokio::test]
    async fn a_route_declared_with_the_wrong_parameters_is_a_500_in_the_surface_format() {
        async fn two(ApiPath((_a, _b)): ApiPath<(String, String)>) -> &'static str {
            "unreachable"
        }
        let router = Router::new().route("/{a}", get(two));
        let req = axum::http::Request::get("/x").body(Body::empty()).unwrap();
        let (status, content_type, _) = call(router, req).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(content_type, "application/problem+json");
    }
}
