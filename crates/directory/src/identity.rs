//! Identity strings: email addresses, userNames and the other strings that name a user or a
//! group. Each rule has one function here, and SCIM, the console, the admin API and SAML
//! sign-in all call it, so a value means the same thing on every surface.
//!
//! - **Controls** (C0, DEL and C1: NUL, TAB, LF, CR…) are refused wherever they appear.
//! - **Padding** (leading and trailing spaces) is trimmed: IdPs send padded values now and
//!   then, and a stored value never carries it.
//! - **Unicode** is stored in Normalization Form C, so a composed `é` and `e` + combining
//!   accent are one value; the userName's unique key is that NFC text lower-cased.
//! - **Emails** are RFC 5322 addr-specs (with RFC 6532 UTF-8): exactly one `@` outside a
//!   quoted local part; a dot-atom or quoted local part of at most 64 bytes; a domain of
//!   letter-digit-hyphen labels (or an internationalized one, compared in its IDNA ASCII
//!   form), at least two labels, at most 253 bytes; the whole at most 254 bytes.
//! - A **userName** is an email (for the email-domain rules) exactly when it contains `@`;
//!   then it must be a valid one.
//! - A multi-valued attribute has at most one value marked `primary` (RFC 7643 §2.4).

use crate::error::Error;
use scim::filter::{CompValue, CompareOp, Filter};
use scim::ScimType;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// The longest email address accepted, in bytes (RFC 5321's path limit less its brackets).
pub const MAX_EMAIL_BYTES: usize = 254;
/// The longest local part (before the `@`), in bytes (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART_BYTES: usize = 64;
/// The longest domain, in bytes of its ASCII form (RFC 1035).
pub const MAX_DOMAIN_BYTES: usize = 253;
/// The longest label of a domain, in bytes (RFC 1035).
pub const MAX_LABEL_BYTES: usize = 63;

/// Top-level User attributes that name the user: each goes through [`clean_text`].
const USER_TEXT_ATTRIBUTES: [&str; 3] = ["externalId", "displayName", "nickName"];
/// Sub-attributes of `name`, which name the user too.
const NAME_PARTS: [&str; 6] = [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
/// Group attributes that name the group.
const GROUP_TEXT_ATTRIBUTES: [&str; 2] = ["displayName", "externalId"];

fn invalid(detail: String) -> Error {
    Error::invalid(detail).with_scim_type(ScimType::InvalidValue)
}

/// A value as the client wrote it, shortened and with controls made visible, for a message.
fn shown(raw: &str) -> String {
    let mut out: String = raw.chars().take(64).flat_map(char::escape_debug).collect();
    if raw.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// The one rule for every identity string: controls refused (naming `attribute`), padding
/// trimmed, Unicode in NFC. May return an empty string; whether that is allowed is the caller's.
pub fn clean_text(raw: &str, attribute: &str) -> Result<String, Error> {
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(invalid(format!(
            "`{attribute}` contains the control character U+{:04X} (\"{}\"); control characters such as NUL, tab, line feed and DEL are not allowed",
            u32::from(c),
            shown(raw)
        )));
    }
    Ok(raw.trim().nfc().collect())
}

/// The key userNames are unique by, and looked up by: NFC, then lower-cased. A stored
/// userName is already NFC, so its key is its lower-case.
pub fn user_name_key(user_name: &str) -> String {
    user_name.trim().nfc().collect::<String>().to_lowercase()
}

/// The key emails are looked up by: NFC, then lower-cased.
pub fn email_key(email: &str) -> String {
    user_name_key(email)
}

/// Why a string is not an email address; the message completes "… is not an email address: ".
fn not_an_email(attribute: &str, raw: &str, why: &str) -> Error {
    invalid(format!(
        "`{attribute}` \"{}\" is not an email address: {why}",
        shown(raw)
    ))
}

/// An email address, parsed once: the text as stored (trimmed, NFC, case kept) and its
/// domain in lower-case ASCII (IDNA A-labels), which every domain rule compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    text: String,
    /// Byte offset of the `@` that separates local part and domain.
    at: usize,
    domain: String,
}

impl EmailAddress {
    /// Parses an addr-spec; `attribute` names the field in the refusal.
    pub fn parse_as(raw: &str, attribute: &str) -> Result<Self, Error> {
        let text = clean_text(raw, attribute)?;
        let fail = |why: &str| not_an_email(attribute, raw, why);
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if text.len() > MAX_EMAIL_BYTES {
            return Err(fail(&format!("it is longer than {MAX_EMAIL_BYTES} bytes")));
        }
        let at = local_part_end(&text).map_err(|why| fail(&why))?;
        let (local, rest) = text.split_at(at);
        let domain = rest.get(1..).unwrap_or_default();
        if local.len() > MAX_LOCAL_PART_BYTES {
            return Err(fail(&format!(
                "the part before the @ is longer than {MAX_LOCAL_PART_BYTES} bytes"
            )));
        }
        let domain = ascii_domain(domain).map_err(|why| fail(&why))?;
        Ok(EmailAddress { text, at, domain })
    }

    /// Parses an addr-spec named "email address" in a refusal.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        Self::parse_as(raw, "email")
    }

    /// The address as stored: trimmed, NFC, in the case it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn local_part(&self) -> &str {
        self.text.get(..self.at).unwrap_or_default()
    }

    /// The domain as lower-case ASCII (an internationalized domain in its `xn--` form).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The whole address lower-cased (the console's admin emails are kept this way).
    pub fn to_lowercase(&self) -> String {
        self.text.to_lowercase()
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `atext` of RFC 5322 §3.2.3, widened to UTF-8 by RFC 6532.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Where the local part ends (the byte offset of the one `@` after it), or why it is wrong.
fn local_part_end(text: &str) -> Result<usize, String> {
    if let Some(quoted) = text.strip_prefix('"') {
        // quoted-string: qtext and quoted-pairs up to the closing quote, then the `@`.
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' => escaped = true,
                '"' => {
                    let end = i + 2; // the opening quote, and this one
                    return match text.get(end..) {
                        Some(rest) if rest.starts_with('@') => Ok(end),
                        _ => Err("the quoted part before the @ must be followed by the @".into()),
                    };
                }
                _ => {}
            }
        }
        return Err("a quote before the @ is never closed".into());
    }
    let at = match text.match_indices('@').map(|(i, _)| i).collect::<Vec<_>>()[..] {
        [] => return Err("it has no @".into()),
        [one] => one,
        _ => return Err(
            "it has more than one @ (quote the part before the last one if it really is a name)"
                .into(),
        ),
    };
    let local = text.get(..at).unwrap_or_default();
    if local.is_empty() {
        return Err("nothing comes before the @".into());
    }
    for atom in local.split('.') {
        if atom.is_empty() {
            return Err(
                "the part before the @ starts or ends with a dot, or has two dots in a row".into(),
            );
        }
        if let Some(c) = atom.chars().find(|c| !is_atext(*c)) {
            return Err(format!(
                "the part before the @ contains {c:?}, which needs quoting"
            ));
        }
    }
    Ok(at)
}

/// The domain in lower-case ASCII, checked label by label, or why it is wrong.
fn ascii_domain(domain: &str) -> Result<String, String> {
    if domain.is_empty() {
        return Err("nothing comes after the @".into());
    }
    if domain.starts_with('[') {
        return Err(
            "an address literal such as [192.0.2.1] is not accepted; use a domain name".into(),
        );
    }
    let ascii = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(domain).map_err(|_| {
            format!("the domain {domain} is not a valid internationalized domain name")
        })?
    };
    if ascii.len() > MAX_DOMAIN_BYTES {
        return Err(format!(
            "the domain is longer than {MAX_DOMAIN_BYTES} bytes"
        ));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(format!(
            "the domain {domain} has a single label; give a full domain such as example.com"
        ));
    }
    for label in labels {
        let ldh = !label.is_empty()
            && label.len() <= MAX_LABEL_BYTES
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ldh {
            return Err(format!(
                "the domain {domain} is not made of letters, digits and hyphens between dots"
            ));
        }
    }
    Ok(ascii)
}

/// A userName, cleaned: not empty, and when it contains `@`, a valid email address.
pub fn clean_user_name(raw: &str) -> Result<String, Error> {
    let name = clean_text(raw, "userName")?;
    if name.is_empty() {
        return Err(invalid(
            "`userName` is required for a User and must not be empty".into(),
        ));
    }
    if name.contains('@') {
        EmailAddress::parse_as(&name, "userName")?;
    }
    Ok(name)
}

/// The userName as an email address, when it is one (it contains `@`; a stored userName
/// that does is a valid address).
pub fn user_name_email(user_name: &str) -> Option<EmailAddress> {
    if user_name.contains('@') {
        EmailAddress::parse_as(user_name, "userName").ok()
    } else {
        None
    }
}

/// Cleans a string attribute of `map` in place: a blank one is removed.
fn clean_field(map: &mut Map<String, Value>, key: &str, label: &str) -> Result<(), Error> {
    let Some(Value::String(raw)) = map.get(key) else {
        return Ok(());
    };
    let cleaned = clean_text(raw, label)?;
    if cleaned.is_empty() {
        map.remove(key);
    } else {
        map.insert(key.into(), Value::String(cleaned));
    }
    Ok(())
}

/// Refuses a multi-valued attribute with more than one value marked `primary`.
fn check_one_primary(map: &Map<String, Value>) -> Result<(), Error> {
    for (name, value) in map {
        let Value::Array(items) = value else {
            continue;
        };
        let primaries = items
            .iter()
            .filter(|item| item.get("primary") == Some(&Value::Bool(true)))
            .count();
        if primaries > 1 {
            return Err(invalid(format!(
                "`{name}` has {primaries} values marked primary; at most one may be (RFC 7643 §2.4)"
            )));
        }
    }
    Ok(())
}

/// Applies every identity rule to a normalized User document (SCIM POST, PUT, the result of
/// a PATCH, a console or API edit, a user made at sign-in) and returns it cleaned.
pub fn clean_user_document(mut doc: Value) -> Result<Value, Error> {
    let Value::Object(map) = &mut doc else {
        return Ok(doc);
    };
    if let Some(Value::String(raw)) = map.get("userName") {
        let name = clean_user_name(raw)?;
        map.insert("userName".into(), Value::String(name));
    }
    for key in USER_TEXT_ATTRIBUTES {
        clean_field(map, key, key)?;
    }
    if let Some(Value::Object(name)) = map.get_mut("name") {
        for part in NAME_PARTS {
            clean_field(name, part, &format!("name.{part}"))?;
        }
        if name.is_empty() {
            map.remove("name");
        }
    }
    if let Some(Value::Array(emails)) = map.get_mut("emails") {
        for (i, email) in emails.iter_mut().enumerate() {
            if let Some(Value::String(raw)) = email.get("value") {
                let parsed = EmailAddress::parse_as(raw, &format!("emails[{i}].value"))?;
                email["value"] = Value::String(parsed.into_string());
            }
        }
    }
    check_one_primary(map)?;
    Ok(doc)
}

/// The same for a Group document: its displayName (required) and externalId.
pub fn clean_group_document(mut doc: Value) -> Result<Value, Error> {
    let Value::Object(map) = &mut doc else {
        return Ok(doc);
    };
    for key in GROUP_TEXT_ATTRIBUTES {
        clean_field(map, key, key)?;
    }
    if !map.contains_key("displayName") {
        return Err(invalid(
            "`displayName` is required for a Group and must not be empty".into(),
        ));
    }
    check_one_primary(map)?;
    Ok(doc)
}

/// Attributes whose stored values are cleaned, so filter values compared with them are too.
fn is_cleaned_attribute(attr: &str, sub_attr: Option<&str>) -> bool {
    let attr = attr.to_ascii_lowercase();
    match sub_attr.map(str::to_ascii_lowercase).as_deref() {
        None => matches!(
            attr.as_str(),
            "username" | "externalid" | "displayname" | "nickname" | "emails"
        ),
        Some("value") => attr == "emails",
        Some(_) => attr == "name",
    }
}

/// Cleans the string values a filter compares with cleaned attributes the way stored values
/// were: NFC always, padding trimmed for `eq` (a padded value was stored trimmed, so an IdP
/// looking it up as it sent it finds it).
pub fn clean_filter_values(filter: &mut Filter) {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            clean_filter_values(a);
            clean_filter_values(b);
        }
        Filter::Not(a) => clean_filter_values(a),
        Filter::ValuePath(path, inner) => {
            if path.attr.eq_ignore_ascii_case("emails") {
                clean_filter_values(inner);
            }
        }
        Filter::Present(_) => {}
        Filter::Compare(path, op, CompValue::String(s)) => {
            // Inside `emails[…]` the attribute is the sub-attribute itself (`value`).
            let cleaned_here = is_cleaned_attribute(&path.attr, path.sub_attr.as_deref())
                || path.attr.eq_ignore_ascii_case("value");
            if cleaned_here {
                let nfc: String = s.nfc().collect();
                *s = if *op == CompareOp::Eq {
                    nfc.trim().to_string()
                } else {
                    nfc
                };
            }
        }
        Filter::Compare(..) => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parses(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap_or_else(|e| panic!("{s:?}: {}", e.detail))
    }

    #[test]
    fn odd_but_valid_addresses_parse() {
        let e = parses("  Jane.Doe+tag@Acme.COM ");
        assert_eq!(
            (e.as_str(), e.local_part(), e.domain()),
            ("Jane.Doe+tag@Acme.COM", "Jane.Doe+tag", "acme.com")
        );
        assert_eq!(e.to_lowercase(), "jane.doe+tag@acme.com");
        for ok in [
            "a@b.co",
            "o'brien@example.ie",
            "!#$%&'*+-/=?^_`{|}~@example.com",
            "x@sub-domain.example.co.uk",
            "x@123.example",
            "jörg@example.de",
            "用户@例子.广告",
        ] {
            parses(ok);
        }
        // A quoted local part may hold what a dot-atom may not, an @ included: the domain
        // is what follows the quote.
        let q = parses("\"a@evil.com\"@acme.com");
        assert_eq!(q.domain(), "acme.com");
        assert_eq!(
            parses("\"john  doe\"@acme.com").local_part(),
            "\"john  doe\""
        );
        assert_eq!(parses("\"a\\\"b\"@acme.com").domain(), "acme.com");
        // Internationalized domains are compared in their ASCII form.
        assert_eq!(parses("jane@bücher.de").domain(), "xn--bcher-kva.de");
        assert_eq!(parses("jane@BÜCHER.de").domain(), "xn--bcher-kva.de");
        // NFC: composed and decomposed are one address.
        assert_eq!(
            parses("ren\u{e9}@acme.com").as_str(),
            parses("rene\u{301}@acme.com").as_str()
        );
        let longest_local = format!("{}@acme.com", "a".repeat(MAX_LOCAL_PART_BYTES));
        parses(&longest_local);
    }

    #[test]
    fn every_class_of_bad_address_is_refused_with_a_reason() {
        let label = "a".repeat(MAX_LABEL_BYTES + 1);
        let long_local = format!("{}@acme.com", "a".repeat(MAX_LOCAL_PART_BYTES + 1));
        let too_long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        let label_domain = format!("x@{label}.com");
        let cases: Vec<(&str, &str)> = vec![
            ("", "empty"),
            ("   ", "empty"),
            ("jane", "no @"),
            ("@acme.com", "before the @"),
            ("jane@", "after the @"),
            ("a@evil.com@acme.com", "more than one @"),
            ("a@@acme.com", "more than one @"),
            (".jane@acme.com", "dot"),
            ("jane.@acme.com", "dot"),
            ("ja..ne@acme.com", "dot"),
            ("ja ne@acme.com", "needs quoting"),
            ("ja(ne)@acme.com", "needs quoting"),
            ("ja\"ne@acme.com", "needs quoting"),
            ("\"jane@acme.com", "never closed"),
            ("\"ja\"ne@acme.com", "followed by the @"),
            ("jane@localhost", "single label"),
            ("jane@acme..com", "letters, digits and hyphens"),
            ("jane@acme.com.", "letters, digits and hyphens"),
            ("jane@-acme.com", "letters, digits and hyphens"),
            ("jane@acme-.com", "letters, digits and hyphens"),
            ("jane@ac_me.com", "letters, digits and hyphens"),
            ("jane@ac me.com", "letters, digits and hyphens"),
            ("jane@[192.0.2.1]", "address literal"),
            (&label_domain, "letters, digits and hyphens"),
            (&long_local, "longer than 64"),
            (&too_long, "longer than 254"),
            ("jane\u{0}@acme.com", "U+0000"),
            ("jane@acme.com\n", "U+000A"),
            ("\tjane@acme.com", "U+0009"),
            ("jane\u{7f}@acme.com", "U+007F"),
            ("jane\u{85}@acme.com", "U+0085"),
        ];
        for (bad, why) in cases {
            let e = EmailAddress::parse_as(bad, "emails[0].value").unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad:?}");
            assert_eq!(e.status(), 400);
            assert!(
                e.detail.contains("`emails[0].value`"),
                "{bad:?}: {}",
                e.detail
            );
            assert!(e.detail.contains(why), "{bad:?}: {}", e.detail);
        }
    }

    #[test]
    fn user_names_are_emails_only_when_they_have_an_at() {
        assert_eq!(clean_user_name(" jdoe ").unwrap(), "jdoe");
        assert_eq!(clean_user_name("Jane@Acme.com").unwrap(), "Jane@Acme.com");
        assert!(user_name_email("jdoe").is_none());
        assert_eq!(
            user_name_email("Jane@Acme.com").unwrap().domain(),
            "acme.com"
        );
        for bad in ["a@evil.com@acme.com", "jane@", "j\u{0}doe", "jdoe\n", "   "] {
            let e = clean_user_name(bad).unwrap_err();
            assert!(e.detail.contains("`userName`"), "{bad:?}: {}", e.detail);
        }
    }

    #[test]
    fn user_name_keys_fold_case_and_canonical_equivalence() {
        assert_eq!(user_name_key("Ren\u{e9}"), user_name_key("RENE\u{301}"));
        assert_eq!(user_name_key(" Jane "), "jane");
        // Compatibility forms are other names (NFC, not NFKC).
        assert_ne!(user_name_key("\u{ff4a}ane"), user_name_key("jane"));
    }

    #[test]
    fn user_documents_are_cleaned_or_refused() {
        let doc = json!({"userName": " Rene\u{301}@acme.com ", "displayName": " René ",
            "externalId": "", "name": {"givenName": " A ", "familyName": "  "},
            "emails": [{"value": " x@acme.com ", "primary": true}, {"value": "y@acme.com", "primary": false}]});
        let out = clean_user_document(doc).unwrap();
        assert_eq!(out["userName"], "Ren\u{e9}@acme.com");
        assert_eq!(out["displayName"], "Ren\u{e9}");
        assert!(out.get("externalId").is_none());
        assert_eq!(out["name"], json!({"givenName": "A"}));
        assert_eq!(out["emails"][0]["value"], "x@acme.com");

        let refused = |doc: Value, attribute: &str| {
            let e = clean_user_document(doc).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
            assert!(e.detail.contains(attribute), "{attribute}: {}", e.detail);
        };
        refused(json!({"userName": "a\u{0}b"}), "`userName`");
        refused(
            json!({"userName": "a", "externalId": "x\ty"}),
            "`externalId`",
        );
        refused(
            json!({"userName": "a", "displayName": "x\u{7f}"}),
            "`displayName`",
        );
        refused(
            json!({"userName": "a", "name": {"familyName": "x\ny"}}),
            "`name.familyName`",
        );
        refused(
            json!({"userName": "a", "emails": [{"value": "ok@acme.com"}, {"value": "a@b@c.com"}]}),
            "`emails[1].value`",
        );
        refused(
            json!({"userName": "a", "emails": [{"value": "a@acme.com", "primary": true},
                                               {"value": "b@acme.com", "primary": true}]}),
            "`emails` has 2 values marked primary",
        );
        refused(
            json!({"userName": "a", "phoneNumbers": [{"value": "1", "primary": true},
                                                     {"value": "2", "primary": true}]}),
            "`phoneNumbers`",
        );
    }

    #[test]
    fn group_documents_are_cleaned_or_refused() {
        let out = clean_group_document(json!({"displayName": " Cafe\u{301} "})).unwrap();
        assert_eq!(out["displayName"], "Caf\u{e9}");
        assert!(clean_group_document(json!({"displayName": "a\u{0}"})).is_err());
        assert!(clean_group_document(json!({"displayName": "   "})).is_err());
    }

    #[test]
    fn filter_values_are_cleaned_like_stored_values() {
        let mut f = scim::filter::parse_filter(
            "userName eq \" Rene\u{301}@acme.com \" and title eq \" x \" or emails[value eq \" a@b.co \"]",
        )
        .unwrap();
        clean_filter_values(&mut f);
        let printed = f.to_string();
        assert!(printed.contains("\"Ren\u{e9}@acme.com\""), "{printed}");
        assert!(printed.contains("\" x \""), "{printed}");
        assert!(printed.contains("\"a@b.co\""), "{printed}");
    }
}
