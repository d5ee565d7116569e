//! One error type per surface, each rendered in its surface's format, each built from the
//! directory's error in one place (`From<directory::Error>`) so handlers just use `?`:
//!
//! - [`ScimErrorResponse`]: `/scim/v2`, the SCIM error JSON (RFC 7644 §3.12);
//! - [`ApiError`]: `/api/v1`, `application/problem+json` (RFC 9457);
//! - [`SamlPageError`]: the SAML browser pages, an HTML page (see [`super::pages`]).
//!
//! The console's HTML error (`console::ConsolePageError`) lives with the console's page frame.
//! Every body carries the request id as its reference (read from the task, see
//! [`RequestId::current`]); internal details go to the log with it, never to the client.

use super::pages::error_page;
use super::request_id::RequestId;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::ErrorKind;
use serde_json::{json, Value};

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// A SCIM JSON answer.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = (status, Bytes::from(bytes)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    res
}

/// A refusal of a `/scim/v2` request.
#[derive(Debug)]
pub struct ScimErrorResponse {
    error: scim::ScimError,
    www_authenticate: bool,
    /// `Retry-After` seconds of a refusal for load (429).
    retry_after: Option<u64>,
}

impl ScimErrorResponse {
    /// A 401 with the `WWW-Authenticate` challenge.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        ScimErrorResponse {
            error: scim::ScimError::new(401, None, detail),
            www_authenticate: true,
            retry_after: None,
        }
    }

    /// A refusal with this status and no `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        scim::ScimError::new(status, None, detail).into()
    }
}

impl From<scim::ScimError> for ScimErrorResponse {
    fn from(error: scim::ScimError) -> Self {
        ScimErrorResponse {
            error,
            www_authenticate: false,
            retry_after: None,
        }
    }
}

impl From<directory::Error> for ScimErrorResponse {
    fn from(e: directory::Error) -> Self {
        if e.status() >= 500 {
            tracing::error!(request_id = %RequestId::current(), detail = %e.detail, "internal error");
        }
        ScimErrorResponse {
            error: e.to_scim(),
            www_authenticate: e.status() == 401,
            retry_after: e.retry_after_seconds(),
        }
    }
}

impl IntoResponse for ScimErrorResponse {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = self.error.to_json(Some(&RequestId::current().0));
        let mut res = scim_json(status, &body);
        if self.www_authenticate {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"Portcullis SCIM\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        res
    }
}

/// A refusal of an `/api/v1` request: an RFC 9457 problem.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }
}

impl From<directory::Error> for ApiError {
    fn from(e: directory::Error) -> Self {
        if e.kind == ErrorKind::Internal {
            tracing::error!(request_id = %RequestId::current(), detail = %e.detail, "internal error");
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::new(status, e.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "request_id": RequestId::current().0,
        });
        let mut res = (self.status, Bytes::from(body.to_string())).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"Portcullis admin API\""),
            );
        }
        res
    }
}

/// A refusal on a SAML browser page: the plain message and the request id as reference; the
/// admin-readable reason is in the audit log.
#[derive(Debug)]
pub struct SamlPageError {
    status: StatusCode,
    message: String,
}

impl SamlPageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        SamlPageError {
            status,
            message: message.into(),
        }
    }
}

impl From<directory::Error> for SamlPageError {
    fn from(e: directory::Error) -> Self {
        if e.kind == ErrorKind::Internal {
            tracing::error!(request_id = %RequestId::current(), detail = %e.detail, "internal error");
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        SamlPageError::new(status, e.detail)
    }
}

impl IntoResponse for SamlPageError {
    fn into_response(self) -> Response {
        error_page(self.status, &self.message, &RequestId::current().0)
    }
}
