//! `peek_in_response_to`: a hint read without trusting anything, that never panics.

use base64::Engine;
use saml::peek_in_response_to;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn reads_the_response_in_response_to_only() {
    let r = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" InResponseTo="_req1" Version="2.0"/>"#;
    assert_eq!(peek_in_response_to(&b64(r)).as_deref(), Some("_req1"));
    let unsolicited = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0"/>"#;
    assert_eq!(peek_in_response_to(&b64(unsolicited)), None);
    let not_a_response = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="_x"/>"#;
    assert_eq!(peek_in_response_to(&b64(not_a_response)), None);
    let dtd = r#"<!DOCTYPE r [<!ENTITY e "x">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="&e;"/>"#;
    assert_eq!(peek_in_response_to(&b64(dtd)), None);
    for junk in ["", "%%%", "PHg+", &"A".repeat(2_000_000)] {
        assert_eq!(peek_in_response_to(junk), None);
    }
}
