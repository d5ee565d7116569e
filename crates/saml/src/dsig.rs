//! XML-DSig verification of one enveloped signature, the only shape SAML uses.
//!
//! Accepted: exactly one `Signature` as a direct child of the signed element,
//! one `SignedInfo`, one `Reference` whose URI is `#` + the parent's `ID`,
//! transforms exactly `enveloped-signature` then `exc-c14n` (optionally with
//! `InclusiveNamespaces`), exc-c14n for `SignedInfo`, SHA-256/384/512 digests,
//! RSA PKCS#1 v1.5 or ECDSA P-256/P-384 with SHA-256/384/512. Everything else
//! (SHA-1, HMAC, DSA, XPath and other transforms, `Object`, several references)
//! is refused. Keys come only from the uploaded metadata; `KeyInfo` is ignored.
//!
//! On success the canonical bytes that were digested are returned: callers
//! re-parse those and read claims from them only.

use roxmltree::Node;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::c14n::canonicalize;
use crate::error::ResponseError;
use crate::keys::{IdpCertificate, PublicKey};
use crate::xml::{children, ns, single_child};

pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
pub const ECDSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";

pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SigAlg {
    Rsa(Hash),
    Ecdsa(Hash),
}

fn sig_alg(uri: &str) -> Result<SigAlg, ResponseError> {
    Ok(match uri {
        RSA_SHA256 => SigAlg::Rsa(Hash::Sha256),
        RSA_SHA384 => SigAlg::Rsa(Hash::Sha384),
        RSA_SHA512 => SigAlg::Rsa(Hash::Sha512),
        ECDSA_SHA256 => SigAlg::Ecdsa(Hash::Sha256),
        ECDSA_SHA384 => SigAlg::Ecdsa(Hash::Sha384),
        ECDSA_SHA512 => SigAlg::Ecdsa(Hash::Sha512),
        other => return Err(ResponseError::UnsupportedAlgorithm(other.to_owned())),
    })
}

fn digest_alg(uri: &str) -> Result<Hash, ResponseError> {
    Ok(match uri {
        SHA256 => Hash::Sha256,
        SHA384 => Hash::Sha384,
        SHA512 => Hash::Sha512,
        other => return Err(ResponseError::UnsupportedAlgorithm(other.to_owned())),
    })
}

fn malformed(reason: &str) -> ResponseError {
    ResponseError::SignatureMalformed(reason.to_owned())
}

/// Decodes base64 that may be wrapped over lines.
pub(crate) fn b64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

fn text(node: Node<'_, '_>) -> String {
    node.children()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect()
}

/// Only these element children, each at most once, and nothing else but whitespace.
fn only_children(node: Node<'_, '_>, allowed: &[&str]) -> Result<(), ResponseError> {
    let mut seen: Vec<&str> = Vec::new();
    for c in node.children() {
        if c.is_element() {
            let name = c.tag_name().name();
            if c.tag_name().namespace() != Some(ns::DSIG) || !allowed.contains(&name) {
                return Err(malformed(&format!(
                    "unexpected <{name}> in <{}>",
                    node.tag_name().name()
                )));
            }
            if seen.contains(&name) {
                return Err(malformed(&format!(
                    "<{name}> repeated in <{}>",
                    node.tag_name().name()
                )));
            }
            seen.push(name);
        } else if c.is_text() && !text(c).trim().is_empty() {
            return Err(malformed("text inside signature structure"));
        }
    }
    Ok(())
}

fn required<'a, 'i>(
    node: Node<'a, 'i>,
    local: &'static str,
) -> Result<Node<'a, 'i>, ResponseError> {
    single_child(node, ns::DSIG, local)
        .map_err(|_| malformed(&format!("<{local}> repeated")))?
        .ok_or_else(|| malformed(&format!("<{local}> missing")))
}

fn algorithm<'a>(node: Node<'a, '_>) -> Result<&'a str, ResponseError> {
    node.attribute("Algorithm")
        .ok_or_else(|| malformed(&format!("<{}> without Algorithm", node.tag_name().name())))
}

/// The PrefixList of an `ec:InclusiveNamespaces` child, if any.
fn inclusive_prefixes(method: Node<'_, '_>) -> Result<Vec<String>, ResponseError> {
    let mut out = Vec::new();
    for c in method.children().filter(|c| c.is_element()) {
        if c.tag_name().namespace() == Some(ns::EXC_C14N)
            && c.tag_name().name() == "InclusiveNamespaces"
        {
            if let Some(list) = c.attribute("PrefixList") {
                for p in list.split_ascii_whitespace() {
                    // Verifiers disagree on it (libxml2 ignores it, the spec
                    // honours it) and no IdP we know sends it: refuse.
                    if p == "#default" {
                        return Err(ResponseError::UnsupportedAlgorithm(
                            "InclusiveNamespaces PrefixList=\"#default\"".into(),
                        ));
                    }
                    out.push(p.to_owned());
                }
            }
        } else {
            return Err(malformed(&format!(
                "unexpected <{}> in a c14n method",
                c.tag_name().name()
            )));
        }
    }
    Ok(out)
}

/// Verifies the enveloped signature of `element` with the metadata keys.
/// `Ok(None)` when the element carries no signature.
pub(crate) fn verify_enveloped(
    element: Node<'_, '_>,
    keys: &[IdpCertificate],
    label: &'static str,
) -> Result<Option<Vec<u8>>, ResponseError> {
    let mut sigs = children(element, ns::DSIG, "Signature");
    let Some(sig) = sigs.next() else {
        return Ok(None);
    };
    if sigs.next().is_some() {
        return Err(ResponseError::MultipleSignatures(label));
    }
    let id = element
        .attribute("ID")
        .ok_or_else(|| malformed(&format!("the signed {label} has no ID")))?;

    only_children(sig, &["SignedInfo", "SignatureValue", "KeyInfo"])?;
    let signed_info = required(sig, "SignedInfo")?;
    let signature_value = required(sig, "SignatureValue")?;

    only_children(
        signed_info,
        &["CanonicalizationMethod", "SignatureMethod", "Reference"],
    )?;
    let c14n_method = required(signed_info, "CanonicalizationMethod")?;
    let c14n_uri = algorithm(c14n_method)?;
    if c14n_uri != EXC_C14N {
        return Err(ResponseError::UnsupportedAlgorithm(c14n_uri.to_owned()));
    }
    let si_prefixes = inclusive_prefixes(c14n_method)?;
    let alg = sig_alg(algorithm(required(signed_info, "SignatureMethod")?)?)?;

    let reference = required(signed_info, "Reference")?;
    let uri = reference.attribute("URI").unwrap_or_default();
    if uri.strip_prefix('#') != Some(id) {
        return Err(ResponseError::ReferenceMismatch {
            expected: format!("#{id}"),
            found: uri.to_owned(),
        });
    }
    only_children(reference, &["Transforms", "DigestMethod", "DigestValue"])?;
    let transforms = required(reference, "Transforms")?;
    let list: Vec<Node<'_, '_>> = transforms.children().filter(|c| c.is_element()).collect();
    let [first, second] = list.as_slice() else {
        return Err(malformed(
            "expected exactly the enveloped-signature and exc-c14n transforms",
        ));
    };
    for t in [first, second] {
        if t.tag_name().namespace() != Some(ns::DSIG) || t.tag_name().name() != "Transform" {
            return Err(malformed("unexpected element in <Transforms>"));
        }
    }
    let (t1, t2) = (algorithm(*first)?, algorithm(*second)?);
    if t1 != ENVELOPED {
        return Err(ResponseError::UnsupportedAlgorithm(t1.to_owned()));
    }
    if t2 != EXC_C14N {
        return Err(ResponseError::UnsupportedAlgorithm(t2.to_owned()));
    }
    let ref_prefixes = inclusive_prefixes(*second)?;
    let hash = digest_alg(algorithm(required(reference, "DigestMethod")?)?)?;
    let expected_digest = b64(&text(required(reference, "DigestValue")?))
        .ok_or_else(|| malformed("DigestValue is not base64"))?;

    let canonical = canonicalize(element, Some(sig.id()), &ref_prefixes)?;
    if hash.digest(&canonical) != expected_digest {
        return Err(ResponseError::DigestMismatch);
    }

    let signed_bytes = canonicalize(signed_info, None, &si_prefixes)?;
    let signature =
        b64(&text(signature_value)).ok_or_else(|| malformed("SignatureValue is not base64"))?;
    if keys
        .iter()
        .any(|k| verify_raw(&k.key, alg, &signed_bytes, &signature))
    {
        Ok(Some(canonical))
    } else {
        Err(ResponseError::SignatureMismatch)
    }
}

fn verify_raw(key: &PublicKey, alg: SigAlg, data: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    match (key, alg) {
        (PublicKey::Rsa(k), SigAlg::Rsa(h)) => {
            use rsa::traits::PublicKeyParts;
            // ring hashes `data` itself; 2048 bits is the floor (keys below are refused at
            // metadata upload too).
            let params = match h {
                Hash::Sha256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
            };
            let (n, e) = (k.n().to_bytes_be(), k.e().to_bytes_be());
            ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, data, signature)
                .is_ok()
        }
        (PublicKey::P256(k), SigAlg::Ecdsa(h)) => {
            // XML-DSig carries r || s, not DER.
            let Ok(sig) = p256::ecdsa::Signature::from_slice(signature) else {
                return false;
            };
            k.verify_prehash(&h.digest(data), &sig).is_ok()
        }
        (PublicKey::P384(k), SigAlg::Ecdsa(h)) => {
            let Ok(sig) = p384::ecdsa::Signature::from_slice(signature) else {
                return false;
            };
            k.verify_prehash(&h.digest(data), &sig).is_ok()
        }
        _ => false,
    }
}
