//! Test support shared by the integration tests and benchmarks.
//!
//! - [`store_suite`]: the scripted tests every `Store` backend must pass.
//! - [`server`]: a Portcullis server in process on 127.0.0.1:0 with a fresh organization.
//! - [`test_idp`]: an independent SAML IdP (Python signxml) and the `xmlsec1` oracle.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod server;
pub mod store_suite;
pub mod test_idp;
