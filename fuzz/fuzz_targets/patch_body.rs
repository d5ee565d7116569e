//! Arbitrary bytes as a PATCH body: parse as JSON, then as a PatchOp request, then apply to
//! a realistic user and group. Never panics; a refused PATCH leaves the document unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| scim_fuzz::on_worker_stack(data, run));

/// One input, on a thread with the server's stack size.
fn run(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = scim::patch::parse_patch_request(&body) else {
        return;
    };
    scim_fuzz::check_ops(&ops);
}
