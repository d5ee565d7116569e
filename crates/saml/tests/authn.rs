//! AuthnRequest over HTTP-Redirect: round trip and query signature.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use base64::Engine;
use rsa::pkcs8::DecodePublicKey;
use saml::authn::{decode_redirect_value, new_request_id, MAX_RELAY_STATE};
use saml::{
    login_redirect, redirect_authn_request, AuthnRequestParams, IdpMetadata, RequestError,
    SpKeyPair,
};
use time::macros::datetime;

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn params<'a>(key: Option<&'a SpKeyPair>, relay: Option<&'a str>) -> AuthnRequestParams<'a> {
    AuthnRequestParams {
        sp_entity_id: "https://portcullis.example.com/saml/cl1ent",
        acs_url: "https://portcullis.example.com/saml/cl1ent/acs",
        idp_sso_url: "https://example.okta.com/app/x/sso/saml?from=1",
        relay_state: relay,
        name_id_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        now: datetime!(2026-11-01 10:00:00.25 UTC),
        signing_key: key,
    }
}

fn query_pairs(url: &str) -> Vec<(String, String)> {
    let (_, q) = url.split_once('?').unwrap();
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn request_round_trips_through_deflate_and_base64() {
    let req = redirect_authn_request(&params(None, Some("/app/home?x=1&y=é"))).unwrap();
    assert!(req
        .url
        .starts_with("https://example.okta.com/app/x/sso/saml?from=1&SAMLRequest="));
    let pairs = query_pairs(&req.url);
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["from", "SAMLRequest", "RelayState"]);
    assert_eq!(url_decode(&pairs[2].1), "/app/home?x=1&y=é");

    let xml = decode_redirect_value(&url_decode(&pairs[1].1)).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let r = doc.root_element();
    assert_eq!(r.tag_name().name(), "AuthnRequest");
    assert_eq!(
        r.tag_name().namespace(),
        Some("urn:oasis:names:tc:SAML:2.0:protocol")
    );
    assert_eq!(r.attribute("ID"), Some(req.id.as_str()));
    assert_eq!(r.attribute("Version"), Some("2.0"));
    assert_eq!(r.attribute("IssueInstant"), Some("2026-11-01T10:00:00Z"));
    assert_eq!(
        r.attribute("Destination"),
        Some("https://example.okta.com/app/x/sso/saml?from=1")
    );
    assert_eq!(
        r.attribute("AssertionConsumerServiceURL"),
        Some("https://portcullis.example.com/saml/cl1ent/acs")
    );
    assert_eq!(
        r.attribute("ProtocolBinding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    let issuer = r.first_element_child().unwrap();
    assert_eq!(issuer.tag_name().name(), "Issuer");
    assert_eq!(
        issuer.text(),
        Some("https://portcullis.example.com/saml/cl1ent")
    );
}

#[test]
fn request_ids_are_unguessable_ncnames() {
    let a = new_request_id();
    let b = new_request_id();
    assert_ne!(a, b);
    assert_eq!(a.len(), 33);
    assert!(a.starts_with('_'));
    assert!(a[1..].chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn signed_request_signature_verifies_over_the_query() {
    let kp = SpKeyPair::generate(
        "sp",
        datetime!(2026-01-01 0:00 UTC),
        time::Duration::days(365),
    )
    .unwrap();
    let req = redirect_authn_request(&params(Some(&kp), Some("/home"))).unwrap();
    let (_, q) = req.url.split_once('?').unwrap();
    let q = q.strip_prefix("from=1&").unwrap();
    let (signed, sig) = q.rsplit_once("&Signature=").unwrap();
    assert!(signed.starts_with("SAMLRequest="));
    assert!(signed.contains("&RelayState=%2Fhome&SigAlg="));
    assert!(
        signed.ends_with("SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256")
    );
    let sig = base64::engine::general_purpose::STANDARD
        .decode(url_decode(sig))
        .unwrap();
    let cert = {
        use der::{Decode, Encode};
        let c = x509_cert::Certificate::from_der(kp.certificate_der()).unwrap();
        c.tbs_certificate.subject_public_key_info.to_der().unwrap()
    };
    let public = rsa::RsaPublicKey::from_public_key_der(&cert).unwrap();
    use sha2::Digest;
    let hashed = sha2::Sha256::digest(signed.as_bytes());
    public
        .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, &sig)
        .unwrap();
}

#[test]
fn long_relay_state_is_refused() {
    let long = "x".repeat(MAX_RELAY_STATE + 1);
    assert_eq!(
        redirect_authn_request(&params(None, Some(&long))).unwrap_err(),
        RequestError::RelayStateTooLong { len: 81 }
    );
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn login_redirect_signs_exactly_when_the_idp_wants_it() {
    let now = datetime!(2026-11-01 10:00 UTC);
    let plain = IdpMetadata::parse(&fixture("idp-metadata.xml"), now).unwrap();
    let wants = IdpMetadata::parse(&fixture("idp-metadata-signed-requests.xml"), now).unwrap();
    let kp = SpKeyPair::from_pem(&fixture("sp.key"), &fixture("sp.crt")).unwrap();
    let sp = "https://portcullis.example.com/saml/cl1ent";
    let acs = "https://portcullis.example.com/saml/cl1ent/acs";

    let r = login_redirect(&plain, sp, acs, None, now, Some(&kp)).unwrap();
    assert!(r.url.starts_with(plain.redirect_sso_url().unwrap()));
    assert!(!r.url.contains("Signature="));
    let r = login_redirect(&wants, sp, acs, Some("/x"), now, Some(&kp)).unwrap();
    assert!(r.url.contains("&SigAlg=") && r.url.contains("&Signature="));
    assert_eq!(
        login_redirect(&wants, sp, acs, None, now, None).unwrap_err(),
        RequestError::SigningKeyMissing
    );
    let mut no_redirect = plain.clone();
    no_redirect
        .sso_endpoints
        .retain(|e| e.binding != saml::metadata::BINDING_HTTP_REDIRECT);
    assert_eq!(
        login_redirect(&no_redirect, sp, acs, None, now, None).unwrap_err(),
        RequestError::NoRedirectEndpoint
    );
}
