//! Validation and metadata parsing answer every input with a value or an error.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use base64::Engine;
use proptest::prelude::*;
use saml::{validate_response, validate_response_xml, IdpMetadata, ValidationContext};
use time::macros::datetime;
use time::Duration;

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn with_ctx<R>(f: impl FnOnce(&ValidationContext<'_>) -> R) -> R {
    let now = datetime!(2026-11-01 10:01 UTC);
    let idp = IdpMetadata::parse(&fixture("idp-metadata.xml"), now).unwrap();
    let sp_key = saml::SpKeyPair::from_pem(&fixture("sp.key"), &fixture("sp.crt")).unwrap();
    let ctx = ValidationContext {
        idp: &idp,
        sp_entity_id: "https://portcullis.example.com/saml/cl1ent",
        acs_url: "https://portcullis.example.com/saml/cl1ent/acs",
        now,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: Some("_5f2b0c8e4d1a49b6a7c3e9f01d2b3c4d"),
        sp_key: Some(&sp_key),
    };
    f(&ctx)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        with_ctx(|ctx| {
            prop_assert!(validate_response(&encoded, ctx).is_err());
            Ok(())
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let _ = IdpMetadata::parse(&text, datetime!(2026-11-01 10:01 UTC));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,512}") {
        with_ctx(|ctx| {
            let _ = validate_response(&s, ctx);
            let _ = validate_response_xml(&s, ctx);
        });
    }

    // One byte of a valid response changed: never a panic, and if it still
    // passes (a byte in ignored KeyInfo, say) the claims are the signed ones.
    #[test]
    fn mutated_valid_response_keeps_its_claims(
        pos in 0usize..12000,
        byte in any::<u8>(),
        encrypted in any::<bool>(),
    ) {
        let name = if encrypted {
            "encrypted-aes256cbc-oaep-mgf1p.xml"
        } else {
            "okta-sp-initiated.xml"
        };
        let mut xml = fixture(name).into_bytes();
        let i = pos % xml.len();
        xml[i] = byte;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&xml);
        with_ctx(|ctx| {
            if let Ok(a) = validate_response(&encoded, ctx) {
                prop_assert_eq!(a.name_id.as_str(), "alice@example.com");
                prop_assert_eq!(a.attribute("email"), Some("alice@example.com"));
            }
            Ok(())
        })?;
    }
}
