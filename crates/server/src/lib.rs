//! The Portcullis server: configuration, the command line, and the HTTP surfaces.
//!
//! Handlers are thin: they extract, call one service method of the `directory` crate, and
//! render its result or error in their surface's format.

pub mod api;
pub mod api_groups;
pub mod api_users;
pub mod app;
pub mod audit_filter;
pub mod cli;
pub mod console;
pub mod extract;
pub mod observability;
pub mod scim_routes;
pub mod serving;
pub mod session;
pub mod sso_routes;
pub mod throttle;

pub use app::{build_router, open_store, runtime, AppState, ServerConfig, WORKER_STACK_SIZE};
