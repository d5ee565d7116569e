//! Errors. Each says what is wrong in words an admin can act on; response
//! errors also carry a short stable code for audit logs and metrics.

use thiserror::Error;
use time::OffsetDateTime;

/// XML could not be read at all, or broke one of our limits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    #[error("the document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the document has more than {limit} nodes")]
    TooManyNodes { limit: u32 },
    #[error("the document nests elements deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("the document carries a DTD (<!DOCTYPE>), which is refused")]
    DtdRefused,
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("element <{0}> is missing")]
    Missing(&'static str),
    #[error("element <{0}> appears more than once")]
    Repeated(&'static str),
    #[error("unexpected element <{0}> inside a simple value")]
    UnexpectedElement(String),
}

/// What is wrong with an uploaded IdP metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    #[error("the file is not readable XML ({0}); upload the IdP metadata XML file exactly as your identity provider offers it")]
    NotXml(XmlError),
    #[error("this is not SAML IdP metadata: {0}; in Okta, open the application's Sign On tab and download the \"Identity Provider metadata\"")]
    NotIdpMetadata(String),
    #[error("the IdP metadata has no signing certificate (KeyDescriptor with an X509Certificate); download the metadata again from your identity provider")]
    NoSigningCertificate,
    #[error("certificate {index} in the IdP metadata cannot be read: {reason}")]
    BadCertificate { index: usize, reason: String },
    #[error("certificate {index} in the IdP metadata uses an unsupported key type ({key_type}); use an RSA (2048 bits or more) or ECDSA P-256/P-384 signing certificate")]
    UnsupportedKeyType { index: usize, key_type: String },
    #[error("every signing certificate in the IdP metadata has expired (the newest expired at {not_after}); activate a new certificate at your identity provider and upload its metadata again")]
    CertificateExpired { not_after: OffsetDateTime },
}

/// Problems with SP key material or request generation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("the private key cannot be read: {0}")]
    BadPrivateKey(String),
    #[error("the certificate cannot be read: {0}")]
    BadCertificate(String),
    #[error("the certificate does not belong to the private key")]
    Mismatch,
    #[error("key generation failed: {0}")]
    Generation(String),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("RelayState is {len} bytes; SAML allows at most 80")]
    RelayStateTooLong { len: usize },
    #[error("the identity provider wants signed requests but no SP signing key is configured; generate an SP key for this connection")]
    SigningKeyMissing,
    #[error(
        "the IdP metadata has no HTTP-Redirect SingleSignOnService; SP-initiated sign-in needs one"
    )]
    NoRedirectEndpoint,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("could not compress the request: {0}")]
    Deflate(String),
}

/// Why a SAML response was refused. Display is for the admin (audit log
/// details); [`ResponseError::code`] is the short stable reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResponseError {
    #[error("the SAMLResponse is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the SAMLResponse is not valid base64")]
    NotBase64,
    #[error("the SAMLResponse is not UTF-8 text")]
    NotUtf8,
    #[error("the SAMLResponse carries a DTD (<!DOCTYPE>), which is refused")]
    DtdRefused,
    #[error("the SAMLResponse is not acceptable XML: {0}")]
    Xml(XmlError),
    #[error(
        "the SAMLResponse contains XML comments or processing instructions, which are refused"
    )]
    CommentsRefused,
    #[error("the document is not a SAML 2.0 Response (root element is {0})")]
    NotAResponse(String),
    #[error("the document holds more than one Response")]
    MultipleResponses,
    #[error("the identity provider answered with status {status}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    StatusNotSuccess {
        status: String,
        message: Option<String>,
    },
    #[error("the Response carries no assertion")]
    NoAssertion,
    #[error("the document holds more than one assertion")]
    MultipleAssertions,
    #[error("the assertion is not a direct child of the Response")]
    AssertionMisplaced,
    #[error("the ID {0:?} appears more than once in the document")]
    DuplicateId(String),
    #[error("a Signature element sits where no signature is expected (only the Response and the Assertion may be signed)")]
    SignatureMisplaced,
    #[error("{0} carries more than one Signature")]
    MultipleSignatures(&'static str),
    #[error("the assertion is not signed; the identity provider must sign assertions")]
    AssertionUnsigned,
    #[error("the signature is malformed: {0}")]
    SignatureMalformed(String),
    #[error("the signature uses {0}, which is refused (accepted: RSA or ECDSA with SHA-256/384/512, exclusive c14n, enveloped signatures)")]
    UnsupportedAlgorithm(String),
    #[error("the signature's reference {found:?} does not point at the signed element (expected {expected:?})")]
    ReferenceMismatch { expected: String, found: String },
    #[error("the signed content was changed after signing (digest mismatch)")]
    DigestMismatch,
    #[error("the signature does not verify with any certificate of the uploaded IdP metadata")]
    SignatureMismatch,
    #[error("issuer mismatch: expected {expected:?}, got {got:?}")]
    IssuerMismatch { expected: String, got: String },
    #[error("destination mismatch: expected {expected:?}, got {got:?}")]
    DestinationMismatch { expected: String, got: String },
    #[error("recipient mismatch: expected {expected:?}, got {got:?}")]
    RecipientMismatch { expected: String, got: String },
    #[error("audience mismatch: expected {expected:?}, got {got:?}")]
    AudienceMismatch { expected: String, got: Vec<String> },
    #[error("the assertion is not valid before {0}")]
    NotYetValid(OffsetDateTime),
    #[error("the assertion expired at {0}")]
    Expired(OffsetDateTime),
    #[error("the assertion has no bearer SubjectConfirmation")]
    NoBearerConfirmation,
    #[error("InResponseTo mismatch: expected {expected:?}, got {got:?}")]
    InResponseToMismatch {
        expected: Option<String>,
        got: Option<String>,
    },
    #[error(
        "the assertion is encrypted but no SP decryption key is configured for this connection"
    )]
    NoDecryptionKey,
    #[error("the encrypted assertion cannot be decrypted with this connection's SP key")]
    DecryptionFailed,
    #[error("the assertion is encrypted with {0}, which is refused (accepted: AES-128/256 CBC or GCM, with RSA-OAEP key transport)")]
    UnsupportedEncryption(String),
    #[error("the {element} is invalid: {reason}")]
    Invalid {
        element: &'static str,
        reason: String,
    },
}

impl ResponseError {
    /// Short, stable reason for audit logs and metrics.
    pub fn code(&self) -> &'static str {
        use ResponseError::*;
        match self {
            TooLarge { .. } => "too_large",
            NotBase64 => "not_base64",
            NotUtf8 => "not_utf8",
            DtdRefused => "dtd_refused",
            Xml(_) => "bad_xml",
            CommentsRefused => "comments_refused",
            NotAResponse(_) => "not_a_response",
            MultipleResponses => "multiple_responses",
            StatusNotSuccess { .. } => "status_not_success",
            NoAssertion => "no_assertion",
            MultipleAssertions => "multiple_assertions",
            AssertionMisplaced => "assertion_misplaced",
            DuplicateId(_) => "duplicate_id",
            SignatureMisplaced => "signature_misplaced",
            MultipleSignatures(_) => "multiple_signatures",
            AssertionUnsigned => "assertion_unsigned",
            SignatureMalformed(_) => "signature_malformed",
            UnsupportedAlgorithm(_) => "unsupported_algorithm",
            ReferenceMismatch { .. } => "reference_mismatch",
            DigestMismatch => "digest_mismatch",
            SignatureMismatch => "signature_mismatch",
            IssuerMismatch { .. } => "issuer_mismatch",
            DestinationMismatch { .. } => "destination_mismatch",
            RecipientMismatch { .. } => "recipient_mismatch",
            AudienceMismatch { .. } => "audience_mismatch",
            NotYetValid(_) => "not_yet_valid",
            Expired(_) => "expired",
            NoBearerConfirmation => "no_bearer_confirmation",
            InResponseToMismatch { .. } => "in_response_to_mismatch",
            NoDecryptionKey => "no_decryption_key",
            DecryptionFailed => "decryption_failed",
            UnsupportedEncryption(_) => "unsupported_encryption",
            Invalid { .. } => "invalid",
        }
    }
}

impl From<XmlError> for ResponseError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::DtdRefused => ResponseError::DtdRefused,
            other => ResponseError::Xml(other),
        }
    }
}
