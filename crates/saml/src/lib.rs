//! SAML 2.0 service provider, as pure functions: IdP metadata, SP metadata,
//! AuthnRequest (HTTP-Redirect), Response validation (HTTP-POST), exclusive
//! c14n, XML signature verification and XML decryption.
//!
//! No I/O, no clock, no storage: time is always a parameter, and whatever must
//! be remembered (request IDs, the assertion replay cache) is returned to the
//! caller to keep. One XML parser (roxmltree, no DTD, bounded), one rule for
//! claims: they are read only from bytes whose signature was verified with a
//! key of the uploaded metadata.
//!
//! What the server calls:
//! - [`SpKeyPair::generate`] / [`SpKeyPair::from_pem`] for the connection's SP key;
//! - [`IdpMetadata::parse`] when the admin uploads metadata (errors say what to do);
//! - [`sp_metadata_xml`] for the metadata URL;
//! - [`login_redirect`] (or [`redirect_authn_request`]) for SP-initiated sign-in:
//!   keep the returned request ID, single use, until the answer arrives;
//! - [`validate_response`] on the ACS POST: store
//!   [`VerifiedAssertion::assertion_id`] until [`VerifiedAssertion::remember_until`]
//!   and refuse it if seen again; log [`ResponseError::code`] and its Display.
//!
//! Decisions worth knowing:
//! - The Assertion must be signed. A signed Response around an unsigned
//!   assertion is refused, although its signature covers the assertion: every
//!   IdP we target signs assertions, and one rule serves plain and encrypted ones.
//! - Comments and processing instructions anywhere in a Response are refused.
//! - A signature on uploaded metadata is not checked (the admin is the trust
//!   anchor); certificate expiry is checked at upload, not at each sign-in, as
//!   IdPs and other SPs do.

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
    peek_in_response_to, validate_response, validate_response_xml, ValidationContext,
    VerifiedAssertion,
};
