//! The set-up as the console shows it: where an organization stands in the setup guide
//! (SAML: Client ID, IdP metadata, a test sign-in; SCIM: a token, its first use, the last
//! request), what is wrong with an uploaded metadata file in the admin's words, and how soon
//! the IdP's certificates expire.

use crate::error::Error;
use crate::model::{Organization, SamlConnection, ScimTokenRecord};
use crate::sso::SsoService;
use crate::store::{Store, StoredAuditEvent};
use saml::{IdpCertificate, IdpMetadata, MetadataError, XmlError};
use time::{Duration, OffsetDateTime};

/// The audit operation of every SAML sign-in attempt.
pub const SIGNIN_OPERATION: &str = "saml.signin";
/// The prefix of every audited SCIM request.
pub const SCIM_OPERATION_PREFIX: &str = "scim.";
/// A certificate this close to its end gets a warning.
pub const EXPIRY_WARNING: Duration = Duration::days(30);
/// The largest metadata file accepted: real ones are a few KiB.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

// ------------------------------------------------------------------ uploaded metadata

/// What is wrong with an uploaded IdP metadata file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataProblemKind {
    Empty,
    TooLarge,
    /// A certificate file (`.pem`, `.cer`, `.crt`) instead of the metadata.
    CertificateFile,
    NotText,
    NotXml,
    Doctype,
    /// XML, but its root is not SAML metadata.
    NotMetadata,
    /// Metadata of a service provider (ours, or another application's).
    SpMetadata,
    NoIdpDescriptor,
    NoSingleSignOnService,
    NoSigningCertificate,
    CertificateExpired,
    UnreadableCertificate,
    UnsupportedKey,
}

/// A refused upload: the class, and a sentence that says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataProblem {
    pub kind: MetadataProblemKind,
    pub message: String,
}

const DOWNLOAD_AGAIN: &str = "In Okta, open the application's Sign On tab, open the Identity Provider metadata link, save the page as an .xml file and upload that file.";

fn problem(kind: MetadataProblemKind, message: String) -> MetadataProblem {
    MetadataProblem { kind, message }
}

/// Checks an uploaded file as the IdP metadata of a connection: returns its text (without a
/// byte-order mark) and the parsed metadata, or what is wrong with it in the admin's words.
pub fn check_idp_metadata(
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<(String, IdpMetadata), MetadataProblem> {
    use MetadataProblemKind as K;
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(problem(
            K::TooLarge,
            format!(
                "The file is larger than {} KiB; identity provider metadata is a few KiB. Check that you chose the metadata .xml file.",
                MAX_METADATA_BYTES / 1024
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(problem(
            K::Empty,
            format!("The file is empty. {DOWNLOAD_AGAIN}"),
        ));
    }
    // DER (a binary .cer) starts with an ASN.1 SEQUENCE.
    if bytes.first() == Some(&0x30) && std::str::from_utf8(bytes).is_err() {
        return Err(problem(
            K::CertificateFile,
            format!(
                "This is a certificate file (.cer), not the metadata. Portcullis needs the whole Identity Provider metadata, which holds the certificate and the sign-in address. {DOWNLOAD_AGAIN}"
            ),
        ));
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(problem(
            K::NotText,
            format!("This file is not text, so it cannot be SAML metadata. {DOWNLOAD_AGAIN}"),
        ));
    };
    if text.contains("-----BEGIN ") {
        return Err(problem(
            K::CertificateFile,
            format!(
                "This is a certificate or key file (.pem/.cer), not the metadata. Portcullis needs the whole Identity Provider metadata, which holds the certificate and the sign-in address. {DOWNLOAD_AGAIN}"
            ),
        ));
    }
    if !text.trim_start().starts_with('<') {
        return Err(problem(
            K::NotXml,
            format!("This file is not XML. {DOWNLOAD_AGAIN}"),
        ));
    }
    let idp = IdpMetadata::parse(text, now).map_err(explain)?;
    let has_binding = [
        saml::metadata::BINDING_HTTP_REDIRECT,
        saml::metadata::BINDING_HTTP_POST,
    ]
    .iter()
    .any(|b| idp.sso_url(b).is_some());
    if !has_binding {
        return Err(problem(
            K::NoSingleSignOnService,
            format!(
                "The identity provider in this file has no sign-in address (no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding), so nobody could be sent to it to sign in. {DOWNLOAD_AGAIN}"
            ),
        ));
    }
    Ok((text.to_string(), idp))
}

fn explain(e: MetadataError) -> MetadataProblem {
    use MetadataProblemKind as K;
    match e {
        MetadataError::NotXml(XmlError::DtdRefused) => problem(
            K::Doctype,
            format!(
                "This file contains a DOCTYPE declaration, which Portcullis refuses for safety; identity provider metadata never has one. {DOWNLOAD_AGAIN}"
            ),
        ),
        MetadataError::NotXml(XmlError::TooLarge { .. })
        | MetadataError::NotXml(XmlError::TooManyNodes { .. })
        | MetadataError::NotXml(XmlError::TooDeep { .. }) => problem(
            K::TooLarge,
            format!("This file is far larger or deeper than identity provider metadata. {DOWNLOAD_AGAIN}"),
        ),
        MetadataError::NotXml(other) => problem(
            K::NotXml,
            format!("This file is not well-formed XML ({other}). {DOWNLOAD_AGAIN}"),
        ),
        MetadataError::NotIdpMetadata(why) if why.contains("service provider") => problem(
            K::SpMetadata,
            format!(
                "This is the metadata of a service provider (an application such as Portcullis itself), not of your identity provider. {DOWNLOAD_AGAIN}"
            ),
        ),
        MetadataError::NotIdpMetadata(why) if why.contains("root element") => problem(
            K::NotMetadata,
            format!("This XML file is not SAML metadata: {why}. {DOWNLOAD_AGAIN}"),
        ),
        MetadataError::NotIdpMetadata(why) => problem(
            K::NoIdpDescriptor,
            format!(
                "This SAML metadata describes no identity provider ({why}; an IDPSSODescriptor is needed). {DOWNLOAD_AGAIN}"
            ),
        ),
        MetadataError::NoSigningCertificate => problem(
            K::NoSigningCertificate,
            format!(
                "This metadata lists no signing certificate, so Portcullis could not check that sign-ins really come from your identity provider. {DOWNLOAD_AGAIN}"
            ),
        ),
        MetadataError::CertificateExpired { not_after } => problem(
            K::CertificateExpired,
            format!(
                "Every signing certificate in this file has expired (the newest on {}). In Okta, activate a new signing certificate for the application (Sign On tab, SAML Signing Certificates), then download the metadata again and upload it.",
                day(not_after)
            ),
        ),
        MetadataError::BadCertificate { index, reason } => problem(
            K::UnreadableCertificate,
            format!(
                "Signing certificate {index} in this file cannot be read ({reason}); the file may have been altered. {DOWNLOAD_AGAIN}"
            ),
        ),
        e @ MetadataError::UnsupportedKeyType { .. } => problem(
            K::UnsupportedKey,
            format!("{}.", capitalize(&e.to_string())),
        ),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A date as an admin reads it, e.g. `2026-11-29`.
pub fn day(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

// ------------------------------------------------------------------ certificates

/// How a signing certificate stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateState {
    Valid,
    /// Ends within [`EXPIRY_WARNING`]: whole days left.
    ExpiresSoon {
        days: i64,
    },
    Expired,
    NotYetValid,
}

pub fn certificate_state(cert: &IdpCertificate, now: OffsetDateTime) -> CertificateState {
    if cert.not_after < now {
        CertificateState::Expired
    } else if cert.not_before > now {
        CertificateState::NotYetValid
    } else if cert.not_after - now <= EXPIRY_WARNING {
        CertificateState::ExpiresSoon {
            days: (cert.not_after - now).whole_days(),
        }
    } else {
        CertificateState::Valid
    }
}

// ------------------------------------------------------------------ where the setup stands

/// Everything the set-up overview and the SAML page show, read with a handful of indexed
/// queries whatever the size of the organization or its audit log.
#[derive(Debug, Clone)]
pub struct SetupStatus {
    pub connection: Option<SamlConnection>,
    /// The uploaded metadata, as judged at upload time.
    pub idp: Option<IdpMetadata>,
    /// The newest successful SAML sign-in.
    pub last_good_signin: Option<StoredAuditEvent>,
    /// The newest SAML sign-in attempt, whatever its outcome (read when asked).
    pub last_signin: Option<StoredAuditEvent>,
    /// Tokens that are not revoked, newest first.
    pub live_tokens: Vec<ScimTokenRecord>,
    /// The newest audited SCIM request.
    pub last_scim: Option<StoredAuditEvent>,
}

impl SetupStatus {
    /// The live token the IdP used first-and-most-recently: the most recently used one.
    pub fn used_token(&self) -> Option<&ScimTokenRecord> {
        self.live_tokens
            .iter()
            .filter(|t| t.last_used_at.is_some())
            .max_by_key(|t| t.last_used_at)
    }
}

/// What to read: the SAML page needs the last attempt, the overview the SCIM side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusParts {
    pub last_signin: bool,
    pub scim: bool,
}

pub async fn setup_status(
    store: &dyn Store,
    org: &Organization,
    parts: StatusParts,
) -> Result<SetupStatus, Error> {
    let connection = store.saml_connection(org.id).await?;
    let idp = match &connection {
        Some(c) => SsoService::idp_metadata(c)?,
        None => None,
    };
    let last_good_signin = store
        .last_audit_event(org.id, SIGNIN_OPERATION, true)
        .await?;
    let last_signin = if parts.last_signin {
        store
            .last_audit_event(org.id, SIGNIN_OPERATION, false)
            .await?
    } else {
        None
    };
    let (live_tokens, last_scim) = if parts.scim {
        let mut tokens: Vec<ScimTokenRecord> = store
            .list_tokens(org.id)
            .await?
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        let last = store
            .last_audit_event(org.id, SCIM_OPERATION_PREFIX, false)
            .await?;
        (tokens, last)
    } else {
        (Vec::new(), None)
    };
    Ok(SetupStatus {
        connection,
        idp,
        last_good_signin,
        last_signin,
        live_tokens,
        last_scim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, SystemClock};

    fn kind(bytes: &[u8]) -> MetadataProblemKind {
        match check_idp_metadata(bytes, SystemClock.now()) {
            Err(p) => {
                assert!(p.message.ends_with('.'), "{}", p.message);
                p.kind
            }
            Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(bytes)),
        }
    }

    const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

    #[test]
    fn each_wrong_file_has_its_class() {
        use MetadataProblemKind as K;
        assert_eq!(kind(b""), K::Empty);
        assert_eq!(kind(b" \n"), K::Empty);
        assert_eq!(kind(&vec![b'<'; MAX_METADATA_BYTES + 1]), K::TooLarge);
        assert_eq!(kind(&[0x30, 0x82, 0x03, 0xff, 0x80]), K::CertificateFile);
        assert_eq!(
            kind(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
            K::CertificateFile
        );
        assert_eq!(kind(&[0xff, 0xfe, 0x00, 0x3c]), K::NotText);
        assert_eq!(kind(b"hello"), K::NotXml);
        assert_eq!(kind(b"<a><b></a>"), K::NotXml);
        assert_eq!(
            kind(b"<!DOCTYPE x [<!ENTITY e \"x\">]><x>&e;</x>"),
            K::Doctype
        );
        assert_eq!(kind(b"<html><body>Sign in</body></html>"), K::NotMetadata);
        assert_eq!(
            kind(format!("<EntityDescriptor xmlns=\"{MD}\" entityID=\"x\"><SPSSODescriptor/></EntityDescriptor>").as_bytes()),
            K::SpMetadata
        );
        assert_eq!(
            kind(format!("<EntityDescriptor xmlns=\"{MD}\" entityID=\"x\"><Organization/></EntityDescriptor>").as_bytes()),
            K::NoIdpDescriptor
        );
        assert_eq!(
            kind(format!("<EntityDescriptor xmlns=\"{MD}\" entityID=\"x\"><IDPSSODescriptor/></EntityDescriptor>").as_bytes()),
            K::NoSigningCertificate
        );
        assert_eq!(
            kind(format!("<EntityDescriptor xmlns=\"{MD}\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"x\"><IDPSSODescriptor><KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor></IDPSSODescriptor></EntityDescriptor>").as_bytes()),
            K::UnreadableCertificate
        );
    }

    #[test]
    fn byte_order_mark_is_not_a_problem() {
        assert_eq!(
            check_idp_metadata(b"\xef\xbb\xbfhello", SystemClock.now())
                .unwrap_err()
                .kind,
            MetadataProblemKind::NotXml
        );
    }

    #[test]
    fn days_print_as_dates() {
        assert_eq!(
            day(time::macros::datetime!(2026-03-04 05:06 UTC)),
            "2026-03-04"
        );
    }
}
