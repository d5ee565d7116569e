//! What every surface shares about HTTP: the request id, the error type of each surface and
//! its rendering, the extractors, the small HTML pages outside the console, cookies, the
//! serving loop with its timeouts, the ACS throttle, metrics and health.
//!
//! Nothing here imports a surface (`scim`, `api`, `saml`, `console`) or the router.

pub mod audit_query;
pub mod cookies;
pub mod errors;
pub mod extract;
pub mod observability;
pub mod pages;
pub mod request_id;
pub mod serving;
pub mod throttle;
