//! IdP metadata (what the admin uploads) and our SP metadata (what the IdP reads).
//!
//! The uploaded metadata is trusted because an authenticated admin uploaded it;
//! a signature on the metadata itself is neither required nor checked.

use roxmltree::Node;
use time::OffsetDateTime;

use crate::dsig::b64;
use crate::error::MetadataError;
use crate::keys::{CertKeyError, IdpCertificate, SpKeyPair};
use crate::xml::{self, children, escape, ns};

pub const BINDING_HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// One `SingleSignOnService` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoEndpoint {
    pub binding: String,
    pub location: String,
}

/// What we keep from an IdP's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub want_authn_requests_signed: bool,
    /// Signing certificates that are valid at upload time, in document order
    /// (several during a key rollover).
    pub signing_certificates: Vec<IdpCertificate>,
    pub sso_endpoints: Vec<SsoEndpoint>,
    pub name_id_formats: Vec<String>,
}

impl IdpMetadata {
    /// Parses uploaded metadata: an `EntityDescriptor`, or the first entity with
    /// an `IDPSSODescriptor` inside an `EntitiesDescriptor`.
    ///
    /// Certificates that have expired at `now` are dropped when another one is
    /// still valid (a rollover leaves the old one in); when all have expired the
    /// upload is refused.
    pub fn parse(text: &str, now: OffsetDateTime) -> Result<Self, MetadataError> {
        let doc = xml::parse(text).map_err(MetadataError::NotXml)?;
        let root = doc.root_element();
        let entity = if xml::is(root, ns::METADATA, "EntityDescriptor") {
            root
        } else if xml::is(root, ns::METADATA, "EntitiesDescriptor") {
            root.descendants()
                .filter(|n| xml::is(*n, ns::METADATA, "EntityDescriptor"))
                .find(|n| {
                    children(*n, ns::METADATA, "IDPSSODescriptor")
                        .next()
                        .is_some()
                })
                .ok_or_else(|| {
                    MetadataError::NotIdpMetadata(
                        "the EntitiesDescriptor holds no identity provider".into(),
                    )
                })?
        } else {
            return Err(MetadataError::NotIdpMetadata(format!(
                "the root element is <{}>, not <EntityDescriptor> in the SAML metadata namespace",
                root.tag_name().name()
            )));
        };
        let entity_id = entity
            .attribute("entityID")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| MetadataError::NotIdpMetadata("the entityID is missing".into()))?
            .to_owned();
        let Some(idp) = children(entity, ns::METADATA, "IDPSSODescriptor").next() else {
            let what = if children(entity, ns::METADATA, "SPSSODescriptor")
                .next()
                .is_some()
            {
                "it describes a service provider (SPSSODescriptor), not an identity provider"
            } else {
                "it has no IDPSSODescriptor"
            };
            return Err(MetadataError::NotIdpMetadata(what.into()));
        };
        let want_authn_requests_signed = matches!(
            idp.attribute("WantAuthnRequestsSigned").map(str::trim),
            Some("true") | Some("1")
        );

        let mut certs = Vec::new();
        let mut index = 0;
        for kd in children(idp, ns::METADATA, "KeyDescriptor") {
            if !matches!(kd.attribute("use"), None | Some("signing")) {
                continue;
            }
            for c in kd
                .descendants()
                .filter(|n| xml::is(*n, ns::DSIG, "X509Certificate"))
            {
                index += 1;
                let der = b64(&text_of(c)).ok_or_else(|| MetadataError::BadCertificate {
                    index,
                    reason: "not base64".into(),
                })?;
                let cert = IdpCertificate::from_der(&der).map_err(|e| match e {
                    CertKeyError::Unreadable(reason) => {
                        MetadataError::BadCertificate { index, reason }
                    }
                    CertKeyError::Unsupported(key_type) => {
                        MetadataError::UnsupportedKeyType { index, key_type }
                    }
                })?;
                if !certs.contains(&cert) {
                    certs.push(cert);
                }
            }
        }
        if certs.is_empty() {
            return Err(MetadataError::NoSigningCertificate);
        }
        let newest_expiry = certs.iter().map(|c| c.not_after).max();
        certs.retain(|c| c.not_after >= now);
        if certs.is_empty() {
            return Err(MetadataError::CertificateExpired {
                not_after: newest_expiry.unwrap_or(now),
            });
        }

        let sso_endpoints = children(idp, ns::METADATA, "SingleSignOnService")
            .filter_map(|n| {
                Some(SsoEndpoint {
                    binding: n.attribute("Binding")?.trim().to_owned(),
                    location: n.attribute("Location")?.trim().to_owned(),
                })
            })
            .collect();
        let name_id_formats = children(idp, ns::METADATA, "NameIDFormat")
            .map(text_of)
            .filter(|s| !s.is_empty())
            .collect();

        Ok(IdpMetadata {
            entity_id,
            want_authn_requests_signed,
            signing_certificates: certs,
            sso_endpoints,
            name_id_formats,
        })
    }

    /// The first SSO endpoint for `binding`.
    pub fn sso_url(&self, binding: &str) -> Option<&str> {
        self.sso_endpoints
            .iter()
            .find(|e| e.binding == binding)
            .map(|e| e.location.as_str())
    }

    /// Where SP-initiated sign-in sends the browser (HTTP-Redirect binding).
    pub fn redirect_sso_url(&self) -> Option<&str> {
        self.sso_url(BINDING_HTTP_REDIRECT)
    }
}

fn text_of(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// What goes into our SP metadata.
#[derive(Clone, Copy, Debug)]
pub struct SpMetadataParams<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    pub name_id_formats: &'a [&'a str],
    /// When given, published for encryption (and for request signing when
    /// `authn_requests_signed`).
    pub key_pair: Option<&'a SpKeyPair>,
    pub authn_requests_signed: bool,
}

/// Our `EntityDescriptor` with one `SPSSODescriptor`.
pub fn sp_metadata_xml(p: &SpMetadataParams<'_>) -> String {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<md:EntityDescriptor xmlns:md=\"{}\" xmlns:ds=\"{}\" entityID=\"{}\">\n",
        ns::METADATA,
        ns::DSIG,
        escape(p.entity_id)
    ));
    out.push_str(&format!(
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{}\">\n",
        p.authn_requests_signed && p.key_pair.is_some(),
        ns::PROTOCOL
    ));
    if let Some(kp) = p.key_pair {
        let cert = kp.certificate_base64();
        let key_info = format!(
            "      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n"
        );
        if p.authn_requests_signed {
            out.push_str("    <md:KeyDescriptor use=\"signing\">\n");
            out.push_str(&key_info);
            out.push_str("    </md:KeyDescriptor>\n");
        }
        out.push_str("    <md:KeyDescriptor use=\"encryption\">\n");
        out.push_str(&key_info);
        for alg in [
            crate::encryption::AES256_GCM,
            crate::encryption::AES128_GCM,
            crate::encryption::AES256_CBC,
            crate::encryption::AES128_CBC,
            crate::encryption::RSA_OAEP_MGF1P,
            crate::encryption::RSA_OAEP,
        ] {
            out.push_str(&format!(
                "      <md:EncryptionMethod Algorithm=\"{alg}\"/>\n"
            ));
        }
        out.push_str("    </md:KeyDescriptor>\n");
    }
    for f in p.name_id_formats {
        out.push_str(&format!(
            "    <md:NameIDFormat>{}</md:NameIDFormat>\n",
            escape(f)
        ));
    }
    out.push_str(&format!(
        "    <md:AssertionConsumerService Binding=\"{BINDING_HTTP_POST}\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>\n",
        escape(p.acs_url)
    ));
    out.push_str("  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n");
    out
}
