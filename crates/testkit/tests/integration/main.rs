//! The one HTTP integration test binary: a server in process per test, a fresh organization
//! per test, every scenario on SQLite and (when configured) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acs_throttle;
mod browser;
mod console;
mod console_admins;
mod console_audit;
mod console_groups;
mod console_saml;
mod console_throttle;
mod console_tokens;
mod console_users;
mod deep_input;
mod entra;
mod error_formats;
mod identity;
mod idp_server;
mod login_domains;
mod okta;
mod protocol;
mod scans;
mod slow_clients;
mod sso;
mod tokens;
mod walkthrough;
mod write_cost;
