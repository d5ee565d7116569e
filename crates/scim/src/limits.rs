//! What one request may ask of the server, and what one stored resource may hold.
//!
//! Every write (POST, PUT, PATCH, and Bulk operations, which are made of those) is held to
//! these limits before anything is stored, so the cost of applying and storing a resource is
//! bounded whatever a client sends. Each limit is refused with `400 invalidValue` and a
//! detail that names the limit and its value. The numbers are documented in
//! `docs/security.md` and `docs/scim-conformance.md`; RFC 7643 has no
//! `/ServiceProviderConfig` field for any of them (only the request size, advertised as
//! `bulk.maxPayloadSize`).

use serde_json::Value;

use crate::error::ScimError;
use crate::schema::ResourceKind;

/// Values one multi-valued attribute of a resource may hold (`emails`, `phoneNumbers`,
/// `addresses`, `roles`, `entitlements`, `x509Certificates`…), and values one PATCH operation
/// may give for such an attribute. Identity providers send one to a handful (Okta and Entra
/// map a work and a home email, a few phone numbers; role and entitlement lists run to tens),
/// so 100 leaves room while keeping every value-filter operation over an attribute cheap.
/// Group `members` are not held to it (see [`MAX_MEMBERS_PER_REQUEST`]).
pub const MAX_ATTRIBUTE_VALUES: usize = 100;

/// Operations one PATCH request may carry. IdPs send one to a few (Okta's membership PATCH is
/// two, Entra's attribute sync a few dozen); members are values *inside* an operation, so a
/// large membership change needs one operation, not one per member.
pub const MAX_PATCH_OPERATIONS: usize = 1_000;

/// Member ids one PATCH operation may name (`add`/`remove`/`replace` on `members`, or the
/// terms of a `members[value eq …]` filter). Okta and Entra push large groups in batches of
/// far fewer; a full push by `replace` of a larger group can be split into an `add` per batch.
pub const MAX_MEMBERS_PER_OPERATION: usize = 10_000;

/// Member ids one request may name in all: summed over the operations of a PATCH, or the
/// `members` of a POSTed or PUT group. Twice the per-operation limit, so an IdP's
/// `remove` + `add` pair of full batches fits in one request. With the default 1 MiB body
/// limit (a member is about 50 bytes of JSON) the body limit is reached first.
pub const MAX_MEMBERS_PER_REQUEST: usize = 20_000;

/// Bytes (UTF-8) of any one string value. The longest values IdPs send are base64
/// certificates (`x509Certificates`: 2–6 KiB for RSA keys up to 8192 bits) and URLs (photos,
/// profile, a few hundred bytes to 2 KiB); 16 KiB is well above both.
pub const MAX_STRING_BYTES: usize = 16 * 1024;

/// Bytes of a stored resource as JSON, without a group's `members` (they are rows of their
/// own). A realistic user is 1–5 KiB; the cap bounds what every later read and PATCH of the
/// resource costs, since PATCHes could otherwise grow it a little at a time.
pub const MAX_RESOURCE_BYTES: usize = 256 * 1024;

/// Checks a resource document (normalized, or the result of a PATCH) against the limits:
/// values per multi-valued attribute, members, the size of each string and of the whole.
/// Costs O(size of the document); stops at the first limit crossed.
pub fn check_resource(kind: ResourceKind, doc: &Value) -> Result<(), ScimError> {
    let Value::Object(map) = doc else {
        return Ok(());
    };
    for (name, value) in map {
        if kind == ResourceKind::Group && name.eq_ignore_ascii_case("members") {
            if let Value::Array(members) = value {
                check_member_count(members.len(), "the group's \"members\"")?;
            }
            continue;
        }
        check_value(kind, name, value)?;
    }
    let size = json_size_without_members(kind, doc);
    if size > MAX_RESOURCE_BYTES {
        return Err(ScimError::invalid_value(format!(
            "the {} would be more than {MAX_RESOURCE_BYTES} bytes ({} KiB) as JSON; that is the most one resource may hold: remove values or send shorter ones",
            kind.name(),
            MAX_RESOURCE_BYTES / 1024
        )));
    }
    Ok(())
}

/// Refuses more values than [`MAX_ATTRIBUTE_VALUES`] for attribute `label`.
pub fn check_value_count(kind: ResourceKind, label: &str, count: usize) -> Result<(), ScimError> {
    if count > MAX_ATTRIBUTE_VALUES {
        return Err(ScimError::invalid_value(format!(
            "\"{label}\" would have {count} values; a {} may have at most {MAX_ATTRIBUTE_VALUES} values in one attribute",
            kind.name()
        )));
    }
    Ok(())
}

/// Refuses more member ids than [`MAX_MEMBERS_PER_REQUEST`] in `what`.
pub fn check_member_count(count: usize, what: &str) -> Result<(), ScimError> {
    if count > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::invalid_value(format!(
            "{what} name {count} members; at most {MAX_MEMBERS_PER_REQUEST} members are accepted in one request: send the rest in further PATCH requests"
        )));
    }
    Ok(())
}

/// Refuses a string longer than [`MAX_STRING_BYTES`].
pub fn check_string(label: &str, s: &str) -> Result<(), ScimError> {
    if s.len() > MAX_STRING_BYTES {
        return Err(ScimError::invalid_value(format!(
            "\"{label}\" is {} bytes long; one value may be at most {MAX_STRING_BYTES} bytes ({} KiB)",
            s.len(),
            MAX_STRING_BYTES / 1024
        )));
    }
    Ok(())
}

/// Walks one attribute (and what it holds) with an explicit stack: a stored document is only
/// a few levels deep, but this must not recurse on whatever it is given.
fn check_value(kind: ResourceKind, name: &str, value: &Value) -> Result<(), ScimError> {
    let mut pending: Vec<(String, &Value)> = vec![(name.to_owned(), value)];
    while let Some((label, value)) = pending.pop() {
        match value {
            Value::String(s) => check_string(&label, s)?,
            Value::Array(items) => {
                // `schemas` is a list of URNs, not an attribute of the resource.
                if !label.eq_ignore_ascii_case("schemas") {
                    check_value_count(kind, &label, items.len())?;
                }
                pending.extend(items.iter().map(|item| (label.clone(), item)));
            }
            Value::Object(fields) => {
                pending.extend(fields.iter().map(|(k, v)| (format!("{label}.{k}"), v)));
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    Ok(())
}

/// The length of `doc` serialized as JSON, leaving out a group's `members`. Stops counting
/// once past [`MAX_RESOURCE_BYTES`]: the answer is then only "too large".
fn json_size_without_members(kind: ResourceKind, doc: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_RESOURCE_BYTES {
                return Err(std::io::Error::other("past the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let result = match (kind, doc) {
        (ResourceKind::Group, Value::Object(map)) => {
            let without: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("members"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            serde_json::to_writer(&mut counter, &without)
        }
        _ => serde_json::to_writer(&mut counter, doc),
    };
    match result {
        Ok(()) => counter.0,
        Err(_) => counter.0.max(MAX_RESOURCE_BYTES + 1),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use serde_json::json;

    fn emails(n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({"value": format!("u{i}@acme.com"), "type": "work"}))
                .collect(),
        )
    }

    #[test]
    fn values_per_attribute_are_bounded_and_named() {
        let ok = json!({"userName": "a", "emails": emails(MAX_ATTRIBUTE_VALUES)});
        check_resource(ResourceKind::User, &ok).unwrap();
        let over = json!({"userName": "a", "emails": emails(MAX_ATTRIBUTE_VALUES + 1)});
        let e = check_resource(ResourceKind::User, &over).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert!(e.detail.contains("\"emails\""), "{}", e.detail);
        assert!(e.detail.contains("at most 100 values"), "{}", e.detail);
    }

    #[test]
    fn members_have_their_own_limit_and_do_not_count_toward_the_size() {
        let members: Vec<Value> = (0..MAX_MEMBERS_PER_REQUEST)
            .map(|i| json!({"value": format!("{i:036}")}))
            .collect();
        let ok = json!({"displayName": "G", "members": members});
        check_resource(ResourceKind::Group, &ok).unwrap();
        let mut over = ok.clone();
        over["members"]
            .as_array_mut()
            .unwrap()
            .push(json!({"value": "x"}));
        let e = check_resource(ResourceKind::Group, &over).unwrap_err();
        assert!(e.detail.contains("at most 20000 members"), "{}", e.detail);
    }

    #[test]
    fn strings_are_bounded_anywhere_in_the_document() {
        let long = "x".repeat(MAX_STRING_BYTES + 1);
        for doc in [
            json!({"userName": long}),
            json!({"name": {"givenName": long}}),
            json!({"emails": [{"value": "a@b.c", "display": long}]}),
            json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": long}}),
        ] {
            let e = check_resource(ResourceKind::User, &doc).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
            assert!(e.detail.contains("at most 16384 bytes"), "{}", e.detail);
        }
        let exact = json!({"userName": "x".repeat(MAX_STRING_BYTES)});
        check_resource(ResourceKind::User, &exact).unwrap();
    }

    #[test]
    fn the_whole_resource_is_bounded() {
        // Each value within its limits, the sum past the resource limit.
        let big = "x".repeat(MAX_STRING_BYTES);
        let addresses: Vec<Value> = (0..20)
            .map(|i| json!({"formatted": big, "type": format!("t{i}")}))
            .collect();
        let doc = json!({"userName": "a", "addresses": addresses});
        let e = check_resource(ResourceKind::User, &doc).unwrap_err();
        assert!(e.detail.contains("262144 bytes"), "{}", e.detail);
        assert_eq!(
            json_size_without_members(ResourceKind::User, &json!({"a": 1})),
            7
        );
    }
}
