//! SAML 2.0 service provider, as pure functions: IdP metadata, SP metadata,
//! AuthnRequest (HTTP-Redirect), Response validation (HTTP-POST), exclusive
//! c14n, XML signature verification and XML decryption.
//!
//! No I/O, no clock, no storage: time is always a parameter, and whatever must
//! be remembered (request IDs, the assertion replay cache) is returned to the
//! caller to keep. One XML parser (roxmltree, no DTD, bounded), one rule for
//! claims: they are read only from bytes whose signature was verified with a
//! key of the uploaded metadata.

pub mod authn;
pub mod c14n;
pub mod dsig;
pub mod encryption;
pub mod error;
pub mod keys;
pub mod metadata;
pub mod response;
pub mod xml;

pub use authn::{login_redirect, redirect_authn_request, AuthnRequestParams, RedirectRequest};
pub use error::{KeyError, MetadataError, RequestError, ResponseError, XmlError};
pub use keys::{IdpCertificate, PublicKey, SpKeyPair};
pub use metadata::{sp_metadata_xml, IdpMetadata, SpMetadataParams, SsoEndpoint};
pub use response::{
    validate_response, validate_response_xml, ValidationContext, VerifiedAssertion,
};
