//! IdP metadata upload errors and SP metadata generation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use saml::metadata::{BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, NAMEID_EMAIL};
use saml::{
    sp_metadata_xml, IdpMetadata, MetadataError, PublicKey, SpKeyPair, SpMetadataParams, XmlError,
};
use time::macros::datetime;
use time::OffsetDateTime;

const NOW: OffsetDateTime = datetime!(2026-11-01 10:00 UTC);

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn okta_metadata_is_read() {
    let m = IdpMetadata::parse(&fixture("idp-metadata.xml"), NOW).unwrap();
    assert_eq!(m.entity_id, "http://www.okta.com/exk1fixture0000000001");
    assert!(!m.want_authn_requests_signed);
    assert_eq!(m.signing_certificates.len(), 1);
    let c = &m.signing_certificates[0];
    assert_eq!(c.subject, "CN=idp1");
    assert_eq!(c.not_before, datetime!(2026-01-01 0:00 UTC));
    assert_eq!(c.not_after, datetime!(2036-01-01 0:00 UTC));
    assert!(c.is_valid_at(NOW));
    assert!(matches!(c.key, PublicKey::Rsa(_)));
    assert_eq!(c.sha256_fingerprint.len(), 32 * 3 - 1);
    assert!(m.sso_url(BINDING_HTTP_POST).is_some());
    assert!(m
        .redirect_sso_url()
        .unwrap()
        .starts_with("https://example.okta.com/"));
    assert_eq!(m.sso_endpoints.len(), 2);
    assert!(m.name_id_formats.iter().any(|f| f == NAMEID_EMAIL));
}

#[test]
fn rotation_metadata_keeps_every_signing_certificate() {
    let m = IdpMetadata::parse(&fixture("idp-metadata-rotation.xml"), NOW).unwrap();
    let subjects: Vec<_> = m
        .signing_certificates
        .iter()
        .map(|c| c.subject.as_str())
        .collect();
    assert_eq!(subjects, ["CN=idp1", "CN=idp2"]);
}

#[test]
fn ecdsa_metadata_and_signed_request_flag() {
    let m = IdpMetadata::parse(&fixture("idp-metadata-ec.xml"), NOW).unwrap();
    assert!(matches!(m.signing_certificates[0].key, PublicKey::P256(_)));
    let m = IdpMetadata::parse(&fixture("idp-metadata-signed-requests.xml"), NOW).unwrap();
    assert!(m.want_authn_requests_signed);
    assert!(m.sso_url(BINDING_HTTP_REDIRECT).is_some());
}

#[test]
fn entities_descriptor_yields_its_idp() {
    let m = IdpMetadata::parse(&fixture("idp-metadata-entities.xml"), NOW).unwrap();
    assert_eq!(m.entity_id, "http://www.okta.com/exk1fixture0000000001");
}

#[test]
fn expired_certificate_is_refused_with_its_date() {
    let e = IdpMetadata::parse(&fixture("idp-metadata-expired.xml"), NOW).unwrap_err();
    assert_eq!(
        e,
        MetadataError::CertificateExpired {
            not_after: datetime!(2021-01-01 0:00 UTC)
        }
    );
    assert!(e.to_string().contains("upload its metadata again"));
    // The same file was fine while the certificate lived.
    IdpMetadata::parse(
        &fixture("idp-metadata-expired.xml"),
        datetime!(2020-06-01 0:00 UTC),
    )
    .unwrap();
}

#[test]
fn weak_key_is_an_unsupported_key_type() {
    let e = IdpMetadata::parse(&fixture("idp-metadata-weak-key.xml"), NOW).unwrap_err();
    assert!(
        matches!(e, MetadataError::UnsupportedKeyType { index: 1, ref key_type } if key_type == "RSA 1024 bits"),
        "{e}"
    );
}

#[test]
fn missing_certificate_is_refused() {
    assert_eq!(
        IdpMetadata::parse(&fixture("idp-metadata-no-cert.xml"), NOW).unwrap_err(),
        MetadataError::NoSigningCertificate
    );
}

#[test]
fn sp_metadata_and_random_xml_are_not_idp_metadata() {
    let e = IdpMetadata::parse(&fixture("sp-metadata.xml"), NOW).unwrap_err();
    assert!(
        matches!(e, MetadataError::NotIdpMetadata(ref m) if m.contains("service provider")),
        "{e}"
    );
    let e = IdpMetadata::parse(&fixture("not-metadata.xml"), NOW).unwrap_err();
    assert!(
        matches!(e, MetadataError::NotIdpMetadata(ref m) if m.contains("<html>")),
        "{e}"
    );
}

#[test]
fn not_xml_and_doctype_are_refused() {
    let e = IdpMetadata::parse("this is a PDF, honest", NOW).unwrap_err();
    assert!(
        matches!(e, MetadataError::NotXml(XmlError::Malformed(_))),
        "{e}"
    );
    let with_dtd = format!(
        "<!DOCTYPE x [<!ENTITY e \"e\">]>{}",
        fixture("idp-metadata.xml").split_once("?>").unwrap().1
    );
    assert_eq!(
        IdpMetadata::parse(&with_dtd, NOW).unwrap_err(),
        MetadataError::NotXml(XmlError::DtdRefused)
    );
}

#[test]
fn sp_metadata_carries_acs_formats_and_encryption_key() {
    let kp = SpKeyPair::from_pem(&fixture("sp.key"), &fixture("sp.crt")).unwrap();
    let xml = sp_metadata_xml(&SpMetadataParams {
        entity_id: "https://portcullis.example.com/saml/cl1ent",
        acs_url: "https://portcullis.example.com/saml/cl1ent/acs?a=1&b=2",
        name_id_formats: &[NAMEID_EMAIL],
        key_pair: Some(&kp),
        authn_requests_signed: false,
    });
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(
        root.attribute("entityID"),
        Some("https://portcullis.example.com/saml/cl1ent")
    );
    let acs = doc
        .descendants()
        .find(|n| n.has_tag_name("AssertionConsumerService"))
        .unwrap();
    assert_eq!(acs.attribute("Binding"), Some(BINDING_HTTP_POST));
    assert_eq!(
        acs.attribute("Location"),
        Some("https://portcullis.example.com/saml/cl1ent/acs?a=1&b=2")
    );
    let kd: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("KeyDescriptor"))
        .collect();
    assert_eq!(kd.len(), 1);
    assert_eq!(kd[0].attribute("use"), Some("encryption"));
    let cert = doc
        .descendants()
        .find(|n| n.has_tag_name("X509Certificate"))
        .unwrap();
    assert_eq!(cert.text(), Some(kp.certificate_base64().as_str()));
    // Our own metadata is not IdP metadata.
    assert!(matches!(
        IdpMetadata::parse(&xml, NOW),
        Err(MetadataError::NotIdpMetadata(_))
    ));

    let signing = sp_metadata_xml(&SpMetadataParams {
        entity_id: "e",
        acs_url: "a",
        name_id_formats: &[],
        key_pair: Some(&kp),
        authn_requests_signed: true,
    });
    assert!(signing.contains("AuthnRequestsSigned=\"true\""));
    assert!(signing.contains("use=\"signing\""));
    let bare = sp_metadata_xml(&SpMetadataParams {
        entity_id: "e",
        acs_url: "a",
        name_id_formats: &[],
        key_pair: None,
        authn_requests_signed: true,
    });
    assert!(!bare.contains("KeyDescriptor"));
    assert!(bare.contains("AuthnRequestsSigned=\"false\""));
}
