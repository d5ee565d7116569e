//! Validation of POST and PUT bodies (RFC 7643 §2, §3; RFC 7644 §3.3, §3.5.1) into a clean
//! document the storage layer can trust: schema spelling, only writable known attributes,
//! checked types, required attributes present.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::ScimError;
use crate::schema::{
    core_schema, extensions_for, AttrType, AttributeDef, Mutability, ResourceKind, SchemaDef,
    COMMON_ATTRIBUTES,
};

/// Where a body attribute lands in the normalized document.
enum Target {
    /// Top level: core or common attribute.
    Core,
    /// Under the extension's URN key.
    Extension(&'static SchemaDef),
}

/// Validates a POST/PUT body for `kind` and returns the clean document.
///
/// Lenient where identity providers differ (case of names, string booleans, unknown or
/// read-only attributes, extra schema URNs such as Entra's ADSCIM group URN), strict where a
/// mistake would store wrong data (types, dates, required attributes).
pub fn normalize(kind: ResourceKind, body: &Value) -> Result<Value, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::invalid_syntax(format!(
            "the request body must be a JSON object holding a {} (got {})",
            kind.name(),
            describe(body)
        )));
    };
    check_schemas(kind, body)?;

    let core = core_schema(kind);
    let mut top = Map::new();
    let mut extensions: Vec<(&'static SchemaDef, Map<String, Value>)> = extensions_for(kind)
        .iter()
        .map(|ext| (*ext, Map::new()))
        .collect();

    for (key, value) in body {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = extensions_for(kind)
            .iter()
            .find(|ext| ext.id.eq_ignore_ascii_case(key))
        {
            let fields = match value {
                Value::Null => continue,
                Value::Object(fields) => fields,
                other => {
                    return Err(ScimError::invalid_value(format!(
                        "`{}` must be an object holding the extension's attributes (got {})",
                        ext.id,
                        describe(other)
                    )))
                }
            };
            for (name, value) in fields {
                if let Some(attr) = ext.attribute(name) {
                    put(
                        &mut extensions,
                        &mut top,
                        Target::Extension(ext),
                        attr,
                        name,
                        value,
                    )?;
                }
            }
            continue;
        }
        let Some((target, attr)) = locate(kind, core, key) else {
            // Unknown attributes (and other schemas' data) are ignored: IdPs send extra fields.
            continue;
        };
        put(&mut extensions, &mut top, target, attr, key, value)?;
    }

    check_required(kind, core, &top)?;

    let mut out = Map::new();
    let mut schemas = vec![Value::from(kind.core_urn())];
    schemas.extend(
        extensions
            .iter()
            .filter(|(_, fields)| !fields.is_empty())
            .map(|(ext, _)| Value::from(ext.id)),
    );
    out.insert("schemas".into(), Value::Array(schemas));
    // Schema order, so equal inputs give byte-equal documents.
    for attr in COMMON_ATTRIBUTES.iter().chain(core.attributes) {
        if let Some(value) = top.remove(attr.name) {
            out.insert(attr.name.into(), value);
        }
    }
    for (ext, fields) in extensions {
        if fields.is_empty() {
            continue;
        }
        let ordered: Map<String, Value> = ext
            .attributes
            .iter()
            .filter_map(|attr| {
                fields
                    .get(attr.name)
                    .map(|v| (attr.name.to_string(), v.clone()))
            })
            .collect();
        out.insert(ext.id.into(), Value::Object(ordered));
    }
    let out = Value::Object(out);
    crate::limits::check_resource(kind, &out)?;
    Ok(out)
}

fn check_schemas(kind: ResourceKind, body: &Map<String, Value>) -> Result<(), ScimError> {
    let core_urn = kind.core_urn();
    let schemas = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v);
    let listed: Vec<&str> = match schemas {
        None | Some(Value::Null) => {
            return Err(ScimError::invalid_syntax(format!(
                "`schemas` is missing; a {} body must have \"schemas\": [\"{core_urn}\"]",
                kind.name()
            )))
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| {
                    ScimError::invalid_syntax(format!(
                        "`schemas` must be an array of schema URN strings (found {})",
                        describe(item)
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!(
                "`schemas` must be an array of schema URNs such as [\"{core_urn}\"] (got {})",
                describe(other)
            )))
        }
    };
    // Extra URNs (the enterprise extension, Entra's ADSCIM group URN, anything else) are fine.
    if listed.iter().any(|s| s.eq_ignore_ascii_case(core_urn)) {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "`schemas` must contain \"{core_urn}\" for a {}; it lists {:?}",
            kind.name(),
            listed
        )))
    }
}

/// Finds which attribute a top-level key names. An unqualified name means the core schema or
/// the common attributes; an extension attribute may come URN-qualified
/// (`urn:…:enterprise:2.0:User:employeeNumber`) or, leniently, bare when the core lacks it.
fn locate(
    kind: ResourceKind,
    core: &'static SchemaDef,
    key: &str,
) -> Option<(Target, &'static AttributeDef)> {
    for ext in extensions_for(kind) {
        let qualified = key
            .get(..ext.id.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(ext.id))
            .and_then(|_| key.get(ext.id.len()..))
            .and_then(|tail| tail.strip_prefix(':'));
        if let Some(name) = qualified {
            return ext.attribute(name).map(|a| (Target::Extension(ext), a));
        }
    }
    if let Some(attr) = core.attribute(key) {
        return Some((Target::Core, attr));
    }
    if let Some(attr) = COMMON_ATTRIBUTES
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(key))
    {
        return Some((Target::Core, attr));
    }
    extensions_for(kind)
        .iter()
        .find_map(|ext| ext.attribute(key).map(|a| (Target::Extension(ext), a)))
}

/// Normalizes one attribute and stores it under its schema spelling.
fn put(
    extensions: &mut [(&'static SchemaDef, Map<String, Value>)],
    top: &mut Map<String, Value>,
    target: Target,
    attr: &'static AttributeDef,
    given_name: &str,
    value: &Value,
) -> Result<(), ScimError> {
    let (fields, label) = match target {
        Target::Core => (top, attr.name.to_string()),
        Target::Extension(ext) => {
            let Some((_, fields)) = extensions.iter_mut().find(|(e, _)| e.id == ext.id) else {
                return Ok(());
            };
            (fields, format!("{}:{}", ext.id, attr.name))
        }
    };
    let normalized = if is_manager(attr) {
        normalize_manager(attr, value, &label)?
    } else {
        normalize_attribute(attr, value, &label)?
    };
    let Some(normalized) = normalized else {
        return Ok(());
    };
    if fields.contains_key(attr.name) {
        return Err(ScimError::invalid_syntax(format!(
            "`{label}` is given more than once (last as `{given_name}`); attribute names are case-insensitive, send it once"
        )));
    }
    fields.insert(attr.name.into(), normalized);
    Ok(())
}

fn is_manager(attr: &AttributeDef) -> bool {
    attr.ty == AttrType::Complex
        && attr.name == "manager"
        && crate::schema::ENTERPRISE_USER_SCHEMA
            .attributes
            .iter()
            .any(|a| std::ptr::eq(a, attr))
}

/// Ok(None) means "leave it out": null, read-only, write-only, or empty.
fn normalize_attribute(
    attr: &AttributeDef,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    // Read-only values are the server's to set; a PUT of a fetched resource carries them.
    // Write-only `password` is dropped too: Portcullis signs people in through SSO only.
    if matches!(
        attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    ) || value.is_null()
    {
        return Ok(None);
    }
    if !attr.multi_valued {
        return normalize_single(attr, value, label);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        // One value where a list is expected: accepted as a list of one.
        Value::Object(_) => vec![value],
        other => {
            return Err(ScimError::invalid_value(format!(
                "`{label}` must be an array (got {})",
                describe(other)
            )))
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let item_label = format!("{label}[{index}]");
        if let Some(v) = normalize_single(attr, item, &item_label)? {
            out.push(v);
        }
    }
    Ok(Some(Value::Array(out)))
}

fn normalize_single(
    attr: &AttributeDef,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.ty != AttrType::Complex {
        return coerce_simple(attr.ty, value, label).map(Some);
    }
    let Value::Object(fields) = value else {
        return Err(ScimError::invalid_value(format!(
            "`{label}` must be an object with sub-attributes {} (got {})",
            sub_names(attr),
            describe(value)
        )));
    };
    let mut out = Map::new();
    for (name, sub_value) in fields {
        let Some(sub) = attr.sub_attribute(name) else {
            continue;
        };
        if matches!(sub.mutability, Mutability::ReadOnly | Mutability::WriteOnly)
            || sub_value.is_null()
        {
            continue;
        }
        let sub_label = format!("{label}.{}", sub.name);
        let coerced = coerce_simple(sub.ty, sub_value, &sub_label)?;
        if out.insert(sub.name.into(), coerced).is_some() {
            return Err(ScimError::invalid_syntax(format!(
                "`{sub_label}` is given more than once; attribute names are case-insensitive, send it once"
            )));
        }
    }
    if attr.name == "members" {
        // A member without an id cannot be stored; say which one.
        match out.get("value") {
            Some(Value::String(id)) if !id.trim().is_empty() => {}
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "`{label}.value` must be a non-empty string: the id of the user or group to add"
                )))
            }
        }
    }
    Ok(if out.is_empty() {
        None
    } else {
        Some(Value::Object(out))
    })
}

/// The enterprise manager arrives as `{"value": id}`, a bare id string, or (Entra) a one-item
/// array; `""` means "no manager". Always stored as `{"value": id}` (plus `$ref` if given).
fn normalize_manager(
    attr: &AttributeDef,
    value: &Value,
    label: &str,
) -> Result<Option<Value>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(id) if id.trim().is_empty() => Ok(None),
        Value::String(id) => Ok(Some(serde_json::json!({ "value": id }))),
        Value::Array(items) => match items.as_slice() {
            [] => Ok(None),
            [only] => normalize_manager(attr, only, label),
            _ => Err(ScimError::invalid_value(format!(
                "`{label}` takes a single manager (got {} values)",
                items.len()
            ))),
        },
        Value::Object(_) => {
            let Some(Value::Object(mut fields)) = normalize_single(attr, value, label)? else {
                return Ok(None);
            };
            if fields
                .get("value")
                .and_then(Value::as_str)
                .is_some_and(|id| id.trim().is_empty())
            {
                fields.remove("value");
            }
            Ok(if fields.is_empty() {
                None
            } else {
                Some(Value::Object(fields))
            })
        }
        other => Err(ScimError::invalid_value(format!(
            "`{label}` must be the manager's id or an object {{\"value\": id}} (got {})",
            describe(other)
        ))),
    }
}

fn coerce_simple(ty: AttrType, value: &Value, label: &str) -> Result<Value, ScimError> {
    let ok = match (ty, value) {
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => true,
        (AttrType::Boolean, Value::Bool(_)) => true,
        // Entra sends booleans as "True" / "False".
        (AttrType::Boolean, Value::String(s)) => {
            if s.eq_ignore_ascii_case("true") {
                return Ok(Value::Bool(true));
            }
            if s.eq_ignore_ascii_case("false") {
                return Ok(Value::Bool(false));
            }
            false
        }
        (AttrType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (AttrType::Decimal, Value::Number(_)) => true,
        (AttrType::DateTime, Value::String(s)) => {
            if OffsetDateTime::parse(s, &Rfc3339).is_err() {
                return Err(ScimError::invalid_value(format!(
                    "`{label}` must be an RFC 3339 date-time such as 2024-05-01T12:00:00Z (got \"{}\")",
                    truncate(s, 64)
                )));
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(value.clone())
    } else {
        Err(ScimError::invalid_value(format!(
            "`{label}` must be {} (got {})",
            expected(ty),
            describe(value)
        )))
    }
}

fn check_required(
    kind: ResourceKind,
    core: &SchemaDef,
    top: &Map<String, Value>,
) -> Result<(), ScimError> {
    for attr in core.attributes.iter().filter(|a| a.required) {
        let present = match top.get(attr.name) {
            Some(Value::String(s)) => !s.trim().is_empty(),
            Some(Value::Array(items)) => !items.is_empty(),
            Some(_) => true,
            None => false,
        };
        if !present {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required for a {} and must not be empty",
                attr.name,
                kind.name()
            )));
        }
    }
    Ok(())
}

fn expected(ty: AttrType) -> &'static str {
    match ty {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Decimal => "a number",
        AttrType::Integer => "an integer",
        AttrType::DateTime => "an RFC 3339 date-time string",
        AttrType::Binary => "a base64 string",
        AttrType::Reference => "a URI string",
        AttrType::Complex => "an object",
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{}\"", truncate(s, 64)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn sub_names(attr: &AttributeDef) -> String {
    let names: Vec<&str> = attr
        .sub_attributes
        .iter()
        .filter(|s| !matches!(s.mutability, Mutability::ReadOnly))
        .map(|s| s.name)
        .collect();
    names.join(", ")
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or(s)),
        None => s.to_string(),
    }
}

/// What the storage layer indexes for a user, read from a normalized document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIndex {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    /// Absent means active (RFC 7643 leaves the default to the server; IdPs expect true).
    pub active: bool,
    pub emails: Vec<String>,
    /// The email marked `primary`, else the first one.
    pub primary_email: Option<String>,
}

/// What the storage layer indexes for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupIndex {
    pub display_name: String,
    pub external_id: Option<String>,
}

fn field<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn string_field(doc: &Value, name: &str) -> Option<String> {
    field(doc, name).and_then(Value::as_str).map(str::to_string)
}

fn is_true(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Index fields of a user document (as returned by [`normalize`]).
pub fn user_index(doc: &Value) -> UserIndex {
    let emails: Vec<(String, bool)> = match field(doc, "emails") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| {
                let value = string_field(item, "value")?;
                Some((value, is_true(field(item, "primary")).unwrap_or(false)))
            })
            .collect(),
        _ => Vec::new(),
    };
    let primary_email = emails
        .iter()
        .find(|(_, primary)| *primary)
        .or_else(|| emails.first())
        .map(|(value, _)| value.clone());
    UserIndex {
        user_name: string_field(doc, "userName").unwrap_or_default(),
        external_id: string_field(doc, "externalId"),
        display_name: string_field(doc, "displayName"),
        active: is_true(field(doc, "active")).unwrap_or(true),
        emails: emails.into_iter().map(|(value, _)| value).collect(),
        primary_email,
    }
}

/// Index fields of a group document (as returned by [`normalize`]).
pub fn group_index(doc: &Value) -> GroupIndex {
    GroupIndex {
        display_name: string_field(doc, "displayName").unwrap_or_default(),
        external_id: string_field(doc, "externalId"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{urn, ScimType};
    use proptest::prelude::*;
    use serde_json::json;

    fn okta_user() -> Value {
        json!({"schemas":[urn::USER],"userName":"test.user@okta.local",
               "name":{"givenName":"Test","familyName":"User"},
               "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
               "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
               "groups":[],"password":"1mz050nq","active":true})
    }

    fn err(kind: ResourceKind, body: Value) -> ScimError {
        normalize(kind, &body).unwrap_err()
    }

    #[test]
    fn okta_create_user_is_cleaned() {
        let doc = normalize(ResourceKind::User, &okta_user()).unwrap();
        assert_eq!(
            doc,
            json!({"schemas":[urn::USER],"externalId":"00ujl29u0le5T6Aj10h7",
                   "userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},
                   "displayName":"Test User","locale":"en-US","active":true,
                   "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}]})
        );
        // Key order follows the schema, and normalizing is idempotent.
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "schemas");
        assert_eq!(normalize(ResourceKind::User, &doc).unwrap(), doc);
    }

    #[test]
    fn names_are_rewritten_to_schema_spelling_and_read_only_dropped() {
        let body = json!({"SCHEMAS":[urn::USER.to_uppercase()],"USERNAME":"Ada","Name":{"GIVENNAME":"Ada","bogus":1},
                          "id":"abc","meta":{"resourceType":"User"},"nickname":null,"favouriteColour":"red",
                          "emails":[{"VALUE":"a@b.c","Primary":"True","display":null}]});
        let doc = normalize(ResourceKind::User, &body).unwrap();
        assert_eq!(
            doc,
            json!({"schemas":[urn::USER],"userName":"Ada","name":{"givenName":"Ada"},
                   "emails":[{"value":"a@b.c","primary":true}]})
        );
    }

    #[test]
    fn put_of_a_fetched_user_ignores_id_meta_and_groups() {
        let mut body = okta_user();
        body["id"] = json!("u1");
        body["meta"] = json!({"created":"not a date","location":"x"});
        body["groups"] = json!([{"value":"g1","display":"Eng"}]);
        let doc = normalize(ResourceKind::User, &body).unwrap();
        assert!(
            doc.get("id").is_none() && doc.get("meta").is_none() && doc.get("groups").is_none()
        );
        assert!(doc.get("password").is_none());
    }

    #[test]
    fn schemas_must_name_the_core_urn() {
        let e = err(ResourceKind::User, json!({"userName":"a"}));
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidSyntax))
        );
        assert!(e.detail.contains(urn::USER), "{}", e.detail);
        let e = err(
            ResourceKind::User,
            json!({"schemas": urn::USER, "userName":"a"}),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = err(ResourceKind::User, json!({"schemas":[1], "userName":"a"}));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = err(
            ResourceKind::Group,
            json!({"schemas":[urn::USER],"displayName":"x"}),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains(urn::GROUP));
        let e = err(ResourceKind::User, json!([1]));
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(e.detail.contains("JSON object"));
    }

    #[test]
    fn entra_group_urn_is_accepted_and_members_kept() {
        let body = json!({"schemas":[urn::GROUP, urn::MS_ADSCIM_GROUP],"displayName":"Engineering","externalId":"e1",
                          "members":[{"value":"u1","display":"Ada"},{"value":"u2","type":"User"}]});
        let doc = normalize(ResourceKind::Group, &body).unwrap();
        assert_eq!(
            doc,
            json!({"schemas":[urn::GROUP],"externalId":"e1","displayName":"Engineering",
                   "members":[{"value":"u1"},{"value":"u2","type":"User"}]})
        );
        assert_eq!(
            group_index(&doc),
            GroupIndex {
                display_name: "Engineering".into(),
                external_id: Some("e1".into())
            }
        );
        let doc = normalize(
            ResourceKind::Group,
            &json!({"schemas":[urn::GROUP],"displayName":"E","members":[]}),
        )
        .unwrap();
        assert_eq!(doc["members"], json!([]));
    }

    #[test]
    fn members_must_carry_an_id() {
        for bad in [
            json!(["u1"]),
            json!([{"display":"x"}]),
            json!([{"value":""}]),
            json!([{"value":7}]),
            json!("u1"),
        ] {
            let e = err(
                ResourceKind::Group,
                json!({"schemas":[urn::GROUP],"displayName":"E","members":bad}),
            );
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
            assert!(e.detail.contains("members"), "{}", e.detail);
        }
        let e = err(
            ResourceKind::Group,
            json!({"schemas":[urn::GROUP],"displayName":"E","members":[{"value":"a"},{"value":""}]}),
        );
        assert!(e.detail.contains("members[1].value"), "{}", e.detail);
    }

    #[test]
    fn required_attributes() {
        for user_name in [json!(null), json!(""), json!("  ")] {
            let e = err(
                ResourceKind::User,
                json!({"schemas":[urn::USER],"userName":user_name}),
            );
            assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
            assert!(e.detail.contains("userName"), "{}", e.detail);
        }
        let e = err(ResourceKind::Group, json!({"schemas":[urn::GROUP]}));
        assert!(e.detail.contains("displayName"));
    }

    #[test]
    fn type_checks_name_the_attribute_and_the_expected_type() {
        let cases = [
            (json!({"userName": 5}), "userName", "a string"),
            (json!({"userName":"a","active":"yes"}), "active", "boolean"),
            (json!({"userName":"a","name":"Ada"}), "name", "object"),
            (json!({"userName":"a","emails":"a@b.c"}), "emails", "array"),
            (
                json!({"userName":"a","emails":[{"value":1}]}),
                "emails[0].value",
                "a string",
            ),
            (
                json!({"userName":"a","emails":[{"primary":"maybe"}]}),
                "emails[0].primary",
                "boolean",
            ),
            (
                json!({"userName":"a", urn::ENTERPRISE_USER: {"employeeNumber": 12}}),
                "employeeNumber",
                "a string",
            ),
            (
                json!({"userName":"a", urn::ENTERPRISE_USER: "x"}),
                urn::ENTERPRISE_USER,
                "object",
            ),
        ];
        for (mut body, attr, expected) in cases {
            body["schemas"] = json!([urn::USER, urn::ENTERPRISE_USER]);
            let e = normalize(ResourceKind::User, &body).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some(ScimType::InvalidValue)),
                "{body}"
            );
            assert!(
                e.detail.contains(attr) && e.detail.contains(expected),
                "{}",
                e.detail
            );
        }
    }

    #[test]
    fn booleans_as_strings_are_coerced() {
        for (given, want) in [("True", true), ("false", false), ("FALSE", false)] {
            let doc = normalize(
                ResourceKind::User,
                &json!({"schemas":[urn::USER],"userName":"a","active":given}),
            )
            .unwrap();
            assert_eq!(doc["active"], want);
        }
    }

    #[test]
    fn date_times_must_be_rfc3339() {
        assert_eq!(
            coerce_simple(AttrType::DateTime, &json!("2024-05-01T12:00:00Z"), "d").unwrap(),
            json!("2024-05-01T12:00:00Z")
        );
        let e = coerce_simple(AttrType::DateTime, &json!("yesterday"), "meta.created").unwrap_err();
        assert!(e.detail.contains("RFC 3339") && e.detail.contains("meta.created"));
        assert!(coerce_simple(AttrType::Integer, &json!(1.5), "n").is_err());
        assert!(coerce_simple(AttrType::Decimal, &json!(1.5), "n").is_ok());
    }

    #[test]
    fn enterprise_extension_and_manager_forms() {
        let ext = urn::ENTERPRISE_USER;
        let base =
            |ext_value: Value| json!({"schemas":[urn::USER, ext],"userName":"a", ext: ext_value});
        let doc = normalize(
            ResourceKind::User,
            &base(json!({"EmployeeNumber":"12","manager":"boss"})),
        )
        .unwrap();
        assert_eq!(doc["schemas"], json!([urn::USER, ext]));
        assert_eq!(
            doc[ext],
            json!({"employeeNumber":"12","manager":{"value":"boss"}})
        );
        for manager in [
            json!({"value":"boss","displayName":"Boss"}),
            json!([{"value":"boss"}]),
            json!("boss"),
        ] {
            let doc = normalize(ResourceKind::User, &base(json!({"manager": manager}))).unwrap();
            assert_eq!(doc[ext]["manager"], json!({"value":"boss"}));
        }
        // Removing the manager (Entra sends ""), and an extension with nothing left.
        for manager in [json!(""), json!({"value":""}), json!(null), json!([])] {
            let doc = normalize(ResourceKind::User, &base(json!({"manager": manager}))).unwrap();
            assert!(doc.get(ext).is_none(), "{doc}");
            assert_eq!(doc["schemas"], json!([urn::USER]));
        }
        let e = normalize(
            ResourceKind::User,
            &base(json!({"manager":[{"value":"a"},{"value":"b"}]})),
        )
        .unwrap_err();
        assert!(e.detail.contains("manager"));
        // URN-qualified keys at the top level, and the extension URN missing from `schemas`.
        let doc = normalize(
            ResourceKind::User,
            &json!({"schemas":[urn::USER],"userName":"a", format!("{ext}:department"): "R&D", "costCenter": "7"}),
        )
        .unwrap();
        assert_eq!(doc[ext], json!({"costCenter":"7","department":"R&D"}));
        assert_eq!(doc["schemas"], json!([urn::USER, ext]));
        // Groups have no enterprise extension: its data is ignored.
        let doc = normalize(
            ResourceKind::Group,
            &json!({"schemas":[urn::GROUP],"displayName":"g", ext: {"department":"x"}}),
        )
        .unwrap();
        assert!(doc.get(ext).is_none());
    }

    #[test]
    fn the_same_attribute_twice_is_refused() {
        let e = err(
            ResourceKind::User,
            json!({"schemas":[urn::USER],"userName":"a","USERNAME":"b"}),
        );
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        assert!(e.detail.contains("userName"));
    }

    #[test]
    fn user_index_reads_the_normalized_document() {
        let doc = normalize(ResourceKind::User, &okta_user()).unwrap();
        assert_eq!(
            user_index(&doc),
            UserIndex {
                user_name: "test.user@okta.local".into(),
                external_id: Some("00ujl29u0le5T6Aj10h7".into()),
                display_name: Some("Test User".into()),
                active: true,
                emails: vec!["test.user@okta.local".into()],
                primary_email: Some("test.user@okta.local".into()),
            }
        );
        let doc = json!({"userName":"x","active":false,"emails":[{"value":"a@x"},{"value":"b@x","primary":true}]});
        let index = user_index(&doc);
        assert!(!index.active);
        assert_eq!(index.emails, ["a@x", "b@x"]);
        assert_eq!(index.primary_email.as_deref(), Some("b@x"));
        let index = user_index(&json!({"userName":"x","emails":[{"value":"a@x"}]}));
        assert!(index.active);
        assert_eq!(index.primary_email.as_deref(), Some("a@x"));
        assert_eq!(user_index(&json!(null)).primary_email, None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-zA-Z]{0,6}".prop_map(Value::from),
            Just(Value::from("True")),
        ];
        leaf.prop_recursive(3, 32, 5, |inner| {
            let key = prop_oneof![
                Just("schemas".to_string()),
                Just("userName".to_string()),
                Just("displayName".to_string()),
                Just("emails".to_string()),
                Just("members".to_string()),
                Just("value".to_string()),
                Just("manager".to_string()),
                Just("active".to_string()),
                Just(urn::ENTERPRISE_USER.to_string()),
                "[a-zA-Z$]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn normalize_never_panics_and_is_idempotent(mut body in arb_json(), core in any::<bool>()) {
            if core {
                if let Value::Object(obj) = &mut body {
                    obj.insert("schemas".into(), json!([urn::USER, urn::GROUP]));
                }
            }
            for kind in [ResourceKind::User, ResourceKind::Group] {
                match normalize(kind, &body) {
                    Ok(doc) => {
                        let again = normalize(kind, &doc);
                        prop_assert_eq!(again, Ok(doc.clone()));
                        prop_assert!(doc.get("password").is_none() && doc.get("id").is_none());
                        let _ = user_index(&doc);
                        let _ = group_index(&doc);
                    }
                    Err(e) => {
                        prop_assert_eq!(e.status, 400);
                        prop_assert!(!e.detail.is_empty());
                    }
                }
            }
        }
    }
}
