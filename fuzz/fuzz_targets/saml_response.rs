//! A SAML Response as it reaches the ACS, validated against fixed IdP metadata and SP key (the
//! fixtures of crates/saml, made by an independent IdP). Seeded with those fixtures, the
//! fuzzer mutates real signed responses: nothing may panic, and anything accepted must have
//! passed the signature check, so a mutation of a signed claim is never accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/saml/tests/fixtures/");

struct Setup {
    idp: saml::IdpMetadata,
    sp_key: saml::SpKeyPair,
    now: time::OffsetDateTime,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let read = |name: &str| {
            std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        // The instant the fixtures were made for (crates/saml/tests/responses.rs).
        let now = time::macros::datetime!(2026-11-01 10:01 UTC);
        Setup {
            idp: saml::IdpMetadata::parse(&read("idp-metadata-rotation.xml"), now).unwrap(),
            sp_key: saml::SpKeyPair::from_pem(&read("sp.key"), &read("sp.crt")).unwrap(),
            now,
        }
    })
}

fuzz_target!(|data: &[u8]| scim_fuzz::on_worker_stack(data, run));

/// One input, on a thread with the server's stack size.
fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    scim_fuzz::check_xml_depth(text);
    let s = setup();
    for expected in [None, Some("_5f2b0c8e4d1a49b6a7c3e9f01d2b3c4d")] {
        let ctx = saml::ValidationContext {
            idp: &s.idp,
            sp_entity_id: "https://portcullis.example.com/saml/cl1ent",
            acs_url: "https://portcullis.example.com/saml/cl1ent/acs",
            now: s.now,
            max_clock_skew: time::Duration::minutes(3),
            expected_in_response_to: expected,
            sp_key: Some(&s.sp_key),
        };
        if let Ok(assertion) = saml::validate_response_xml(text, &ctx) {
            assert!(!assertion.name_id.is_empty());
            assert!(!assertion.assertion_id.is_empty());
        }
    }
}
