//! Test support shared by the integration tests and benchmarks.
//!
//! - [`store_suite`]: the scripted tests every `Store` backend must pass.
//! - [`server`]: a Portcullis server in process on 127.0.0.1:0 with a fresh organization.
//! - [`test_idp`]: an independent SAML IdP (Python signxml) and the `xmlsec1` oracle.
//! - [`ManualClock`]: the clock tests move by hand, given to the server and the stores.
//! - [`chrome`]: headless Chromium over WebDriver, for the browser walkthrough.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod chrome;
pub mod clock;
pub mod dns;
pub mod server;
pub mod store_suite;
pub mod test_idp;

pub use clock::ManualClock;

/// The workspace root (crates/testkit → ../..), where the scripts are.
pub(crate) fn repo_root() -> std::path::PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match manifest_dir.ancestors().nth(2) {
        Some(root) => root.to_path_buf(),
        None => manifest_dir.join("../.."),
    }
}
