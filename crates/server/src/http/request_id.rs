//! The id of a request: assigned by [`super::observability::track`], echoed in
//! `X-Request-Id`, in every error body and in the logs.
//!
//! `track` also makes it the task's current request id while the request is answered, so an
//! error raised with `?` anywhere below renders its reference without every handler threading
//! the id to it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Extensions;
use std::convert::Infallible;
use std::future::Future;

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What a request outside `track` (a router under test without it) is called.
const UNKNOWN: &str = "-";

tokio::task_local! {
    static CURRENT: RequestId;
}

impl RequestId {
    /// The id `track` put on the request, or `-` when it did not run.
    pub fn of(extensions: &Extensions) -> RequestId {
        extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(UNKNOWN.to_string()))
    }

    /// The id of the request this task is answering, or `-` outside one.
    pub fn current() -> RequestId {
        CURRENT
            .try_with(RequestId::clone)
            .unwrap_or_else(|_| RequestId(UNKNOWN.to_string()))
    }

    /// Runs `answer` with this id as the task's current one.
    pub async fn scope<F: Future>(self, answer: F) -> F::Output {
        CURRENT.scope(self, answer).await
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestId::of(&parts.extensions))
    }
}
