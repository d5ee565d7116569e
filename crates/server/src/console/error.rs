//! The console's error: every failure of the directory a console handler meets with `?`,
//! rendered as a console page with the request id as reference. Each kind is mapped on
//! purpose, so a kind a handler forgot never turns into a misleading "try again".

use super::error_page;
use crate::http::request_id::RequestId;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::ErrorKind;

/// What a console handler answers.
pub(crate) type ConsoleResult = Result<Response, ConsolePageError>;

#[derive(Debug)]
pub(crate) struct ConsolePageError(directory::Error);

impl From<directory::Error> for ConsolePageError {
    fn from(e: directory::Error) -> Self {
        ConsolePageError(e)
    }
}

impl IntoResponse for ConsolePageError {
    fn into_response(self) -> Response {
        let rid = RequestId::current().0;
        let e = self.0;
        let status = match e.kind {
            ErrorKind::Busy => {
                let mut res = error_page(StatusCode::TOO_MANY_REQUESTS, &e.detail, &rid);
                if let Some(seconds) = e.retry_after_seconds() {
                    res.headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                return res;
            }
            ErrorKind::Internal => {
                tracing::error!(request_id = %rid, detail = %e.detail, "console request failed");
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The console could not complete this request. The reference below finds it in the server's log.",
                    &rid,
                );
            }
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        };
        error_page(status, &e.detail, &rid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(kind: ErrorKind) -> StatusCode {
        ConsolePageError::from(directory::Error::new(kind, "why"))
            .into_response()
            .status()
    }

    #[test]
    fn every_kind_has_its_own_page_and_none_says_try_again_for_a_fault() {
        assert_eq!(
            status_of(ErrorKind::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(status_of(ErrorKind::Busy), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status_of(ErrorKind::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status_of(ErrorKind::Conflict), StatusCode::CONFLICT);
        assert_eq!(status_of(ErrorKind::Invalid), StatusCode::BAD_REQUEST);
        assert_eq!(status_of(ErrorKind::Forbidden), StatusCode::FORBIDDEN);
        assert_eq!(
            status_of(ErrorKind::Unauthenticated),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            status_of(ErrorKind::PreconditionFailed),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            status_of(ErrorKind::TooLarge),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
