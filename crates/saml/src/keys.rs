//! Key material: IdP signing certificates (from metadata only) and the
//! per-connection SP key pair (RSA + self-signed certificate) used to decrypt
//! assertions and sign AuthnRequests.

use std::time::Duration as StdDuration;

use der::{Decode, Encode};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::Certificate;

use crate::error::KeyError;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Smallest RSA modulus accepted for IdP signatures.
pub const MIN_RSA_BITS: usize = 2048;

/// A public key that may verify IdP signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

/// Why a certificate's key cannot be used.
#[derive(Debug)]
pub(crate) enum CertKeyError {
    Unreadable(String),
    Unsupported(String),
}

/// An IdP signing certificate taken from uploaded metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpCertificate {
    /// DER bytes, as they were in the metadata.
    pub der: Vec<u8>,
    pub key: PublicKey,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Subject distinguished name, for display.
    pub subject: String,
    /// SHA-256 of the DER, upper-case hex with colons (as admin consoles show it).
    pub sha256_fingerprint: String,
}

impl IdpCertificate {
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, CertKeyError> {
        let cert =
            Certificate::from_der(der).map_err(|e| CertKeyError::Unreadable(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let spki = &tbs.subject_public_key_info;
        let spki_der = spki
            .to_der()
            .map_err(|e| CertKeyError::Unreadable(e.to_string()))?;
        let alg = spki.algorithm.oid.to_string();
        let key = if alg == OID_RSA {
            let k = RsaPublicKey::from_public_key_der(&spki_der)
                .map_err(|e| CertKeyError::Unreadable(e.to_string()))?;
            let bits = k.size() * 8;
            if bits < MIN_RSA_BITS {
                return Err(CertKeyError::Unsupported(format!("RSA {bits} bits")));
            }
            PublicKey::Rsa(k)
        } else if alg == OID_EC {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_default();
            if curve == OID_P256 {
                PublicKey::P256(
                    p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                        .map_err(|e| CertKeyError::Unreadable(e.to_string()))?,
                )
            } else if curve == OID_P384 {
                PublicKey::P384(
                    p384::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                        .map_err(|e| CertKeyError::Unreadable(e.to_string()))?,
                )
            } else {
                return Err(CertKeyError::Unsupported(format!("EC curve {curve}")));
            }
        } else {
            return Err(CertKeyError::Unsupported(format!("algorithm {alg}")));
        };
        let not_before = to_offset(tbs.validity.not_before.to_unix_duration())?;
        let not_after = to_offset(tbs.validity.not_after.to_unix_duration())?;
        Ok(IdpCertificate {
            der: der.to_vec(),
            key,
            not_before,
            not_after,
            subject: tbs.subject.to_string(),
            sha256_fingerprint: fingerprint(der),
        })
    }

    /// Whether `now` lies inside the certificate's validity.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

fn to_offset(d: StdDuration) -> Result<OffsetDateTime, CertKeyError> {
    let secs = i64::try_from(d.as_secs()).map_err(|e| CertKeyError::Unreadable(e.to_string()))?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| CertKeyError::Unreadable(e.to_string()))
}

fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The SP's RSA key and self-signed certificate for one connection.
#[derive(Clone)]
pub struct SpKeyPair {
    pub(crate) private: RsaPrivateKey,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for SpKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpKeyPair")
            .field("private", &"<redacted>")
            .field("certificate_sha256", &fingerprint(&self.cert_der))
            .finish()
    }
}

impl SpKeyPair {
    /// Generates an RSA-2048 key and a self-signed certificate for `common_name`,
    /// valid from `now` for `validity`.
    pub fn generate(
        common_name: &str,
        now: OffsetDateTime,
        validity: time::Duration,
    ) -> Result<Self, KeyError> {
        let mut rng = rand::rngs::OsRng;
        let private =
            RsaPrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Generation(e.to_string()))?;
        let cert_der = self_signed(&private, common_name, now, validity)?;
        Ok(SpKeyPair { private, cert_der })
    }

    /// Reads a PKCS#8 PEM private key and its PEM certificate.
    pub fn from_pem(private_key_pem: &str, certificate_pem: &str) -> Result<Self, KeyError> {
        let private = RsaPrivateKey::from_pkcs8_pem(private_key_pem)
            .or_else(|_| {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                RsaPrivateKey::from_pkcs1_pem(private_key_pem)
            })
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        let (label, cert_der) = pem_rfc7468::decode_vec(certificate_pem.trim().as_bytes())
            .map_err(|e| KeyError::BadCertificate(e.to_string()))?;
        if label != "CERTIFICATE" {
            return Err(KeyError::BadCertificate(format!(
                "expected a CERTIFICATE, found {label}"
            )));
        }
        let cert = Certificate::from_der(&cert_der)
            .map_err(|e| KeyError::BadCertificate(e.to_string()))?;
        let cert_spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| KeyError::BadCertificate(e.to_string()))?;
        let key_spki = private
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        if cert_spki != key_spki.as_bytes() {
            return Err(KeyError::Mismatch);
        }
        Ok(SpKeyPair { private, cert_der })
    }

    /// The private key as PKCS#8 PEM (store it encrypted at rest).
    pub fn private_key_pem(&self) -> Result<String, KeyError> {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))
    }

    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String, KeyError> {
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &self.cert_der)
            .map_err(|e| KeyError::BadCertificate(e.to_string()))
    }

    /// The certificate as DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The certificate as base64 DER, as it goes into `ds:X509Certificate`.
    pub fn certificate_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.cert_der)
    }
}

fn self_signed(
    private: &RsaPrivateKey,
    common_name: &str,
    now: OffsetDateTime,
    validity: time::Duration,
) -> Result<Vec<u8>, KeyError> {
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::SubjectPublicKeyInfoOwned;
    use x509_cert::time::{Time, Validity};

    let gen = |e: &dyn std::fmt::Display| KeyError::Generation(e.to_string());
    // Only characters that need no escaping in an RFC 4514 string.
    let cn: String = common_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ' ' | ':' | '/'))
        .take(64)
        .collect();
    let cn = if cn.trim().is_empty() {
        "portcullis-sp".to_owned()
    } else {
        cn.trim().to_owned()
    };
    let subject = Name::from_str(&format!("CN={cn}")).map_err(|e| gen(&e))?;
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
    serial[0] &= 0x7f; // positive
    serial[0] |= 0x01; // no leading zero byte
    let serial = SerialNumber::new(&serial).map_err(|e| gen(&e))?;
    let to_time = |t: OffsetDateTime| -> Result<Time, KeyError> {
        let secs = u64::try_from(t.unix_timestamp()).map_err(|e| gen(&e))?;
        let d = StdDuration::from_secs(secs);
        if t.year() < 2050 {
            Ok(Time::UtcTime(
                der::asn1::UtcTime::from_unix_duration(d).map_err(|e| gen(&e))?,
            ))
        } else {
            Ok(Time::GeneralTime(
                der::asn1::GeneralizedTime::from_unix_duration(d).map_err(|e| gen(&e))?,
            ))
        }
    };
    let validity = Validity {
        not_before: to_time(now)?,
        not_after: to_time(now + validity)?,
    };
    let spki_der = private
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| gen(&e))?;
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes()).map_err(|e| gen(&e))?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(private.clone());
    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .map_err(|e| gen(&e))?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(|e| gen(&e))?;
    cert.to_der().map_err(|e| gen(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn generated_pair_round_trips_through_pem_and_parses_as_idp_cert() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let pair = SpKeyPair::generate("sp.example.com", now, time::Duration::days(3650)).unwrap();
        let again = SpKeyPair::from_pem(
            &pair.private_key_pem().unwrap(),
            &pair.certificate_pem().unwrap(),
        )
        .unwrap();
        assert_eq!(again.certificate_der(), pair.certificate_der());
        let cert = IdpCertificate::from_der(pair.certificate_der()).unwrap();
        assert_eq!(cert.not_before, now);
        assert_eq!(cert.not_after, now + time::Duration::days(3650));
        assert_eq!(cert.subject, "CN=sp.example.com");
        assert!(matches!(cert.key, PublicKey::Rsa(_)));
        let other = SpKeyPair::generate("other", now, time::Duration::days(1)).unwrap();
        assert_eq!(
            SpKeyPair::from_pem(
                &pair.private_key_pem().unwrap(),
                &other.certificate_pem().unwrap()
            )
            .unwrap_err(),
            KeyError::Mismatch
        );
    }
}
