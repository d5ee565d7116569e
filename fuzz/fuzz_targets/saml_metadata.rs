//! IdP metadata as an admin uploads it: any bytes must give metadata or an error, never a
//! panic, and never take unbounded time or memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| scim_fuzz::on_worker_stack(data, run));

/// One input, on a thread with the server's stack size.
fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    scim_fuzz::check_xml_depth(text);
    let now = time::OffsetDateTime::from_unix_timestamp(1_793_527_260).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    if let Ok(metadata) = saml::IdpMetadata::parse(text, now) {
        // What the server reads of accepted metadata must be there.
        assert!(!metadata.entity_id.is_empty());
        assert!(!metadata.signing_certificates.is_empty());
    }
}
