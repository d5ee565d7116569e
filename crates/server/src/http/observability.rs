//! The tracking middleware (request id, log line, metrics) and the Prometheus recorder.

pub use super::request_id::RequestId;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the global Prometheus recorder once per process.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .ok()
                .and_then(|b| b.install_recorder().ok())
        })
        .as_ref()
}

fn incoming_id(req: &Request) -> Option<String> {
    let v = req.headers().get("x-request-id")?.to_str().ok()?;
    // Only short, printable ids are echoed back; anything else is replaced.
    (v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    .then(|| v.to_string())
}

/// The route label of a request no route matched. Every other route label is a route
/// template of the router (`/scim/v2/Users/{id}`), never a path the client chose.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The method label of every method outside [`LABELLED_METHODS`]: hyper accepts any token as a
/// method, and a label per made-up method would grow the metrics without bound (see
/// [`method_label`]).
pub const OTHER_METHOD: &str = "other";

/// The status label of a status code outside 100..=599 (the `http` crate allows up to 999).
pub const OTHER_STATUS: &str = "other";

/// The metrics label of a request method: the methods of RFC 9110 and PATCH (RFC 5789) by
/// name, every other one [`OTHER_METHOD`].
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => OTHER_METHOD,
    }
}

/// The metrics label of a response status: its number within 100..=599, else [`OTHER_STATUS`].
pub fn status_label(status: u16) -> String {
    if (100..=599).contains(&status) {
        status.to_string()
    } else {
        OTHER_STATUS.to_string()
    }
}

/// Assigns the request id, logs the request, and records its metrics.
pub async fn track(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED_ROUTE.into());
    let method_label = method_label(req.method());
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let mut res = RequestId(id.clone()).scope(next.run(req)).await;
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    // The matched route is known only after routing: nested routers put it on the response.
    let route = res
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .unwrap_or(route);
    if prometheus().is_some() {
        metrics::counter!("portcullis_http_requests_total", "route" => route.clone(), "method" => method_label, "status" => status_label(status)).increment(1);
        metrics::histogram!("portcullis_http_request_duration_seconds", "route" => route, "method" => method_label)
            .record(elapsed.as_secs_f64());
    }
    if is_server_failure(status) {
        tracing::error!(request_id = %id, %method, %path, status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request failed");
    } else {
        tracing::debug!(request_id = %id, %method, %path, status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request");
    }
    res
}

/// Whether an answer means the server failed, and so belongs in the error log. A client's
/// mistake (4xx) is not: any client can send bad requests in bulk, and flooding the error log
/// would hide real failures. Neither is 501, which answers a request the server
/// deliberately does not serve (`/Me` with a SCIM token), not a failure. Those are logged
/// at DEBUG with every other request.
pub fn is_server_failure(status: u16) -> bool {
    status >= 500 && status != 501
}

/// The route template of a request, set by inner routers so metrics group by route.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// Inner-router middleware: copies the matched route onto the response.
pub async fn label_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(r) = route {
        res.extensions_mut().insert(RouteLabel(r));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_failures_are_errors() {
        for client_error in [400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 499] {
            assert!(!is_server_failure(client_error), "{client_error}");
        }
        for fine in [200, 201, 204, 303, 304] {
            assert!(!is_server_failure(fine), "{fine}");
        }
        // Deliberately not served (`/Me` with a SCIM token): the client's doing.
        assert!(!is_server_failure(501));
        for failure in [500, 502, 503, 504] {
            assert!(is_server_failure(failure), "{failure}");
        }
    }
}
