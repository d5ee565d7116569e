//! `EncryptedAssertion` decryption (XML Encryption 1.0/1.1, the subset SAML IdPs use).
//!
//! Content: AES-128/256 in CBC or GCM. Key transport: RSA-OAEP, as
//! `rsa-oaep-mgf1p` (MGF1 with SHA-1, digest SHA-1 by default) or xmlenc11
//! `rsa-oaep` (DigestMethod and MGF given). PKCS#1 v1.5 key transport
//! (`rsa-1_5`) is refused: it is the classic Bleichenbacher oracle.
//!
//! Every failure after the algorithms are known is the same error, so the
//! answers cannot serve as a padding oracle. Known limit: RustCrypto `rsa`
//! private-key operations are not constant time (RUSTSEC-2023-0071, "Marvin");
//! OAEP makes that far harder to exploit than PKCS#1 v1.5, and the server
//! should rate-limit ACS posts per connection anyway. The decrypted assertion is then
//! verified exactly like a plain one by the caller.

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use aes_gcm::aead::{Aead, KeyInit};
use roxmltree::Node;
use rsa::{Oaep, RsaPrivateKey};

use crate::dsig::b64;
use crate::error::ResponseError;
use crate::xml::{self, children, ns};

pub const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
pub const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
const MGF1_SHA384: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha384";
const MGF1_SHA512: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha512";

#[derive(Clone, Copy)]
enum Content {
    Cbc128,
    Cbc256,
    Gcm128,
    Gcm256,
}

#[derive(Clone, Copy)]
enum Md {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn unsupported(what: &str) -> ResponseError {
    ResponseError::UnsupportedEncryption(what.to_owned())
}

fn invalid(reason: &str) -> ResponseError {
    ResponseError::Invalid {
        element: "EncryptedAssertion",
        reason: reason.to_owned(),
    }
}

fn text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|c| c.is_text())
        .filter_map(|c| c.text())
        .collect()
}

fn method_of<'a>(node: Node<'a, '_>) -> Result<&'a str, ResponseError> {
    xml::single_child(node, ns::XENC, "EncryptionMethod")
        .map_err(|_| invalid("EncryptionMethod repeated"))?
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or_else(|| invalid("EncryptionMethod missing"))
}

fn cipher_value(node: Node<'_, '_>) -> Result<Vec<u8>, ResponseError> {
    let cd = xml::required_child(node, ns::XENC, "CipherData")
        .map_err(|_| invalid("CipherData missing or repeated"))?;
    let cv = xml::required_child(cd, ns::XENC, "CipherValue")
        .map_err(|_| invalid("CipherValue missing (CipherReference is not supported)"))?;
    b64(&text(cv)).ok_or_else(|| invalid("CipherValue is not base64"))
}

fn md_of(uri: Option<&str>, default: Md) -> Result<Md, ResponseError> {
    Ok(match uri {
        None => default,
        Some(SHA1) => Md::Sha1,
        Some(crate::dsig::SHA256) => Md::Sha256,
        Some(crate::dsig::SHA384) => Md::Sha384,
        Some(crate::dsig::SHA512) => Md::Sha512,
        Some(other) => return Err(unsupported(other)),
    })
}

fn oaep(digest: Md, mgf: Md) -> Oaep {
    use sha1::Sha1;
    use sha2::{Sha256, Sha384, Sha512};
    macro_rules! pick {
        ($d:ty) => {
            match mgf {
                Md::Sha1 => Oaep::new_with_mgf_hash::<$d, Sha1>(),
                Md::Sha256 => Oaep::new_with_mgf_hash::<$d, Sha256>(),
                Md::Sha384 => Oaep::new_with_mgf_hash::<$d, Sha384>(),
                Md::Sha512 => Oaep::new_with_mgf_hash::<$d, Sha512>(),
            }
        };
    }
    match digest {
        Md::Sha1 => pick!(Sha1),
        Md::Sha256 => pick!(Sha256),
        Md::Sha384 => pick!(Sha384),
        Md::Sha512 => pick!(Sha512),
    }
}

/// Unwraps the content key from one `EncryptedKey`.
fn unwrap_key(ek: Node<'_, '_>, key: &RsaPrivateKey) -> Result<Vec<u8>, ResponseError> {
    let method = xml::single_child(ek, ns::XENC, "EncryptionMethod")
        .map_err(|_| invalid("EncryptionMethod repeated"))?
        .ok_or_else(|| invalid("EncryptedKey without EncryptionMethod"))?;
    let alg = method.attribute("Algorithm").unwrap_or_default();
    let digest_uri = method
        .children()
        .find(|c| xml::is(*c, ns::DSIG, "DigestMethod"))
        .and_then(|c| c.attribute("Algorithm"));
    if method
        .children()
        .any(|c| c.is_element() && c.tag_name().name() == "OAEPparams")
    {
        return Err(unsupported("RSA-OAEP with OAEPparams"));
    }
    let padding = match alg {
        RSA_OAEP_MGF1P => oaep(md_of(digest_uri, Md::Sha1)?, Md::Sha1),
        RSA_OAEP => {
            let mgf = match method
                .children()
                .find(|c| xml::is(*c, ns::XENC11, "MGF"))
                .and_then(|c| c.attribute("Algorithm"))
            {
                None | Some(MGF1_SHA1) => Md::Sha1,
                Some(MGF1_SHA256) => Md::Sha256,
                Some(MGF1_SHA384) => Md::Sha384,
                Some(MGF1_SHA512) => Md::Sha512,
                Some(other) => return Err(unsupported(other)),
            };
            oaep(md_of(digest_uri, Md::Sha1)?, mgf)
        }
        other => return Err(unsupported(other)),
    };
    let wrapped = cipher_value(ek)?;
    key.decrypt(padding, &wrapped)
        .map_err(|_| ResponseError::DecryptionFailed)
}

/// Decrypts an `EncryptedAssertion` and returns the plaintext (the `Assertion` XML).
pub(crate) fn decrypt_assertion(
    encrypted: Node<'_, '_>,
    key: &RsaPrivateKey,
) -> Result<Vec<u8>, ResponseError> {
    let data = xml::required_child(encrypted, ns::XENC, "EncryptedData")
        .map_err(|_| invalid("exactly one EncryptedData is expected"))?;
    let content = match method_of(data)? {
        AES128_CBC => Content::Cbc128,
        AES256_CBC => Content::Cbc256,
        AES128_GCM => Content::Gcm128,
        AES256_GCM => Content::Gcm256,
        other => return Err(unsupported(other)),
    };
    // EncryptedKey inside EncryptedData/KeyInfo (Okta) or beside EncryptedData.
    let key_info_keys = data
        .children()
        .filter(|c| xml::is(*c, ns::DSIG, "KeyInfo"))
        .flat_map(|ki| children(ki, ns::XENC, "EncryptedKey"));
    let sibling_keys = children(encrypted, ns::XENC, "EncryptedKey");
    let candidates: Vec<Node<'_, '_>> = key_info_keys.chain(sibling_keys).collect();
    if candidates.is_empty() {
        return Err(invalid("no EncryptedKey"));
    }
    // Refuse a forbidden algorithm before trying anything, and try each key
    // (an IdP may encrypt for several recipients).
    let mut last = ResponseError::DecryptionFailed;
    let mut content_key = None;
    for ek in candidates {
        match unwrap_key(ek, key) {
            Ok(k) => {
                content_key = Some(k);
                break;
            }
            Err(e @ ResponseError::UnsupportedEncryption(_)) => return Err(e),
            Err(e) => last = e,
        }
    }
    let content_key = content_key.ok_or(last)?;
    let ciphertext = cipher_value(data)?;
    decrypt_content(content, &content_key, &ciphertext).ok_or(ResponseError::DecryptionFailed)
}

fn decrypt_content(content: Content, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match content {
        Content::Cbc128 => cbc::<aes::Aes128>(key, data),
        Content::Cbc256 => cbc::<aes::Aes256>(key, data),
        Content::Gcm128 => gcm::<aes_gcm::Aes128Gcm>(key, data),
        Content::Gcm256 => gcm::<aes_gcm::Aes256Gcm>(key, data),
    }
}

fn cbc<C>(key: &[u8], data: &[u8]) -> Option<Vec<u8>>
where
    C: aes::cipher::BlockDecrypt + aes::cipher::BlockCipher + aes::cipher::KeyInit,
    cbc::Decryptor<C>: KeyIvInit,
{
    if data.len() < 32 || !data.chunks_exact(16).remainder().is_empty() {
        return None;
    }
    let (iv, body) = data.split_at(16);
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    let mut buf = body.to_vec();
    let plain = dec
        .decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
        .ok()?;
    // XML Encryption padding: the last byte says how many bytes to drop; the
    // others are arbitrary (not PKCS#7).
    let pad = usize::from(*plain.last()?);
    if pad == 0 || pad > 16 || pad > plain.len() {
        return None;
    }
    let len = plain.len() - pad;
    Some(plain.get(..len)?.to_vec())
}

fn gcm<A>(key: &[u8], data: &[u8]) -> Option<Vec<u8>>
where
    A: KeyInit + Aead,
{
    if data.len() < 12 + 16 {
        return None;
    }
    let (iv, body) = data.split_at(12);
    let cipher = A::new_from_slice(key).ok()?;
    cipher
        .decrypt(aes_gcm::aead::Nonce::<A>::from_slice(iv), body)
        .ok()
}
