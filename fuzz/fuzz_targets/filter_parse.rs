//! Arbitrary bytes as a filter: parsing never panics; what parses prints back to a filter
//! that parses to the same AST; evaluation against a realistic user never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_fuzz::on_worker_stack(data, run));

/// One input, on a thread with the server's stack size.
fn run(data: &[u8]) {
    if let Ok(input) = std::str::from_utf8(data) {
        scim_fuzz::check_filter(input);
        // The same grammar backs PATCH paths; a path that parses prints back the same.
        if let Ok(path) = scim::path::parse_patch_path(input) {
            let printed = path.to_string();
            let again = scim::path::parse_patch_path(&printed)
                .unwrap_or_else(|e| panic!("printed path {printed:?} does not parse: {e}"));
            assert_eq!(again, path, "path round trip; printed: {printed}");
        }
    }
}
