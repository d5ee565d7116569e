//! AuthnRequest for the HTTP-Redirect binding (SAML bindings §3.4):
//! XML → raw DEFLATE → base64 → URL encoding, optionally signed over the
//! query string `SAMLRequest=…&RelayState=…&SigAlg=…` with RSA-SHA256.

use std::io::{Read, Write};

use base64::Engine;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use rand::RngCore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::dsig::RSA_SHA256;
use crate::error::{KeyError, RequestError};
use crate::keys::SpKeyPair;
use crate::metadata::{IdpMetadata, BINDING_HTTP_POST};
use crate::xml::{escape, ns};

/// Longest RelayState SAML allows.
pub const MAX_RELAY_STATE: usize = 80;

/// Inputs of one AuthnRequest.
#[derive(Clone, Copy, Debug)]
pub struct AuthnRequestParams<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    /// The IdP's HTTP-Redirect SSO URL (becomes `Destination`).
    pub idp_sso_url: &'a str,
    pub relay_state: Option<&'a str>,
    /// `NameIDPolicy Format`, if we ask for one.
    pub name_id_format: Option<&'a str>,
    pub now: OffsetDateTime,
    /// Signs the query when given (do so when the IdP wants signed requests).
    pub signing_key: Option<&'a SpKeyPair>,
}

/// The redirect to send the browser to, and what to remember for the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectRequest {
    /// The request ID: the Response must carry it as InResponseTo.
    pub id: String,
    pub issue_instant: OffsetDateTime,
    /// Full URL: the IdP SSO URL with `SAMLRequest`, `RelayState`, `SigAlg`, `Signature`.
    pub url: String,
}

/// A fresh request ID: `_` then 128 random bits in hex (an NCName, unguessable).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Formats an instant the way SAML wants it (UTC, `Z`, whole seconds).
pub fn saml_time(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// The AuthnRequest XML for `id`.
pub fn authn_request_xml(id: &str, p: &AuthnRequestParams<'_>) -> String {
    let policy = p
        .name_id_format
        .map(|f| {
            format!(
                "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
                escape(f)
            )
        })
        .unwrap_or_default();
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{}\" xmlns:saml=\"{}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{}\"><saml:Issuer>{}</saml:Issuer>{}</samlp:AuthnRequest>",
        ns::PROTOCOL,
        ns::ASSERTION,
        escape(id),
        saml_time(p.now),
        escape(p.idp_sso_url),
        escape(p.acs_url),
        BINDING_HTTP_POST,
        escape(p.sp_entity_id),
        policy,
    )
}

/// Builds the redirect URL for a new AuthnRequest.
pub fn redirect_authn_request(p: &AuthnRequestParams<'_>) -> Result<RedirectRequest, RequestError> {
    let id = new_request_id();
    let xml = authn_request_xml(&id, p);
    let url = redirect_url(p.idp_sso_url, &xml, p.relay_state, p.signing_key)?;
    Ok(RedirectRequest {
        id,
        issue_instant: p.now,
        url,
    })
}

/// SP-initiated sign-in against `idp`: its HTTP-Redirect SSO endpoint, the
/// request signed exactly when the metadata says `WantAuthnRequestsSigned`.
pub fn login_redirect(
    idp: &IdpMetadata,
    sp_entity_id: &str,
    acs_url: &str,
    relay_state: Option<&str>,
    now: OffsetDateTime,
    sp_key: Option<&SpKeyPair>,
) -> Result<RedirectRequest, RequestError> {
    let idp_sso_url = idp
        .redirect_sso_url()
        .ok_or(RequestError::NoRedirectEndpoint)?;
    let signing_key = if idp.want_authn_requests_signed {
        Some(sp_key.ok_or(RequestError::SigningKeyMissing)?)
    } else {
        None
    };
    redirect_authn_request(&AuthnRequestParams {
        sp_entity_id,
        acs_url,
        idp_sso_url,
        relay_state,
        name_id_format: None,
        now,
        signing_key,
    })
}

/// Encodes `xml` for the HTTP-Redirect binding and appends it to `base_url`.
pub fn redirect_url(
    base_url: &str,
    xml: &str,
    relay_state: Option<&str>,
    signing_key: Option<&SpKeyPair>,
) -> Result<String, RequestError> {
    if let Some(rs) = relay_state {
        if rs.len() > MAX_RELAY_STATE {
            return Err(RequestError::RelayStateTooLong { len: rs.len() });
        }
    }
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(xml.as_bytes())
        .map_err(|e| RequestError::Deflate(e.to_string()))?;
    let deflated = enc
        .finish()
        .map_err(|e| RequestError::Deflate(e.to_string()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(deflated);

    let mut query = format!("SAMLRequest={}", url_encode(&b64));
    if let Some(rs) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&url_encode(rs));
    }
    if let Some(key) = signing_key {
        query.push_str("&SigAlg=");
        query.push_str(&url_encode(RSA_SHA256));
        let signature = sign_rsa_sha256(key, query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&url_encode(
            &base64::engine::general_purpose::STANDARD.encode(signature),
        ));
    }
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok(format!("{base_url}{sep}{query}"))
}

fn sign_rsa_sha256(key: &SpKeyPair, data: &[u8]) -> Result<Vec<u8>, KeyError> {
    use rsa::signature::{SignatureEncoding, Signer};
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key.private.clone());
    let sig = signer
        .try_sign(data)
        .map_err(|e| KeyError::Signing(e.to_string()))?;
    Ok(sig.to_vec())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reverses the redirect encoding of a `SAMLRequest` value that was already
/// URL-decoded: base64, then inflate (bounded). For tests and diagnostics.
pub fn decode_redirect_value(value: &str) -> Option<String> {
    let raw = crate::dsig::b64(value)?;
    let mut out = String::new();
    DeflateDecoder::new(raw.as_slice())
        .take(crate::xml::MAX_XML_BYTES as u64 + 1)
        .read_to_string(&mut out)
        .ok()?;
    (out.len() <= crate::xml::MAX_XML_BYTES).then_some(out)
}
