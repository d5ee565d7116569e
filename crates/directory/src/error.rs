//! One error type for the domain, rendered per surface (SCIM JSON, problem+json, HTML).

use crate::store::StoreError;
use scim::{ScimError, ScimType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Forbidden,
    Unauthenticated,
    PreconditionFailed,
    TooLarge,
    /// The work is bounded and every slot is taken (password hashing, or an organization's
    /// scans): the client should retry after [`Error::retry_after_seconds`] (429).
    Busy,
    Internal,
}

/// A domain error. `detail` is safe to show to the client; internal causes are logged by
/// the store with the request id and never reach `detail`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind:?}: {detail}")]
pub struct Error {
    pub kind: ErrorKind,
    pub detail: String,
    pub scim_type: Option<ScimType>,
}

impl Error {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Error {
            kind,
            detail: detail.into(),
            scim_type: None,
        }
    }
    pub fn with_scim_type(mut self, t: ScimType) -> Self {
        self.scim_type = Some(t);
        self
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, detail)
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, detail)
    }

    /// The HTTP status every surface uses for this error.
    pub fn status(&self) -> u16 {
        match self.kind {
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Invalid => 400,
            ErrorKind::Forbidden => 403,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::PreconditionFailed => 412,
            ErrorKind::TooLarge => 413,
            ErrorKind::Busy => 429,
            ErrorKind::Internal => 500,
        }
    }

    /// What a refusal for load tells the client to wait (`Retry-After`), in seconds.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        (self.kind == ErrorKind::Busy).then_some(crate::scan::SCAN_RETRY_AFTER_SECONDS)
    }

    pub fn to_scim(&self) -> ScimError {
        ScimError::new(self.status(), self.scim_type, self.detail.clone())
    }
}

impl From<ScimError> for Error {
    fn from(e: ScimError) -> Self {
        let kind = match e.status {
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::Forbidden,
            412 => ErrorKind::PreconditionFailed,
            413 => ErrorKind::TooLarge,
            429 => ErrorKind::Busy,
            500..=599 => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        };
        Error {
            kind,
            detail: e.detail,
            scim_type: e.scim_type,
        }
    }
}

/// What a store's failure means to the caller. A backend fault is logged here, once, and the
/// client sees only that the request could not be completed.
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::not_found("not found"),
            StoreError::Conflict(what) => Error::conflict(format!("{what} is already taken")),
            StoreError::VersionMismatch => Error::new(
                ErrorKind::PreconditionFailed,
                "the resource changed since it was read",
            ),
            StoreError::UnknownMember(id) => {
                Error::invalid(format!("member {id} is not a user of this organization"))
            }
            StoreError::Refused(e) => *e,
            StoreError::Backend(msg) => {
                tracing::error!(error = %msg, "store failure");
                Error::internal("the directory could not complete the request; try again")
            }
        }
    }
}
