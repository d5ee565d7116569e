//! The Portcullis server: the `portcullis` binary's library — configuration, the command line,
//! and the HTTP surfaces over the `directory` crate's services.
//!
//! Modules, in the order they depend on one another (a test, `tests/module_graph.rs`, keeps
//! the graph acyclic):
//! - [`state`]: `AppState` (the services, built once on a store and a clock) and
//!   `ServerConfig`; imports no router and no handler.
//! - [`http`]: what the surfaces share — the request id, one error type per surface with its
//!   rendering, the extractors (SCIM caller, operator, paths and bodies in the surface's own
//!   format), the SAML pages, cookies, the serving loop, the ACS throttle, metrics.
//! - the surfaces, one module per noun inside each: [`scim`] (`/scim/v2`), [`api`] (the
//!   operator's `/api/v1`), [`saml`] (sign-in pages and the SAML browser session), [`console`]
//!   (the console admins' HTML console and its session).
//! - [`health`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`app`]: the router over every surface; [`cli`]: the command line, which builds the system
//!   clock (time is a parameter everywhere else).
//!
//! Handlers are thin: extractors authenticate and check CSRF, the handler calls one service
//! method of the `directory` crate and returns `Result<_, SurfaceError>` with `?`.
//!
//! Decisions worth knowing:
//! - One error type per surface, each `From<directory::Error>`: `http::errors::ScimErrorResponse`
//!   (SCIM error JSON), `http::errors::ApiError` (problem+json), `http::errors::SamlPageError`
//!   and `console::ConsolePageError` (HTML pages; every error kind mapped on purpose).
//! - The request id reaches every error body through the task, not through the handlers:
//!   `http::observability::track` makes it the task's current id (see [`http::request_id`]).
//! - "Operator" is whoever holds an operator key (`/api/v1`); a "console admin" signs in to one
//!   organization's console. The SAML browser session (`saml::browser_session`) and the console
//!   session (`console::session`) are two cookies with two names.
//! - Extractors run in the order of a handler's arguments, so refusals come in a fixed order:
//!   a path that cannot be read, then who is calling, then the body.

pub mod api;
pub mod app;
pub mod cli;
pub mod console;
pub mod health;
pub mod http;
pub mod saml;
pub mod scim;
pub mod state;

pub use app::build_router;
pub use state::{open_store, runtime, AppState, ServerConfig, WORKER_STACK_SIZE};
