//! The console's error: every failure of the directory a console handler meets with `?`,
//! rendered as a console page with the request id as reference. Each kind is mapped on
//! purpose, so a kind a handler forgot never turns into a misleading "try again".

use super::{busy_page, error_page};
use crate::http::request_id::RequestId;
use axum::http::StatusCode;
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
            ErrorKind::Busy => return busy_page(&rid),
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
