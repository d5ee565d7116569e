//! Secrets (SCIM tokens, operator keys) and the email-domain rules a SCIM token carries.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// How many leading characters of a secret are kept in clear to tell secrets apart.
pub const PREFIX_LEN: usize = 12;

/// A fresh secret: `<kind>_` followed by 256 random bits, base64url without padding.
pub fn generate_secret(kind: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{kind}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// SHA-256 of a secret, hex: what is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn prefix_of(secret: &str) -> String {
    secret.chars().take(PREFIX_LEN).collect()
}

/// Constant-time check that a stored hash belongs to a presented secret.
pub fn hash_matches(stored_hex: &str, secret: &str) -> bool {
    let presented = hash_secret(secret);
    stored_hex.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// One email domain a token may provision, or `*` for any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EmailDomain {
    Any,
    Exact(String),
}

impl EmailDomain {
    /// Parses `acme.com` (lower-cased) or `*`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(EmailDomain::Any);
        }
        let lower = s.trim_start_matches('@').to_ascii_lowercase();
        let labels_ok = !lower.is_empty()
            && lower.len() <= 253
            && lower.contains('.')
            && lower.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if labels_ok {
            Ok(EmailDomain::Exact(lower))
        } else {
            Err(format!(
                "'{s}' is not an email domain: give a domain such as acme.com, or * to allow any"
            ))
        }
    }
}

impl fmt::Display for EmailDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailDomain::Any => f.write_str("*"),
            EmailDomain::Exact(d) => f.write_str(d),
        }
    }
}

/// The domains of a token: never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainList(Vec<EmailDomain>);

impl DomainList {
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in items {
            // Accept "acme.com,acme.io" as well as repeated flags.
            for part in item.as_ref().split(',').filter(|p| !p.trim().is_empty()) {
                out.push(EmailDomain::parse(part)?);
            }
        }
        if out.is_empty() {
            return Err(
                "a token needs at least one email domain (for example acme.com), or * to allow any"
                    .into(),
            );
        }
        out.sort();
        out.dedup();
        Ok(DomainList(out))
    }

    pub fn domains(&self) -> &[EmailDomain] {
        &self.0
    }

    pub fn allows_any(&self) -> bool {
        self.0.contains(&EmailDomain::Any)
    }

    /// Whether an email address's domain is allowed.
    pub fn allows_email(&self, email: &str) -> bool {
        if self.allows_any() {
            return true;
        }
        match email_domain(email) {
            Some(domain) => self
                .0
                .iter()
                .any(|d| matches!(d, EmailDomain::Exact(x) if *x == domain)),
            None => false,
        }
    }

    /// Stored form: comma-separated.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn from_stored(s: &str) -> Result<Self, String> {
        Self::parse(&[s])
    }
}

impl fmt::Display for DomainList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// The lower-cased ASCII domain of a valid email address (see [`crate::identity::EmailAddress`]),
/// or `None` when the string is not one.
pub fn email_domain(s: &str) -> Option<String> {
    crate::identity::EmailAddress::parse(s)
        .ok()
        .map(|e| e.domain().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hash_stably() {
        let a = generate_secret("pcs");
        let b = generate_secret("pcs");
        assert_ne!(a, b);
        assert!(a.starts_with("pcs_"));
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert!(hash_matches(&hash_secret(&a), &a));
        assert!(!hash_matches(&hash_secret(&a), &b));
        assert_eq!(prefix_of(&a).len(), PREFIX_LEN);
    }

    #[test]
    fn domain_lists_check_emails() {
        let list = DomainList::parse(&["Acme.com", "acme.io"]).unwrap();
        assert!(list.allows_email("jane@ACME.com"));
        assert!(list.allows_email("bob@acme.io"));
        assert!(!list.allows_email("eve@other.com"));
        assert!(!list.allows_email("eve@sub.acme.com"));
        assert!(!list.allows_email("not-an-email"));
        // The domain is the one after the only @, never the last of several.
        assert!(!list.allows_email("a@evil.com@acme.com"));
        assert!(!list.allows_email("a@acme.com\n"));
        assert!(list.allows_email("\"a@evil.com\"@acme.com"));
        assert_eq!(list.to_stored(), "acme.com,acme.io");
        assert_eq!(DomainList::from_stored("acme.com,acme.io").unwrap(), list);
        let any = DomainList::parse(&["*"]).unwrap();
        assert!(any.allows_email("x@y.z"));
        assert!(any.allows_email("no email"));
    }

    #[test]
    fn bad_domains_are_refused() {
        assert!(DomainList::parse::<&str>(&[]).is_err());
        assert!(EmailDomain::parse("not a domain").is_err());
        assert!(EmailDomain::parse("localhost").is_err());
        assert!(EmailDomain::parse("-a.com").is_err());
    }
}
