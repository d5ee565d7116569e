//! The independent test IdP against our verifier (`saml::validate_response`)
//! and the `xmlsec1` oracle: what one accepts the other accepts, and a response
//! refused for its signature is refused by both.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use directory::Clock as _;
use saml::{validate_response, IdpMetadata, ResponseError, SpKeyPair, ValidationContext};
use testkit::test_idp::{IdpResponse, ResponseParams, Tamper, TestIdp, NAME_ID_EMAIL};
use time::Duration;

const IDP_ENTITY: &str = "http://www.okta.com/exk1testidp000000001";
const SSO_URL: &str =
    "https://example.okta.com/app/example_portcullis_1/exk1testidp000000001/sso/saml";
const SP_ENTITY: &str = "https://portcullis.example.com/saml/cl1enttest";
const ACS: &str = "https://portcullis.example.com/saml/cl1enttest/acs";
const REQUEST_ID: &str = "_8e1f0c2b9d7a4e6f8a0b1c2d3e4f5a6b";

fn metadata(idp: &TestIdp) -> IdpMetadata {
    IdpMetadata::parse(&idp.metadata_xml(SSO_URL), directory::SystemClock.now())
        .expect("the test IdP's metadata parses")
}

fn validate(
    r: &IdpResponse,
    md: &IdpMetadata,
    in_response_to: Option<&str>,
    sp_key: Option<&SpKeyPair>,
) -> Result<saml::VerifiedAssertion, ResponseError> {
    let ctx = ValidationContext {
        idp: md,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now: r.issue_instant,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: in_response_to,
        sp_key,
    };
    validate_response(&r.saml_response, &ctx)
}

fn sp_initiated(name_id: &str) -> ResponseParams {
    let mut p = ResponseParams::new(ACS, SP_ENTITY, name_id);
    p.in_response_to = Some(REQUEST_ID.to_owned());
    p
}

#[test]
fn okta_shaped_response_validates_and_the_oracle_agrees() {
    let idp = TestIdp::new(IDP_ENTITY);
    let md = metadata(&idp);
    assert_eq!(md.entity_id, IDP_ENTITY);
    assert_eq!(md.signing_certificates.len(), 1);
    assert!(!md.want_authn_requests_signed);
    assert_eq!(md.redirect_sso_url(), Some(SSO_URL));
    assert_eq!(md.name_id_formats.len(), 2);

    let mut p = sp_initiated("alice@example.com");
    p.name_id_format = Some(NAME_ID_EMAIL.to_owned());
    p.attributes
        .insert("firstName".into(), vec!["Alice".into()]);
    p.attributes.insert(
        "groups".into(),
        vec!["Engineering".into(), "Everyone".into()],
    );
    let r = idp.response_full(&p);

    // Okta's shape, as written by signxml.
    assert!(r.xml.starts_with("<?xml"));
    assert_eq!(r.xml.matches("</ds:Signature>").count(), 2, "{}", r.xml);
    assert_eq!(r.xml.matches(r#"PrefixList="xs""#).count(), 2);
    assert_eq!(r.xml.matches("xml-exc-c14n#").count(), 6); // per signature: c14n method + transform + ec ns
    assert!(r.xml.contains("xmldsig-more#rsa-sha256"));
    assert!(r.xml.contains(r#"xsi:type="xs:string""#));

    let v = validate(&r, &md, Some(REQUEST_ID), None).expect("our verifier accepts it");
    assert_eq!(v.name_id, "alice@example.com");
    assert_eq!(v.name_id_format.as_deref(), Some(NAME_ID_EMAIL));
    assert_eq!(v.issuer, IDP_ENTITY);
    assert_eq!(v.response_id, r.response_id);
    assert_eq!(v.assertion_id, r.assertion_id);
    assert_eq!(v.in_response_to.as_deref(), Some(REQUEST_ID));
    assert_eq!(v.email_attribute(), Some("alice@example.com"));
    assert_eq!(v.attribute("firstName"), Some("Alice"));
    assert_eq!(v.attributes["groups"], vec!["Engineering", "Everyone"]);
    assert_eq!(v.session_index.as_deref(), Some(r.assertion_id.as_str()));
    assert!(v.response_signed);
    assert!(!v.encrypted);

    assert_eq!(idp.oracle_verify(&r.xml), vec![true, true]);
}

#[test]
fn idp_initiated_response_validates_and_the_oracle_agrees() {
    let idp = TestIdp::new(IDP_ENTITY);
    let md = metadata(&idp);
    let r = idp.response_full(&ResponseParams::new(ACS, SP_ENTITY, "bob@example.com"));
    assert!(!r.xml.contains("InResponseTo"));
    let v = validate(&r, &md, None, None).expect("accepted");
    assert_eq!(v.name_id, "bob@example.com");
    assert_eq!(v.in_response_to, None);
    assert_eq!(idp.oracle_verify(&r.xml), vec![true, true]);

    // A given issue instant is written as given; IDs are fresh each time.
    let p = ResponseParams {
        issue_instant: Some(r.issue_instant),
        ..ResponseParams::new(ACS, SP_ENTITY, "bob@example.com")
    };
    let again = idp.response_full(&p);
    assert_eq!(again.issue_instant, r.issue_instant);
    assert_ne!(again.assertion_id, r.assertion_id);
}

#[test]
fn assertion_signed_alone_is_accepted_by_both() {
    let idp = TestIdp::new(IDP_ENTITY);
    let p = ResponseParams {
        sign_response: false,
        ..sp_initiated("alice@example.com")
    };
    let r = idp.response_full(&p);
    let v = validate(&r, &metadata(&idp), Some(REQUEST_ID), None).expect("accepted");
    assert!(!v.response_signed);
    assert_eq!(idp.oracle_verify(&r.xml), vec![true]);
}

#[test]
fn unsigned_assertion_is_refused() {
    let idp = TestIdp::new(IDP_ENTITY);
    let p = ResponseParams {
        sign_assertion: false,
        ..sp_initiated("alice@example.com")
    };
    let r = idp.response_full(&p);
    let err = validate(&r, &metadata(&idp), Some(REQUEST_ID), None).unwrap_err();
    assert!(matches!(err, ResponseError::AssertionUnsigned), "{err}");
    // The Response signature itself is sound: xmlsec1 checks signatures, not SAML rules.
    assert_eq!(idp.oracle_verify(&r.xml), vec![true]);
}

#[test]
fn tampered_responses_are_refused_by_both() {
    let idp = TestIdp::new(IDP_ENTITY);
    let md = metadata(&idp);
    let cases = [
        Tamper::NameId("mallory@example.com".into()),
        Tamper::Audience(SP_ENTITY.into()), // same value: bytes unchanged, must still verify
        Tamper::Audience("https://attacker.example.com/sp".into()),
        Tamper::SignatureValue,
    ];
    for tamper in cases {
        let p = ResponseParams {
            tamper: Some(tamper.clone()),
            ..sp_initiated("alice@example.com")
        };
        let r = idp.response_full(&p);
        let ours = validate(&r, &md, Some(REQUEST_ID), None);
        let oracle = idp.oracle_verify(&r.xml);
        assert_eq!(oracle.len(), 2, "{tamper:?}");
        if tamper == Tamper::Audience(SP_ENTITY.into()) {
            assert!(ours.is_ok(), "{tamper:?}: {ours:?}");
            assert_eq!(oracle, vec![true, true]);
            continue;
        }
        let err = ours.expect_err("tampered response accepted");
        assert!(
            matches!(
                err,
                ResponseError::DigestMismatch | ResponseError::SignatureMismatch
            ),
            "{tamper:?}: {err}"
        );
        assert!(oracle.contains(&false), "{tamper:?}: oracle {oracle:?}");
    }
}

#[test]
fn a_key_the_metadata_does_not_list_is_refused_by_both() {
    let idp = TestIdp::new(IDP_ENTITY);
    let md = metadata(&idp);
    let stranger = idp.keygen(None, None);
    let r = idp.response_signed_by(&sp_initiated("alice@example.com"), &stranger);
    let err = validate(&r, &md, Some(REQUEST_ID), None).unwrap_err();
    assert!(matches!(err, ResponseError::SignatureMismatch), "{err}");
    assert_eq!(idp.oracle_verify(&r.xml), vec![false, false]);
    // ... while the stranger's own certificate verifies it: the oracle is not just saying no.
    assert_eq!(
        idp.oracle_verify_with(&r.xml, &stranger.cert_pem, None),
        vec![true, true]
    );
}

#[test]
fn rotation_adds_a_certificate_and_signs_with_the_new_one() {
    let mut idp = TestIdp::new(IDP_ENTITY);
    let old_md = metadata(&idp);
    let before = idp.response_full(&sp_initiated("alice@example.com"));
    idp.rotate();
    assert_eq!(idp.keys.len(), 2);
    let new_md = metadata(&idp);
    assert_eq!(new_md.signing_certificates.len(), 2);
    let after = idp.response_full(&sp_initiated("alice@example.com"));

    // Metadata carrying both certificates accepts responses signed with either.
    validate(&before, &new_md, Some(REQUEST_ID), None).expect("old key, new metadata");
    validate(&after, &new_md, Some(REQUEST_ID), None).expect("new key, new metadata");
    // The old metadata does not know the new key.
    let err = validate(&after, &old_md, Some(REQUEST_ID), None).unwrap_err();
    assert!(matches!(err, ResponseError::SignatureMismatch), "{err}");

    assert_eq!(idp.oracle_verify(&after.xml), vec![true, true]);
    assert_eq!(
        idp.oracle_verify_with(&after.xml, &idp.keys[0].cert_pem, None),
        vec![false, false]
    );
    assert_eq!(
        idp.oracle_verify_with(&before.xml, &idp.keys[0].cert_pem, None),
        vec![true, true]
    );
}

#[test]
fn encrypted_assertion_validates_with_the_sp_key_and_the_oracle_agrees() {
    let idp = TestIdp::new(IDP_ENTITY);
    let md = metadata(&idp);
    let sp = SpKeyPair::generate(
        SP_ENTITY,
        directory::SystemClock.now() - Duration::hours(1),
        Duration::days(365),
    )
    .expect("SP key");
    let sp_cert = sp.certificate_pem().expect("SP cert PEM");
    let sp_private = sp.private_key_pem().expect("SP key PEM");
    let p = ResponseParams {
        encrypt_to: Some(sp_cert.clone()),
        ..sp_initiated("alice@example.com")
    };
    let r = idp.response_full(&p);
    assert!(r.xml.contains("EncryptedAssertion"));
    assert!(r.xml.contains("xmlenc#aes256-cbc"));
    assert!(r.xml.contains("xmlenc#rsa-oaep-mgf1p"));
    assert!(!r.xml.contains("alice@example.com"));

    let v = validate(&r, &md, Some(REQUEST_ID), Some(&sp)).expect("accepted");
    assert!(v.encrypted);
    assert!(v.response_signed);
    assert_eq!(v.name_id, "alice@example.com");
    assert_eq!(v.assertion_id, r.assertion_id);
    // Response signature, then the assertion's inside the ciphertext.
    assert_eq!(
        idp.oracle_verify_decrypting(&r.xml, &sp_private),
        vec![true, true]
    );

    let err = validate(&r, &md, Some(REQUEST_ID), None).unwrap_err();
    assert!(matches!(err, ResponseError::NoDecryptionKey), "{err}");

    // NameID changed inside the ciphertext after the assertion was signed.
    let p = ResponseParams {
        encrypt_to: Some(sp_cert),
        tamper: Some(Tamper::NameId("mallory@example.com".into())),
        ..sp_initiated("alice@example.com")
    };
    let r = idp.response_full(&p);
    let err = validate(&r, &md, Some(REQUEST_ID), Some(&sp)).unwrap_err();
    assert!(matches!(err, ResponseError::DigestMismatch), "{err}");
    assert_eq!(
        idp.oracle_verify_decrypting(&r.xml, &sp_private),
        vec![true, false]
    );
}

#[test]
fn time_and_audience_checks_apply_to_the_tool_s_responses() {
    let idp = TestIdp::new(IDP_ENTITY);
    let md = metadata(&idp);
    let r = idp.response_full(&sp_initiated("alice@example.com"));
    let ctx = |now| ValidationContext {
        idp: &md,
        sp_entity_id: SP_ENTITY,
        acs_url: ACS,
        now,
        max_clock_skew: Duration::minutes(3),
        expected_in_response_to: Some(REQUEST_ID),
        sp_key: None,
    };
    // Conditions are ±5 minutes around the issue instant, with 3 minutes of skew.
    assert!(validate_response(
        &r.saml_response,
        &ctx(r.issue_instant + Duration::minutes(7))
    )
    .is_ok());
    let err = validate_response(
        &r.saml_response,
        &ctx(r.issue_instant + Duration::minutes(9)),
    )
    .unwrap_err();
    assert!(matches!(err, ResponseError::Expired(_)), "{err}");
    let err = validate_response(
        &r.saml_response,
        &ctx(r.issue_instant - Duration::minutes(9)),
    )
    .unwrap_err();
    assert!(matches!(err, ResponseError::NotYetValid(_)), "{err}");

    let p = ResponseParams {
        audience: "https://other.example.com/sp".into(),
        ..sp_initiated("alice@example.com")
    };
    let r = idp.response_full(&p);
    let err = validate(&r, &md, Some(REQUEST_ID), None).unwrap_err();
    assert!(
        matches!(err, ResponseError::AudienceMismatch { .. }),
        "{err}"
    );
    // Signed as it is: the oracle accepts it, the refusal is ours.
    assert_eq!(idp.oracle_verify(&r.xml), vec![true, true]);
}

#[test]
fn expired_certificates_can_be_made_for_upload_tests() {
    let idp = TestIdp::new(IDP_ENTITY);
    let now = directory::SystemClock.now();
    let expired = idp.keygen(
        Some(now - Duration::days(400)),
        Some(now - Duration::days(35)),
    );
    let mut old = idp.clone();
    old.keys = vec![expired];
    let err = IdpMetadata::parse(&old.metadata_xml(SSO_URL), now).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}
