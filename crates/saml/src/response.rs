//! Validation of a SAML Response received over the HTTP-POST binding.
//!
//! Order of work, each step refusing with its own [`ResponseError`]:
//! 1. base64 → UTF-8 → roxmltree with DTDs refused and size/node/depth limits;
//! 2. shape of the whole document: root `samlp:Response` and no other Response,
//!    no comments or processing instructions anywhere, no ID value twice,
//!    `ds:Signature` only as a direct child of the Response or the Assertion,
//!    exactly one `Assertion` or `EncryptedAssertion` in the whole document and
//!    it is a direct child of the Response (this alone stops the wrapping
//!    attacks XSW1–10: there is no second assertion to hide or to read);
//! 3. Status (a failed sign-in carries no assertion; reading it grants nothing);
//! 4. the Response signature, when present (Okta signs it), is verified, and the
//!    Response fields (Destination, InResponseTo, Issuer) are then read from the
//!    re-parsed canonical bytes; without it they are read from the document and
//!    the signed assertion must confirm Recipient and InResponseTo anyway;
//! 5. an `EncryptedAssertion` is decrypted with the connection's SP key;
//! 6. the Assertion **must** be signed — a signed Response around an unsigned
//!    assertion is refused (every IdP we target signs assertions, and requiring
//!    it keeps one rule for plain and encrypted assertions) — and every claim is
//!    read from its verified canonical bytes, re-parsed;
//! 7. Issuer, Subject (bearer confirmation with Recipient, NotOnOrAfter,
//!    InResponseTo), Conditions (time window with bounded skew, Audience),
//!    AuthnStatement.
//!
//! Replay: the result says until when the assertion ID must be remembered; the
//! caller keeps that cache (and the single use of InResponseTo) in its store.

use std::collections::{BTreeMap, HashSet};

use roxmltree::{Document, Node};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::dsig::{b64, verify_enveloped};
use crate::encryption::decrypt_assertion;
use crate::error::ResponseError;
use crate::keys::SpKeyPair;
use crate::metadata::IdpMetadata;
use crate::xml::{self, children, is, ns, MAX_XML_BYTES};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const ENTITY_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";

/// Clock skew used when the caller has no opinion.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::minutes(3);
/// Larger skews are cut down to this.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(10);

/// Everything validation needs to know about the connection and the moment.
#[derive(Clone, Copy, Debug)]
pub struct ValidationContext<'a> {
    /// The uploaded IdP metadata: its entity ID is the expected Issuer and its
    /// signing certificates are the only keys tried.
    pub idp: &'a IdpMetadata,
    /// Our entity ID for this connection: the expected Audience.
    pub sp_entity_id: &'a str,
    /// Our ACS URL: the expected Destination and Recipient.
    pub acs_url: &'a str,
    pub now: OffsetDateTime,
    /// Tolerated clock difference with the IdP (capped at [`MAX_CLOCK_SKEW`]).
    pub max_clock_skew: Duration,
    /// The ID of the AuthnRequest we sent (SP-initiated), or `None` when only an
    /// unsolicited (IdP-initiated) response is acceptable.
    pub expected_in_response_to: Option<&'a str>,
    /// The connection's SP key, needed for encrypted assertions.
    pub sp_key: Option<&'a SpKeyPair>,
}

/// A signed assertion that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub response_id: String,
    pub assertion_id: String,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub authn_instant: Option<OffsetDateTime>,
    /// Attribute name → values, in document order.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub in_response_to: Option<String>,
    /// Remember `assertion_id` (replay cache) until this instant.
    pub remember_until: OffsetDateTime,
    pub response_signed: bool,
    pub encrypted: bool,
}

/// Attribute names IdPs use for the email address (Okta, Entra ID, Google, LDAP-ish).
pub const EMAIL_ATTRIBUTES: &[&str] = &[
    "email",
    "Email",
    "mail",
    "emailAddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
];

impl VerifiedAssertion {
    /// First value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The first non-empty email attribute (see [`EMAIL_ATTRIBUTES`]), for
    /// matching a user when the NameID is not their userName.
    pub fn email_attribute(&self) -> Option<&str> {
        EMAIL_ATTRIBUTES
            .iter()
            .filter_map(|n| self.attribute(n))
            .find(|v| !v.is_empty())
    }
}

/// The `InResponseTo` a `SAMLResponse` form value claims, unverified: only a hint for finding
/// which of our pending requests to take out of the store, which is then passed to
/// [`validate_response`] as the expected value (so a forged hint can only fail validation).
/// `None` when absent or unreadable.
pub fn peek_in_response_to(saml_response: &str) -> Option<String> {
    let limit = MAX_XML_BYTES / 3 * 4 + MAX_XML_BYTES / 32 + 8;
    if saml_response.len() > limit {
        return None;
    }
    let bytes = b64(saml_response)?;
    let text = String::from_utf8(bytes).ok()?;
    let doc = xml::parse(text.strip_prefix('\u{feff}').unwrap_or(&text)).ok()?;
    let root = doc.root_element();
    if !is(root, ns::PROTOCOL, "Response") {
        return None;
    }
    root.attribute("InResponseTo")
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .map(str::to_owned)
}

/// Validates the `SAMLResponse` form value (base64) of an HTTP-POST.
pub fn validate_response(
    saml_response: &str,
    ctx: &ValidationContext<'_>,
) -> Result<VerifiedAssertion, ResponseError> {
    // base64 of MAX_XML_BYTES plus room for line breaks
    let limit = MAX_XML_BYTES / 3 * 4 + MAX_XML_BYTES / 32 + 8;
    if saml_response.len() > limit {
        return Err(ResponseError::TooLarge { limit });
    }
    let bytes = b64(saml_response).ok_or(ResponseError::NotBase64)?;
    if bytes.len() > MAX_XML_BYTES {
        return Err(ResponseError::TooLarge {
            limit: MAX_XML_BYTES,
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| ResponseError::NotUtf8)?;
    // A byte order mark is harmless; roxmltree would call it content before the root.
    validate_response_xml(text.strip_prefix('\u{feff}').unwrap_or(&text), ctx)
}

/// Validates a Response already decoded from base64.
pub fn validate_response_xml(
    text: &str,
    ctx: &ValidationContext<'_>,
) -> Result<VerifiedAssertion, ResponseError> {
    let skew = ctx.max_clock_skew.clamp(Duration::ZERO, MAX_CLOCK_SKEW);
    let keys = &ctx.idp.signing_certificates;
    let doc = xml::parse(text)?;
    let root = doc.root_element();
    if !is(root, ns::PROTOCOL, "Response") {
        return Err(ResponseError::NotAResponse(
            root.tag_name().name().to_owned(),
        ));
    }
    check_document_shape(&doc)?;
    check_signature_places(&doc)?;
    check_status(root)?;

    let mut found = root.descendants().filter(|n| {
        is(*n, ns::ASSERTION, "Assertion") || is(*n, ns::ASSERTION, "EncryptedAssertion")
    });
    let assertion = found.next().ok_or(ResponseError::NoAssertion)?;
    if found.next().is_some() {
        return Err(ResponseError::MultipleAssertions);
    }
    if assertion.parent() != Some(root) {
        return Err(ResponseError::AssertionMisplaced);
    }

    // Response-level fields: from the verified bytes when the Response is signed.
    let response_canonical = verify_enveloped(root, keys, "Response")?;
    let response_signed = response_canonical.is_some();
    let response_fields = match &response_canonical {
        Some(bytes) => {
            let t = std::str::from_utf8(bytes).map_err(|_| ResponseError::NotUtf8)?;
            let d = xml::parse(t)?;
            response_fields(d.root_element())?
        }
        None => response_fields(root)?,
    };
    check_response(&response_fields, ctx)?;

    // The assertion: decrypt if needed, verify, re-parse the verified bytes.
    let encrypted = is(assertion, ns::ASSERTION, "EncryptedAssertion");
    let assertion_canonical = if encrypted {
        let key = ctx.sp_key.ok_or(ResponseError::NoDecryptionKey)?;
        let plain = decrypt_assertion(assertion, &key.private)?;
        let plain = String::from_utf8(plain).map_err(|_| ResponseError::DecryptionFailed)?;
        let wrapped = wrap_in_scope(assertion, &plain);
        let inner = xml::parse(&wrapped)?;
        check_document_shape(&inner)?;
        check_signature_places(&inner)?;
        let wrapper = inner.root_element();
        let mut elements = wrapper.children().filter(|c| c.is_element());
        let a = elements.next().ok_or(ResponseError::NoAssertion)?;
        if elements.next().is_some()
            || !is(a, ns::ASSERTION, "Assertion")
            || wrapper
                .children()
                .any(|c| c.is_text() && !c.text().unwrap_or_default().trim().is_empty())
        {
            return Err(ResponseError::Invalid {
                element: "EncryptedAssertion",
                reason: "the decrypted content is not exactly one Assertion".into(),
            });
        }
        if inner
            .descendants()
            .filter(|n| is(*n, ns::ASSERTION, "Assertion"))
            .count()
            != 1
        {
            return Err(ResponseError::MultipleAssertions);
        }
        // IDs inside must not collide with IDs outside either.
        let outer: HashSet<&str> = doc.descendants().filter_map(id_of).collect();
        if let Some(dup) = inner
            .descendants()
            .filter_map(id_of)
            .find(|i| outer.contains(i))
        {
            return Err(ResponseError::DuplicateId(dup.to_owned()));
        }
        verify_enveloped(a, keys, "Assertion")?.ok_or(ResponseError::AssertionUnsigned)?
    } else {
        verify_enveloped(assertion, keys, "Assertion")?.ok_or(ResponseError::AssertionUnsigned)?
    };

    let t = std::str::from_utf8(&assertion_canonical).map_err(|_| ResponseError::NotUtf8)?;
    let verified = xml::parse(t)?;
    let mut out = read_assertion(verified.root_element(), ctx, skew)?;
    out.response_id = response_fields.id;
    out.response_signed = response_signed;
    out.encrypted = encrypted;
    Ok(out)
}

fn id_of<'a>(n: Node<'a, '_>) -> Option<&'a str> {
    if !n.is_element() {
        return None;
    }
    n.attributes()
        .find(|a| a.namespace().is_none() && matches!(a.name(), "ID" | "Id" | "id"))
        .map(|a| a.value())
}

/// Comments, PIs, several Responses, duplicate IDs.
fn check_document_shape(doc: &Document<'_>) -> Result<(), ResponseError> {
    let mut ids = HashSet::new();
    let mut responses = 0;
    for n in doc.descendants() {
        if n.is_comment() || n.is_pi() {
            return Err(ResponseError::CommentsRefused);
        }
        if is(n, ns::PROTOCOL, "Response") {
            responses += 1;
            if responses > 1 {
                return Err(ResponseError::MultipleResponses);
            }
        }
        if let Some(id) = id_of(n) {
            if !ids.insert(id) {
                return Err(ResponseError::DuplicateId(id.to_owned()));
            }
        }
    }
    Ok(())
}

/// Signatures only directly under the Response or an Assertion.
fn check_signature_places(doc: &Document<'_>) -> Result<(), ResponseError> {
    for sig in doc.descendants().filter(|n| is(*n, ns::DSIG, "Signature")) {
        let ok = sig
            .parent_element()
            .is_some_and(|p| is(p, ns::PROTOCOL, "Response") || is(p, ns::ASSERTION, "Assertion"));
        if !ok {
            return Err(ResponseError::SignatureMisplaced);
        }
    }
    Ok(())
}

/// Re-declares the namespaces in scope at `at` around a decrypted fragment, so
/// prefixes declared on the Response still resolve.
fn wrap_in_scope(at: Node<'_, '_>, fragment: &str) -> String {
    let mut s = String::from("<w");
    for n in at.namespaces() {
        match n.name() {
            Some("xml") => {}
            Some(p) => s.push_str(&format!(" xmlns:{p}=\"{}\"", xml::escape(n.uri()))),
            None => s.push_str(&format!(" xmlns=\"{}\"", xml::escape(n.uri()))),
        }
    }
    s.push('>');
    s.push_str(fragment);
    s.push_str("</w>");
    s
}

fn invalid(element: &'static str, reason: impl Into<String>) -> ResponseError {
    ResponseError::Invalid {
        element,
        reason: reason.into(),
    }
}

fn check_status(response: Node<'_, '_>) -> Result<(), ResponseError> {
    let status = xml::required_child(response, ns::PROTOCOL, "Status")?;
    let code = xml::required_child(status, ns::PROTOCOL, "StatusCode")?;
    let value = code.attribute("Value").unwrap_or_default();
    if value == STATUS_SUCCESS {
        return Ok(());
    }
    // Okta puts the precise reason in a nested StatusCode.
    let sub = children(code, ns::PROTOCOL, "StatusCode")
        .next()
        .and_then(|c| c.attribute("Value"));
    let status = match sub {
        Some(s) => format!("{value} / {s}"),
        None => value.to_owned(),
    };
    let message = xml::single_child(status_node(response), ns::PROTOCOL, "StatusMessage")
        .ok()
        .flatten()
        .and_then(|m| xml::text_of(m).ok())
        .map(|m| m.chars().take(200).collect());
    Err(ResponseError::StatusNotSuccess { status, message })
}

fn status_node<'a, 'i>(response: Node<'a, 'i>) -> Node<'a, 'i> {
    children(response, ns::PROTOCOL, "Status")
        .next()
        .unwrap_or(response)
}

struct ResponseFields {
    id: String,
    destination: Option<String>,
    in_response_to: Option<String>,
    issuer: Option<(String, Option<String>)>,
}

fn response_fields(r: Node<'_, '_>) -> Result<ResponseFields, ResponseError> {
    if r.attribute("Version") != Some("2.0") {
        return Err(invalid("Response", "Version is not 2.0"));
    }
    check_status(r)?;
    let issuer = match xml::single_child(r, ns::ASSERTION, "Issuer")? {
        Some(i) => Some((xml::text_of(i)?, i.attribute("Format").map(str::to_owned))),
        None => None,
    };
    Ok(ResponseFields {
        id: r
            .attribute("ID")
            .ok_or_else(|| invalid("Response", "ID missing"))?
            .to_owned(),
        destination: r.attribute("Destination").map(str::to_owned),
        in_response_to: r.attribute("InResponseTo").map(str::to_owned),
        issuer,
    })
}

fn check_issuer(
    got: &str,
    format: Option<&str>,
    ctx: &ValidationContext<'_>,
) -> Result<(), ResponseError> {
    if got != ctx.idp.entity_id {
        return Err(ResponseError::IssuerMismatch {
            expected: ctx.idp.entity_id.clone(),
            got: got.to_owned(),
        });
    }
    if let Some(f) = format.filter(|f| *f != ENTITY_FORMAT) {
        return Err(invalid(
            "Issuer",
            format!("Format is {f:?}, not the entity format"),
        ));
    }
    Ok(())
}

fn check_in_response_to(
    got: Option<&str>,
    ctx: &ValidationContext<'_>,
) -> Result<(), ResponseError> {
    if got == ctx.expected_in_response_to {
        Ok(())
    } else {
        Err(ResponseError::InResponseToMismatch {
            expected: ctx.expected_in_response_to.map(str::to_owned),
            got: got.map(str::to_owned),
        })
    }
}

fn check_response(f: &ResponseFields, ctx: &ValidationContext<'_>) -> Result<(), ResponseError> {
    match f.destination.as_deref() {
        Some(d) if d == ctx.acs_url => {}
        other => {
            return Err(ResponseError::DestinationMismatch {
                expected: ctx.acs_url.to_owned(),
                got: other.unwrap_or("(none)").to_owned(),
            })
        }
    }
    if let Some((issuer, format)) = &f.issuer {
        check_issuer(issuer, format.as_deref(), ctx)?;
    }
    check_in_response_to(f.in_response_to.as_deref(), ctx)
}

fn parse_time(value: &str, element: &'static str) -> Result<OffsetDateTime, ResponseError> {
    let v = value.trim();
    if !v.ends_with('Z') {
        return Err(invalid(element, format!("time {v:?} is not in UTC")));
    }
    OffsetDateTime::parse(v, &Rfc3339).map_err(|_| invalid(element, format!("bad time {v:?}")))
}

fn time_attr(
    n: Node<'_, '_>,
    name: &str,
    element: &'static str,
) -> Result<Option<OffsetDateTime>, ResponseError> {
    n.attribute(name)
        .map(|v| parse_time(v, element))
        .transpose()
}

fn check_window(
    not_before: Option<OffsetDateTime>,
    not_on_or_after: Option<OffsetDateTime>,
    now: OffsetDateTime,
    skew: Duration,
) -> Result<(), ResponseError> {
    if let Some(nb) = not_before {
        if now + skew < nb {
            return Err(ResponseError::NotYetValid(nb));
        }
    }
    if let Some(noa) = not_on_or_after {
        if now - skew >= noa {
            return Err(ResponseError::Expired(noa));
        }
    }
    Ok(())
}

/// Reads and checks the claims of a verified, re-parsed assertion.
fn read_assertion(
    a: Node<'_, '_>,
    ctx: &ValidationContext<'_>,
    skew: Duration,
) -> Result<VerifiedAssertion, ResponseError> {
    if !is(a, ns::ASSERTION, "Assertion") {
        return Err(invalid("Assertion", "not an Assertion"));
    }
    if a.attribute("Version") != Some("2.0") {
        return Err(invalid("Assertion", "Version is not 2.0"));
    }
    let assertion_id = a
        .attribute("ID")
        .ok_or_else(|| invalid("Assertion", "ID missing"))?
        .to_owned();

    let issuer_node = xml::required_child(a, ns::ASSERTION, "Issuer")?;
    let issuer = xml::text_of(issuer_node)?;
    check_issuer(&issuer, issuer_node.attribute("Format"), ctx)?;

    // Subject
    let subject = xml::required_child(a, ns::ASSERTION, "Subject")?;
    if children(subject, ns::ASSERTION, "EncryptedID")
        .next()
        .is_some()
    {
        return Err(invalid("Subject", "encrypted NameID is not supported"));
    }
    let name_id_node = xml::required_child(subject, ns::ASSERTION, "NameID")?;
    let name_id = xml::text_of(name_id_node)?;
    if name_id.is_empty() {
        return Err(invalid("NameID", "empty"));
    }
    let name_id_format = name_id_node.attribute("Format").map(str::to_owned);

    let mut first_err = None;
    let mut confirmed: Option<(OffsetDateTime, Option<String>)> = None;
    for sc in children(subject, ns::ASSERTION, "SubjectConfirmation") {
        if sc.attribute("Method") != Some(BEARER) {
            continue;
        }
        match check_bearer(sc, ctx, skew) {
            Ok(c) => {
                confirmed = Some(c);
                break;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let (confirmation_expiry, in_response_to) = match confirmed {
        Some(c) => c,
        None => return Err(first_err.unwrap_or(ResponseError::NoBearerConfirmation)),
    };

    // Conditions
    let conditions = xml::required_child(a, ns::ASSERTION, "Conditions")?;
    let cond_nb = time_attr(conditions, "NotBefore", "Conditions")?;
    let cond_noa = time_attr(conditions, "NotOnOrAfter", "Conditions")?;
    check_window(cond_nb, cond_noa, ctx.now, skew)?;
    let restrictions: Vec<Node<'_, '_>> =
        children(conditions, ns::ASSERTION, "AudienceRestriction").collect();
    let mut audiences = Vec::new();
    let mut all_match = !restrictions.is_empty();
    for r in &restrictions {
        let mut this = false;
        for aud in children(*r, ns::ASSERTION, "Audience") {
            let v = xml::text_of(aud)?;
            this |= v == ctx.sp_entity_id;
            audiences.push(v);
        }
        all_match &= this;
    }
    if !all_match {
        return Err(ResponseError::AudienceMismatch {
            expected: ctx.sp_entity_id.to_owned(),
            got: audiences,
        });
    }

    // AuthnStatement
    let authn = children(a, ns::ASSERTION, "AuthnStatement")
        .next()
        .ok_or_else(|| invalid("Assertion", "AuthnStatement missing"))?;
    let session_not_on_or_after = time_attr(authn, "SessionNotOnOrAfter", "AuthnStatement")?;
    check_window(None, session_not_on_or_after, ctx.now, skew)?;
    let authn_instant = time_attr(authn, "AuthnInstant", "AuthnStatement")?;
    let session_index = authn.attribute("SessionIndex").map(str::to_owned);

    // Attributes
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in children(a, ns::ASSERTION, "AttributeStatement") {
        for attr in children(st, ns::ASSERTION, "Attribute") {
            let Some(name) = attr.attribute("Name") else {
                continue;
            };
            let values = attributes.entry(name.to_owned()).or_default();
            for v in children(attr, ns::ASSERTION, "AttributeValue") {
                let text: String = v
                    .descendants()
                    .filter(|c| c.is_text())
                    .filter_map(|c| c.text())
                    .collect();
                values.push(text.trim().to_owned());
            }
        }
    }

    let remember_until =
        cond_noa.map_or(confirmation_expiry, |c| c.max(confirmation_expiry)) + skew;
    Ok(VerifiedAssertion {
        response_id: String::new(),
        assertion_id,
        issuer,
        name_id,
        name_id_format,
        session_index,
        session_not_on_or_after,
        authn_instant,
        attributes,
        in_response_to,
        remember_until,
        response_signed: false,
        encrypted: false,
    })
}

fn check_bearer(
    sc: Node<'_, '_>,
    ctx: &ValidationContext<'_>,
    skew: Duration,
) -> Result<(OffsetDateTime, Option<String>), ResponseError> {
    let data = xml::required_child(sc, ns::ASSERTION, "SubjectConfirmationData")?;
    let noa = time_attr(data, "NotOnOrAfter", "SubjectConfirmationData")?
        .ok_or_else(|| invalid("SubjectConfirmationData", "NotOnOrAfter missing"))?;
    let nb = time_attr(data, "NotBefore", "SubjectConfirmationData")?;
    check_window(nb, Some(noa), ctx.now, skew)?;
    let recipient = data.attribute("Recipient");
    if recipient != Some(ctx.acs_url) {
        return Err(ResponseError::RecipientMismatch {
            expected: ctx.acs_url.to_owned(),
            got: recipient.unwrap_or("(none)").to_owned(),
        });
    }
    let irt = data.attribute("InResponseTo");
    check_in_response_to(irt, ctx)?;
    Ok((noa, irt.map(str::to_owned)))
}
