//! Responses made by an independent IdP (tests/fixtures/make_fixtures.py, signxml):
//! the Okta shapes we must accept and one test per attack class we must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use base64::Engine;
use saml::{
    validate_response, IdpMetadata, ResponseError, SpKeyPair, ValidationContext, VerifiedAssertion,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const SP_ENTITY: &str = "https://portcullis.example.com/saml/cl1ent";
const ACS: &str = "https://portcullis.example.com/saml/cl1ent/acs";
const IDP_ENTITY: &str = "http://www.okta.com/exk1fixture0000000001";
const REQUEST_ID: &str = "_5f2b0c8e4d1a49b6a7c3e9f01d2b3c4d";
const NOW: OffsetDateTime = datetime!(2026-11-01 10:01 UTC);

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn metadata(name: &str) -> IdpMetadata {
    IdpMetadata::parse(&fixture(name), NOW).unwrap()
}

fn sp_key() -> SpKeyPair {
    SpKeyPair::from_pem(&fixture("sp.key"), &fixture("sp.crt")).unwrap()
}

struct Case {
    metadata: &'static str,
    now: OffsetDateTime,
    expected_in_response_to: Option<&'static str>,
    with_sp_key: bool,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            metadata: "idp-metadata.xml",
            now: NOW,
            expected_in_response_to: Some(REQUEST_ID),
            with_sp_key: true,
        }
    }
}

fn run(file: &str, case: Case) -> Result<VerifiedAssertion, ResponseError> {
    let idp = metadata(case.metadata);
    let key = sp_key();
    let ctx = ValidationContext {
        idp: &idp,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now: case.now,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: case.expected_in_response_to,
        sp_key: case.with_sp_key.then_some(&key),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(fixture(file));
    validate_response(&encoded, &ctx)
}

fn ok(file: &str) -> VerifiedAssertion {
    run(file, Case::default()).unwrap_or_else(|e| panic!("{file}: {e} ({})", e.code()))
}

fn refused(file: &str, case: Case) -> ResponseError {
    match run(file, case) {
        Ok(a) => panic!("{file} was accepted: {a:?}"),
        Err(e) => e,
    }
}

fn refused_default(file: &str) -> ResponseError {
    refused(file, Case::default())
}

// ---------------------------------------------------------------- accepted

#[test]
fn okta_sp_initiated_response_is_accepted() {
    let a = ok("okta-sp-initiated.xml");
    assert_eq!(a.name_id, "alice@example.com");
    assert_eq!(
        a.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
    );
    assert_eq!(a.issuer, IDP_ENTITY);
    assert_eq!(a.in_response_to.as_deref(), Some(REQUEST_ID));
    assert_eq!(a.attribute("email"), Some("alice@example.com"));
    assert_eq!(a.attribute("firstName"), Some("Alice"));
    assert_eq!(a.attribute("lastName"), Some("Example"));
    assert_eq!(a.email_attribute(), Some("alice@example.com"));
    assert_eq!(a.session_index.as_deref(), Some(a.assertion_id.as_str()));
    assert!(a.response_signed);
    assert!(!a.encrypted);
    // SubjectConfirmation and Conditions end at 10:05, plus the skew.
    assert_eq!(a.remember_until, datetime!(2026-11-01 10:08 UTC));
    assert!(a.assertion_id.starts_with("id"));
    assert!(a.response_id.starts_with("id"));
}

#[test]
fn okta_idp_initiated_response_is_accepted_without_in_response_to() {
    let a = run(
        "okta-idp-initiated.xml",
        Case {
            expected_in_response_to: None,
            ..Case::default()
        },
    )
    .unwrap();
    assert_eq!(a.in_response_to, None);
    assert_eq!(a.name_id, "alice@example.com");
}

#[test]
fn assertion_signed_alone_is_accepted() {
    let a = ok("assertion-only-signed.xml");
    assert!(!a.response_signed);
}

#[test]
fn ecdsa_p256_and_rsa_sha512_are_accepted() {
    let a = run(
        "ecdsa.xml",
        Case {
            metadata: "idp-metadata-ec.xml",
            ..Case::default()
        },
    )
    .unwrap();
    assert_eq!(a.name_id, "alice@example.com");
    let a = run(
        "ecdsa-p384.xml",
        Case {
            metadata: "idp-metadata-ec.xml",
            ..Case::default()
        },
    )
    .unwrap();
    assert_eq!(a.name_id, "alice@example.com");
    ok("rsa-sha512.xml");
}

#[test]
fn rotation_second_certificate_verifies_only_with_the_new_metadata() {
    let a = run(
        "rotation-second-cert.xml",
        Case {
            metadata: "idp-metadata-rotation.xml",
            ..Case::default()
        },
    )
    .unwrap();
    assert_eq!(a.name_id, "alice@example.com");
    assert_eq!(
        refused_default("rotation-second-cert.xml"),
        ResponseError::SignatureMismatch
    );
}

#[test]
fn encrypted_aes256_cbc_rsa_oaep_mgf1p_is_accepted() {
    let a = ok("encrypted-aes256cbc-oaep-mgf1p.xml");
    assert!(a.encrypted);
    assert_eq!(a.name_id, "alice@example.com");
}

#[test]
fn encrypted_aes128_gcm_xmlenc11_rsa_oaep_is_accepted() {
    let a = ok("encrypted-aes128gcm-rsa-oaep.xml");
    assert!(a.encrypted);
    assert_eq!(a.attribute("firstName"), Some("Alice"));
}

#[test]
fn encrypted_aes128_cbc_and_aes256_gcm_are_accepted() {
    assert!(ok("encrypted-aes128cbc-oaep-mgf1p.xml").encrypted);
    assert!(ok("encrypted-aes256gcm-rsa-oaep.xml").encrypted);
}

#[test]
fn encrypted_assertion_needs_the_sp_key() {
    let e = refused(
        "encrypted-aes256cbc-oaep-mgf1p.xml",
        Case {
            with_sp_key: false,
            ..Case::default()
        },
    );
    assert_eq!(e, ResponseError::NoDecryptionKey);
}

#[test]
fn encrypted_assertion_with_another_sp_key_fails_to_decrypt() {
    let idp = metadata("idp-metadata.xml");
    let other = SpKeyPair::generate("other", NOW, Duration::days(1)).unwrap();
    let ctx = ValidationContext {
        idp: &idp,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now: NOW,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: Some(REQUEST_ID),
        sp_key: Some(&other),
    };
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(fixture("encrypted-aes256cbc-oaep-mgf1p.xml"));
    assert_eq!(
        validate_response(&encoded, &ctx).unwrap_err(),
        ResponseError::DecryptionFailed
    );
}

// ---------------------------------------------------------------- algorithms

#[test]
fn rsa_1_5_key_transport_is_refused() {
    let e = refused_default("encrypted-rsa-1_5.xml");
    assert_eq!(
        e,
        ResponseError::UnsupportedEncryption("http://www.w3.org/2001/04/xmlenc#rsa-1_5".into())
    );
    assert_eq!(e.code(), "unsupported_encryption");
}

#[test]
fn sha1_signature_is_refused() {
    let e = refused_default("sha1.xml");
    assert!(
        matches!(e, ResponseError::UnsupportedAlgorithm(ref a) if a.contains("sha1")),
        "{e}"
    );
}

#[test]
fn hmac_signature_is_refused() {
    let e = refused_default("hmac.xml");
    assert!(
        matches!(e, ResponseError::UnsupportedAlgorithm(ref a) if a.contains("hmac")),
        "{e}"
    );
}

// ---------------------------------------------------------------- claims

#[test]
fn expired_assertion_is_refused() {
    let e = refused_default("expired.xml");
    assert!(matches!(e, ResponseError::Expired(_)), "{e}");
    assert!(e.to_string().starts_with("the assertion expired at"));
    // The valid response, seen too late, as well.
    let e = refused(
        "okta-sp-initiated.xml",
        Case {
            now: datetime!(2026-11-01 10:08 UTC),
            ..Case::default()
        },
    );
    assert!(matches!(e, ResponseError::Expired(_)), "{e}");
    // Within the skew it still passes.
    run(
        "okta-sp-initiated.xml",
        Case {
            now: datetime!(2026-11-01 10:07 UTC),
            ..Case::default()
        },
    )
    .unwrap();
}

#[test]
fn not_yet_valid_assertion_is_refused() {
    let e = refused(
        "okta-sp-initiated.xml",
        Case {
            now: datetime!(2026-11-01 09:51 UTC),
            ..Case::default()
        },
    );
    assert!(matches!(e, ResponseError::NotYetValid(_)), "{e}");
}

#[test]
fn wrong_audience_is_refused() {
    let e = refused_default("wrong-audience.xml");
    assert_eq!(
        e,
        ResponseError::AudienceMismatch {
            expected: SP_ENTITY.into(),
            got: vec!["https://other.example.com/sp".into()]
        }
    );
    assert!(e.to_string().starts_with("audience mismatch: expected"));
}

#[test]
fn wrong_destination_is_refused() {
    let e = refused_default("wrong-destination.xml");
    assert!(
        matches!(e, ResponseError::DestinationMismatch { .. }),
        "{e}"
    );
}

#[test]
fn wrong_recipient_is_refused() {
    let e = refused_default("wrong-recipient.xml");
    assert!(
        matches!(e, ResponseError::RecipientMismatch { ref got, .. } if got == "https://evil.example.net/acs"),
        "{e}"
    );
}

#[test]
fn wrong_issuer_is_refused() {
    let e = refused_default("wrong-issuer.xml");
    assert!(
        matches!(e, ResponseError::IssuerMismatch { ref got, .. } if got == "http://www.okta.com/exkOTHER"),
        "{e}"
    );
}

#[test]
fn in_response_to_must_match_the_request() {
    let e = refused(
        "okta-sp-initiated.xml",
        Case {
            expected_in_response_to: Some("_another_request"),
            ..Case::default()
        },
    );
    assert!(
        matches!(e, ResponseError::InResponseToMismatch { .. }),
        "{e}"
    );
    // Unsolicited expected, but the response answers a request.
    let e = refused(
        "okta-sp-initiated.xml",
        Case {
            expected_in_response_to: None,
            ..Case::default()
        },
    );
    assert!(
        matches!(e, ResponseError::InResponseToMismatch { .. }),
        "{e}"
    );
    // A request is pending, and an unsolicited response arrives for it.
    let e = refused_default("okta-idp-initiated.xml");
    assert!(
        matches!(e, ResponseError::InResponseToMismatch { .. }),
        "{e}"
    );
}

#[test]
fn failed_status_is_reported() {
    let e = refused_default("status-requester.xml");
    assert!(
        matches!(e, ResponseError::StatusNotSuccess { ref status, .. } if status.ends_with("Requester")),
        "{e}"
    );
}

// ---------------------------------------------------------------- signatures

#[test]
fn unsigned_assertion_in_signed_response_is_refused() {
    assert_eq!(
        refused_default("unsigned-assertion-signed-response.xml"),
        ResponseError::AssertionUnsigned
    );
}

#[test]
fn unsigned_response_is_refused() {
    assert_eq!(
        refused_default("unsigned.xml"),
        ResponseError::AssertionUnsigned
    );
}

#[test]
fn tampered_nameid_is_refused() {
    assert_eq!(
        refused_default("tampered-nameid.xml"),
        ResponseError::DigestMismatch
    );
}

#[test]
fn tampered_signature_value_is_refused() {
    assert_eq!(
        refused_default("tampered-signature-value.xml"),
        ResponseError::SignatureMismatch
    );
}

#[test]
fn key_from_keyinfo_is_never_used() {
    let e = refused_default("keyinfo-attacker-cert.xml");
    assert_eq!(e, ResponseError::SignatureMismatch);
    assert_eq!(
        e.to_string(),
        "the signature does not verify with any certificate of the uploaded IdP metadata"
    );
}

#[test]
fn reference_to_another_element_is_refused() {
    let e = refused_default("reference-to-other-element.xml");
    assert!(matches!(e, ResponseError::ReferenceMismatch { .. }), "{e}");
}

#[test]
fn two_signatures_on_one_element_are_refused() {
    assert_eq!(
        refused_default("two-signatures.xml"),
        ResponseError::MultipleSignatures("Assertion")
    );
}

#[test]
fn two_signed_info_are_refused() {
    let e = refused_default("two-signedinfo.xml");
    assert!(matches!(e, ResponseError::SignatureMalformed(_)), "{e}");
}

#[test]
fn moved_signature_is_refused() {
    assert_eq!(
        refused_default("signature-moved.xml"),
        ResponseError::SignatureMisplaced
    );
}

// ---------------------------------------------------------------- wrapping & parsing

#[test]
fn xsw_evil_assertion_after_the_signed_one_is_refused() {
    assert_eq!(
        refused_default("xsw-evil-assertion-after.xml"),
        ResponseError::MultipleAssertions
    );
}

#[test]
fn xsw_evil_assertion_before_the_signed_one_is_refused() {
    assert_eq!(
        refused_default("xsw-evil-assertion-before.xml"),
        ResponseError::MultipleAssertions
    );
}

#[test]
fn xsw_signed_assertion_moved_to_extensions_is_refused() {
    let e = refused_default("xsw-assertion-in-extensions.xml");
    assert!(
        matches!(
            e,
            ResponseError::DuplicateId(_) | ResponseError::MultipleAssertions
        ),
        "{e}"
    );
}

#[test]
fn xsw_signed_assertion_wrapped_in_evil_one_is_refused() {
    let e = refused_default("xsw-signed-assertion-inside-evil.xml");
    assert!(
        matches!(
            e,
            ResponseError::DuplicateId(_) | ResponseError::MultipleAssertions
        ),
        "{e}"
    );
}

#[test]
fn xsw_original_response_in_signature_object_is_refused() {
    let e = refused_default("xsw-response-in-signature-object.xml");
    assert!(
        matches!(
            e,
            ResponseError::MultipleResponses | ResponseError::MultipleAssertions
        ),
        "{e}"
    );
}

#[test]
fn xsw_evil_assertion_in_signature_object_is_refused() {
    assert_eq!(
        refused_default("xsw-assertion-in-signature-object.xml"),
        ResponseError::MultipleAssertions
    );
}

#[test]
fn nested_response_is_refused() {
    assert_eq!(
        refused_default("nested-response.xml"),
        ResponseError::MultipleResponses
    );
}

#[test]
fn duplicate_ids_are_refused() {
    assert!(matches!(
        refused_default("duplicate-ids.xml"),
        ResponseError::DuplicateId(_)
    ));
}

#[test]
fn comment_inside_nameid_is_refused() {
    assert_eq!(
        refused_default("comment-in-nameid.xml"),
        ResponseError::CommentsRefused
    );
}

#[test]
fn doctype_and_entities_are_refused() {
    let e = refused_default("doctype-entity.xml");
    assert_eq!(e, ResponseError::DtdRefused);
    assert_eq!(e.code(), "dtd_refused");
}

#[test]
fn garbage_is_refused_without_panic() {
    let idp = metadata("idp-metadata.xml");
    let ctx = ValidationContext {
        idp: &idp,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now: NOW,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: None,
        sp_key: None,
    };
    assert_eq!(
        validate_response("%%%not base64", &ctx).unwrap_err(),
        ResponseError::NotBase64
    );
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert!(matches!(
        validate_response(&b64("<a/>"), &ctx).unwrap_err(),
        ResponseError::NotAResponse(_)
    ));
    assert!(matches!(
        validate_response(&b64("<a"), &ctx).unwrap_err(),
        ResponseError::Xml(_)
    ));
    let huge = "A".repeat(1024 * 1024);
    assert!(matches!(
        validate_response(&huge, &ctx).unwrap_err(),
        ResponseError::TooLarge { .. }
    ));
}

// ---------------------------------------------------------------- oracle agreement

/// manifest.tsv records what xmlsec1 says of each fixture (tests/fixtures/oracle.sh
/// checks it). Whatever we accept must be a fixture xmlsec1 accepts, and what
/// xmlsec1 refuses for its signature we refuse for its signature too.
#[test]
fn verdicts_agree_with_the_xmlsec1_manifest() {
    let manifest = fixture("manifest.tsv");
    let mut rows = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, cert, expect] = cols.as_slice() else {
            panic!("bad manifest line {line:?}")
        };
        let metadata = match *cert {
            "idp1.crt" => "idp-metadata.xml",
            "idp2.crt" => "idp-metadata-rotation.xml",
            "idp-ec.crt" | "idp-ec384.crt" => "idp-metadata-ec.xml",
            other => panic!("no metadata for {other}"),
        };
        let verdicts: Vec<_> = [Some(REQUEST_ID), None]
            .into_iter()
            .map(|irt| {
                run(
                    file,
                    Case {
                        metadata,
                        expected_in_response_to: irt,
                        ..Case::default()
                    },
                )
            })
            .collect();
        let accepted = verdicts.iter().any(Result::is_ok);
        match *expect {
            "valid" => {}
            "sig-invalid" => {
                for v in &verdicts {
                    let e = v.as_ref().expect_err(file);
                    assert!(
                        matches!(
                            e,
                            ResponseError::DigestMismatch
                                | ResponseError::SignatureMismatch
                                | ResponseError::ReferenceMismatch { .. }
                        ),
                        "{file}: {e}"
                    );
                }
            }
            _ => assert!(!accepted, "{file} is accepted but not checked by xmlsec1"),
        }
        rows += 1;
    }
    assert!(rows > 20);
}

fn run_text(xml: &str, case: Case) -> Result<VerifiedAssertion, ResponseError> {
    let idp = metadata(case.metadata);
    let ctx = ValidationContext {
        idp: &idp,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now: case.now,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: case.expected_in_response_to,
        sp_key: None,
    };
    validate_response(&base64::engine::general_purpose::STANDARD.encode(xml), &ctx)
}

#[test]
fn xml_declaration_bom_and_line_wrapped_base64_are_fine() {
    let xml = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>{}",
        fixture("okta-sp-initiated.xml")
    );
    run_text(&xml, Case::default()).unwrap();
    let idp = metadata("idp-metadata.xml");
    let ctx = ValidationContext {
        idp: &idp,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now: NOW,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: Some(REQUEST_ID),
        sp_key: None,
    };
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(fixture("okta-sp-initiated.xml"));
    let wrapped: String = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
        .collect();
    validate_response(&wrapped, &ctx).unwrap();
}

/// Algorithm and structure rules hold before any cryptography: a changed
/// SignedInfo is refused for what it says, not only because it no longer verifies.
#[test]
fn signed_info_downgrades_are_refused_by_rule() {
    let base = fixture("assertion-only-signed.xml");
    let cases = [
        (
            "http://www.w3.org/2001/10/xml-exc-c14n#\"/><ds:SignatureMethod",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/><ds:SignatureMethod",
            "unsupported_algorithm",
        ),
        (
            "xmldsig-more#rsa-sha256",
            "xmldsig-more#rsa-sha256-unknown",
            "unsupported_algorithm",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2000/09/xmldsig#sha1",
            "unsupported_algorithm",
        ),
        (
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
            "unsupported_algorithm",
        ),
        (
            "</ds:SignatureValue>",
            "</ds:SignatureValue><ds:Object/>",
            "signature_malformed",
        ),
        (
            "</ds:Reference>",
            "</ds:Reference><ds:Reference URI=\"\"/>",
            "signature_malformed",
        ),
        (
            "<ds:Reference URI=\"#",
            "<ds:Reference URI=\"#x",
            "reference_mismatch",
        ),
        (
            "PrefixList=\"xs\"",
            "PrefixList=\"xs #default\"",
            "unsupported_algorithm",
        ),
    ];
    for (from, to, code) in cases {
        assert!(base.contains(from), "{from}");
        let e = run_text(&base.replacen(from, to, 1), Case::default()).unwrap_err();
        assert_eq!(e.code(), code, "{from} -> {to}: {e}");
    }
}
