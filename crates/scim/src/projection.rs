//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a response
//! carries. `returned: always` attributes (`id`) survive any selection; `returned: never` ones
//! (`password`) never leave the server, whatever the client asks.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::path::AttrPath;
use crate::schema::{
    core_schema, extensions_for, resolve, schemas_for, AttributeDef, ResourceKind, Returned,
    SchemaDef,
};

/// Longest attribute list accepted; far above any real client, and bounds the work per request.
const MAX_SELECTORS: usize = 200;

/// One entry of an attribute list, resolved against the schema tables.
#[derive(Debug, Clone, Copy)]
enum Selector {
    /// A whole schema named by its URN, e.g. the enterprise extension.
    Schema(&'static SchemaDef),
    /// An attribute, or one sub-attribute of it.
    Attr {
        schema: &'static SchemaDef,
        attr: &'static AttributeDef,
        sub: Option<&'static AttributeDef>,
    },
}

impl Selector {
    /// Selects all of `attr` (directly or through its whole schema).
    fn covers(&self, schema: &SchemaDef, attr: &AttributeDef) -> bool {
        match self {
            Selector::Schema(s) => s.id == schema.id,
            Selector::Attr { sub: None, .. } => self.names(schema, attr),
            Selector::Attr { .. } => false,
        }
    }
    fn names(&self, schema: &SchemaDef, attr: &AttributeDef) -> bool {
        matches!(self, Selector::Attr { schema: s, attr: a, .. } if s.id == schema.id && a.name == attr.name)
    }
    /// The sub-attribute of `attr` this selector names, if any.
    fn sub_of(&self, schema: &SchemaDef, attr: &AttributeDef) -> Option<&'static AttributeDef> {
        match self {
            Selector::Attr { sub: Some(sub), .. } if self.names(schema, attr) => Some(sub),
            _ => None,
        }
    }
}

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// `Some` when `attributes` was given: only these (plus `returned: always`).
    only: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
}

/// What a projection does with one attribute.
#[derive(Debug, PartialEq)]
enum Keep {
    All,
    Nothing,
    /// Only these sub-attributes of a complex attribute.
    Subs(Vec<&'static str>),
}

impl Projection {
    /// Parses the two query parameters (comma-separated attribute paths, URN-qualified or not,
    /// case-insensitive). When both are given, `attributes` selects and `excludedAttributes`
    /// then removes. Names the schema does not know are ignored, as a client may ask every
    /// server for the same list; malformed names are a 400 invalidValue.
    pub fn parse(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        let only = match attributes {
            // An empty `attributes=` is treated as absent rather than as "return only id".
            Some(list) if !list.trim().is_empty() => Some(parse_list(kind, list, "attributes")?),
            _ => None,
        };
        let excluded = match excluded {
            Some(list) => parse_list(kind, list, "excludedAttributes")?,
            None => Vec::new(),
        };
        Ok(Projection { only, excluded })
    }

    /// Whether the top-level attribute `attr_name` (e.g. `members`, `groups`) would appear in
    /// the response at all, so the caller can skip loading it.
    pub fn wants(&self, kind: ResourceKind, attr_name: &str) -> bool {
        match parse_item(kind, attr_name) {
            Ok(Some(Selector::Attr { schema, attr, .. })) => {
                self.keep(schema, attr) != Keep::Nothing
            }
            Ok(Some(Selector::Schema(schema))) => !self
                .excluded
                .iter()
                .any(|s| matches!(s, Selector::Schema(x) if x.id == schema.id)),
            // Unknown to the schema: only an unrestricted projection would pass it through.
            Ok(None) | Err(_) => self.only.is_none(),
        }
    }

    /// Removes from `resource` every attribute this projection does not return; extension
    /// objects left empty are removed, and so is their URN from `schemas`.
    pub fn apply(&self, kind: ResourceKind, resource: &mut Value) {
        let Value::Object(top) = resource else {
            return;
        };
        let core = core_schema(kind);
        let extensions = extensions_for(kind);
        let keys: Vec<String> = top.keys().cloned().collect();
        for key in keys {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some(ext) = extensions.iter().find(|e| e.id.eq_ignore_ascii_case(&key)) {
                let emptied = match top.get_mut(&key) {
                    Some(Value::Object(ext_obj)) => {
                        self.project_object(ext_obj, |name| ext.attribute(name).map(|a| (*ext, a)));
                        ext_obj.is_empty()
                    }
                    _ => true,
                };
                if emptied {
                    top.remove(&key);
                }
                continue;
            }
            // Top-level keys are core or common attributes; extension data sits under its URN.
            self.project_entry(top, &key, |name| {
                resolve(kind, &AttrPath::new(name))
                    .filter(|r| r.schema.id == core.id)
                    .map(|r| (r.schema, r.attr))
            });
        }
        prune_schemas(kind, top);
    }

    fn project_object(
        &self,
        obj: &mut Map<String, Value>,
        lookup: impl Fn(&str) -> Option<(&'static SchemaDef, &'static AttributeDef)>,
    ) {
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            self.project_entry(obj, &key, &lookup);
        }
    }

    fn project_entry(
        &self,
        obj: &mut Map<String, Value>,
        key: &str,
        lookup: impl Fn(&str) -> Option<(&'static SchemaDef, &'static AttributeDef)>,
    ) {
        let Some((schema, attr)) = lookup(key) else {
            // Not in the schema: pass through unless the client asked for a specific list.
            if self.only.is_some() {
                obj.remove(key);
            }
            return;
        };
        let keep = self.keep(schema, attr);
        let emptied = match (&keep, obj.get_mut(key)) {
            (Keep::Nothing, _) | (_, None) => true,
            (Keep::All, Some(value)) => {
                // A selected complex attribute still never returns its never-returned parts,
                // nor the parts returned only when named (`members.display`).
                retain_subs(value, attr, |sub| match sub {
                    Some(sub) => !matches!(sub.returned, Returned::Never | Returned::Request),
                    None => true,
                });
                false
            }
            (Keep::Subs(names), Some(value)) => {
                retain_subs(value, attr, |sub| match sub {
                    Some(sub) => {
                        sub.returned == Returned::Always
                            || (sub.returned != Returned::Never && names.contains(&sub.name))
                    }
                    None => false,
                });
                is_empty(value)
            }
        };
        if emptied {
            obj.remove(key);
        }
    }

    fn keep(&self, schema: &SchemaDef, attr: &AttributeDef) -> Keep {
        match attr.returned {
            Returned::Never => return Keep::Nothing,
            Returned::Always => return Keep::All,
            Returned::Default | Returned::Request => {}
        }
        let selected = match &self.only {
            None if attr.returned == Returned::Request => Keep::Nothing,
            None => Keep::All,
            Some(selectors) if selectors.iter().any(|s| s.covers(schema, attr)) => Keep::All,
            Some(selectors) => {
                let subs: Vec<&'static str> = selectors
                    .iter()
                    .filter_map(|s| s.sub_of(schema, attr))
                    .map(|sub| sub.name)
                    .collect();
                if subs.is_empty() {
                    Keep::Nothing
                } else {
                    Keep::Subs(subs)
                }
            }
        };
        if self.excluded.iter().any(|s| s.covers(schema, attr)) {
            return Keep::Nothing;
        }
        let excluded_subs: Vec<&'static str> = self
            .excluded
            .iter()
            .filter_map(|s| s.sub_of(schema, attr))
            .map(|sub| sub.name)
            .collect();
        if excluded_subs.is_empty() {
            return selected;
        }
        let candidates: Vec<&'static str> = match selected {
            Keep::Nothing => return Keep::Nothing,
            Keep::All => attr.sub_attributes.iter().map(|sub| sub.name).collect(),
            Keep::Subs(names) => names,
        };
        Keep::Subs(
            candidates
                .into_iter()
                .filter(|name| !excluded_subs.contains(name))
                .collect(),
        )
    }
}

/// Keeps, in a complex value (or each element of a multi-valued one), the sub-attributes for
/// which `keep` holds; `keep` gets None for keys the schema does not know. Elements left empty
/// are dropped.
fn retain_subs(
    value: &mut Value,
    attr: &AttributeDef,
    keep: impl Fn(Option<&AttributeDef>) -> bool,
) {
    let retain_in = |obj: &mut Map<String, Value>| obj.retain(|k, _| keep(attr.sub_attribute(k)));
    match value {
        Value::Object(obj) => retain_in(obj),
        Value::Array(items) => {
            for item in items.iter_mut() {
                if let Value::Object(obj) = item {
                    retain_in(obj);
                }
            }
            items.retain(|item| !matches!(item, Value::Object(obj) if obj.is_empty()));
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Object(obj) => obj.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Drops extension URNs from `schemas` when their object is no longer in the resource.
fn prune_schemas(kind: ResourceKind, top: &mut Map<String, Value>) {
    let present: Vec<&'static str> = extensions_for(kind)
        .iter()
        .filter(|ext| top.keys().any(|k| k.eq_ignore_ascii_case(ext.id)))
        .map(|ext| ext.id)
        .collect();
    let Some(Value::Array(schemas)) = top.get_mut("schemas") else {
        return;
    };
    schemas.retain(|urn| match urn.as_str() {
        Some(urn) => {
            let is_extension = extensions_for(kind)
                .iter()
                .any(|ext| ext.id.eq_ignore_ascii_case(urn));
            !is_extension || present.iter().any(|p| p.eq_ignore_ascii_case(urn))
        }
        None => true,
    });
}

fn parse_list(kind: ResourceKind, list: &str, parameter: &str) -> Result<Vec<Selector>, ScimError> {
    let mut selectors = Vec::new();
    for (count, item) in list
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .enumerate()
    {
        if count >= MAX_SELECTORS {
            return Err(ScimError::invalid_value(format!(
                "`{parameter}` lists more than {MAX_SELECTORS} attributes"
            )));
        }
        match parse_item(kind, item) {
            Ok(Some(selector)) => selectors.push(selector),
            Ok(None) => {}
            Err(why) => {
                return Err(ScimError::invalid_value(format!(
                    "`{parameter}` entry `{}` is not an attribute path: {why} (expected `name`, `name.subAttribute` or `urn:…:name`)",
                    truncate(item, 100)
                )))
            }
        }
    }
    Ok(selectors)
}

/// Parses one attribute path; Ok(None) when it is well formed but names nothing we know.
fn parse_item(kind: ResourceKind, item: &str) -> Result<Option<Selector>, String> {
    let item = item.trim();
    let (schema_urn, rest) = if starts_with_ignore_case(item, "urn:") {
        if let Some(schema) = schemas_for(kind)
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(item))
        {
            return Ok(Some(Selector::Schema(schema)));
        }
        // Split after a known schema URN: the URN itself contains dots (`2.0`).
        match schemas_for(kind).iter().find_map(|s| {
            item.get(..s.id.len())
                .filter(|prefix| prefix.eq_ignore_ascii_case(s.id))
                .and_then(|_| item.get(s.id.len()..))
                .and_then(|tail| tail.strip_prefix(':'))
                .map(|tail| (s.id, tail))
        }) {
            Some((urn, tail)) => (Some(urn), tail),
            // Some other schema's attribute (or another resource type's): nothing to select.
            None => return Ok(None),
        }
    } else {
        (None, item)
    };
    let mut parts = rest.split('.');
    let attr = parts.next().unwrap_or_default();
    let sub = parts.next();
    if parts.next().is_some() {
        return Err("at most one `.` may follow the attribute name".into());
    }
    check_name(attr)?;
    if let Some(sub) = sub {
        check_name(sub)?;
    }
    let path = AttrPath {
        schema: schema_urn.map(str::to_string),
        attr: attr.to_string(),
        sub_attr: sub.map(str::to_string),
    };
    Ok(resolve(kind, &path).map(|r| Selector::Attr {
        schema: r.schema,
        attr: r.attr,
        sub: r.sub,
    }))
}

/// RFC 7643 §2.1 ATTRNAME (`ALPHA *(nameChar)`), plus `$ref`.
fn check_name(name: &str) -> Result<(), String> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.chars();
    match chars.next() {
        None => Err("an attribute name is empty".into()),
        Some(c) if !c.is_ascii_alphabetic() => {
            Err("an attribute name must start with a letter".into())
        }
        Some(_) if chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => Ok(()),
        Some(_) => Err("attribute names may hold only letters, digits, `-` and `_`".into()),
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or(s)),
        None => s.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::urn;
    use proptest::prelude::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "u1",
            "externalId": "ext-1",
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada Lovelace",
            "active": true,
            "password": "secret",
            "emails": [
                {"value": "ada@example.com", "type": "work", "primary": true},
                {"value": "ada@home.example", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Engineering"}],
            urn::ENTERPRISE_USER: {"employeeNumber": "42", "manager": {"value": "u0", "displayName": "Boss"}},
            "meta": {"resourceType": "User", "lastModified": "2024-01-01T00:00:00Z", "location": "https://x/Users/u1"}
        })
    }

    fn project(
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
        mut doc: Value,
    ) -> Value {
        Projection::parse(kind, attributes, excluded)
            .unwrap()
            .apply(kind, &mut doc);
        doc
    }

    #[test]
    fn default_projection_drops_only_never_returned() {
        let out = project(ResourceKind::User, None, None, user());
        let mut expected = user();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(out, expected);
    }

    #[test]
    fn attributes_keeps_selection_plus_always_returned() {
        let out = project(
            ResourceKind::User,
            Some("userName, NAME.givenName"),
            None,
            user(),
        );
        assert_eq!(
            out,
            json!({"schemas": [urn::USER], "id": "u1", "userName": "ada@example.com", "name": {"givenName": "Ada"}})
        );
    }

    #[test]
    fn password_is_never_returned_even_when_asked() {
        let out = project(ResourceKind::User, Some("password,userName"), None, user());
        assert!(out.get("password").is_none());
        assert_eq!(out["userName"], "ada@example.com");
    }

    #[test]
    fn multi_valued_sub_attribute_selection() {
        let out = project(ResourceKind::User, Some("emails.value"), None, user());
        assert_eq!(
            out["emails"],
            json!([{"value": "ada@example.com"}, {"value": "ada@home.example"}])
        );
        let out = project(
            ResourceKind::User,
            None,
            Some("emails.type,emails.primary"),
            user(),
        );
        assert_eq!(
            out["emails"],
            json!([{"value": "ada@example.com"}, {"value": "ada@home.example"}])
        );
    }

    #[test]
    fn extension_attributes_by_urn_and_empty_extension_removed() {
        let qualified = format!("{}:employeeNumber", urn::ENTERPRISE_USER);
        let out = project(ResourceKind::User, Some(&qualified), None, user());
        assert_eq!(out[urn::ENTERPRISE_USER], json!({"employeeNumber": "42"}));
        assert_eq!(out["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));

        let manager_value = format!("{}:manager.value", urn::ENTERPRISE_USER.to_uppercase());
        let out = project(ResourceKind::User, Some(&manager_value), None, user());
        assert_eq!(
            out[urn::ENTERPRISE_USER],
            json!({"manager": {"value": "u0"}})
        );

        let out = project(ResourceKind::User, Some(urn::ENTERPRISE_USER), None, user());
        assert_eq!(out[urn::ENTERPRISE_USER], user()[urn::ENTERPRISE_USER]);
        assert!(out.get("userName").is_none());

        let out = project(ResourceKind::User, Some("userName"), None, user());
        assert!(out.get(urn::ENTERPRISE_USER).is_none());
        assert_eq!(out["schemas"], json!([urn::USER]));

        let out = project(ResourceKind::User, None, Some(urn::ENTERPRISE_USER), user());
        assert!(out.get(urn::ENTERPRISE_USER).is_none());
        assert_eq!(out["schemas"], json!([urn::USER]));

        // Unqualified extension names resolve leniently.
        let out = project(
            ResourceKind::User,
            None,
            Some("employeeNumber,manager"),
            user(),
        );
        assert!(out.get(urn::ENTERPRISE_USER).is_none());
    }

    #[test]
    fn excluded_attributes_cannot_remove_id() {
        let out = project(
            ResourceKind::User,
            None,
            Some("id,groups,meta,name.familyName"),
            user(),
        );
        assert_eq!(out["id"], "u1");
        assert!(out.get("groups").is_none());
        assert!(out.get("meta").is_none());
        assert_eq!(out["name"], json!({"givenName": "Ada"}));
    }

    #[test]
    fn both_parameters_select_then_exclude() {
        let out = project(
            ResourceKind::User,
            Some("name,emails"),
            Some("name.givenName,emails"),
            user(),
        );
        assert_eq!(
            out,
            json!({"schemas": [urn::USER], "id": "u1", "name": {"familyName": "Lovelace"}})
        );
    }

    #[test]
    fn wants_lets_callers_skip_loading_members() {
        let g = ResourceKind::Group;
        assert!(Projection::default().wants(g, "members"));
        assert!(!Projection::parse(g, None, Some("members"))
            .unwrap()
            .wants(g, "members"));
        assert!(!Projection::parse(g, Some("displayName"), None)
            .unwrap()
            .wants(g, "members"));
        assert!(Projection::parse(g, Some("members.value"), None)
            .unwrap()
            .wants(g, "MEMBERS"));
        assert!(Projection::parse(g, None, Some("members.display"))
            .unwrap()
            .wants(g, "members"));
        assert!(Projection::parse(g, Some("displayName"), None)
            .unwrap()
            .wants(g, "id"));
        let u = ResourceKind::User;
        assert!(!Projection::parse(u, None, Some("groups"))
            .unwrap()
            .wants(u, "groups"));
        assert!(!Projection::default().wants(u, "password"));
    }

    #[test]
    fn group_members_excluded() {
        let mut group = json!({"schemas": [urn::GROUP], "id": "g1", "displayName": "Eng",
                               "members": [{"value": "u1", "display": "Ada"}]});
        Projection::parse(ResourceKind::Group, None, Some("members"))
            .unwrap()
            .apply(ResourceKind::Group, &mut group);
        assert_eq!(
            group,
            json!({"schemas": [urn::GROUP], "id": "g1", "displayName": "Eng"})
        );
    }

    #[test]
    fn member_display_is_returned_only_when_asked_for() {
        let group = json!({"schemas": [urn::GROUP], "id": "g1", "displayName": "Eng",
                           "members": [{"value": "u1", "type": "User", "display": "Ada"}]});
        let project = |attributes: Option<&str>| {
            let mut g = group.clone();
            Projection::parse(ResourceKind::Group, attributes, None)
                .unwrap()
                .apply(ResourceKind::Group, &mut g);
            g["members"].clone()
        };
        let plain = json!([{"value": "u1", "type": "User"}]);
        assert_eq!(project(None), plain);
        assert_eq!(project(Some("members")), plain);
        assert_eq!(
            project(Some("members.display")),
            json!([{"display": "Ada"}])
        );
        assert_eq!(
            project(Some("members.value,members.display")),
            json!([{"value": "u1", "display": "Ada"}])
        );
    }

    #[test]
    fn unknown_names_are_ignored_and_malformed_ones_refused() {
        let p = Projection::parse(
            ResourceKind::User,
            Some("userName,favouriteColour,urn:example:custom:thing"),
            None,
        )
        .unwrap();
        let mut doc = user();
        p.apply(ResourceKind::User, &mut doc);
        assert_eq!(doc["userName"], "ada@example.com");
        for bad in [
            "name..givenName",
            "a.b.c",
            "1abc",
            "user name",
            "emails[type eq \"work\"]",
            ".",
        ] {
            let err = Projection::parse(ResourceKind::User, Some(bad), None).unwrap_err();
            assert_eq!(err.status, 400);
            assert_eq!(err.scim_type, Some(crate::ScimType::InvalidValue));
            assert!(err.detail.contains("attributes"), "{}", err.detail);
        }
        let err = Projection::parse(ResourceKind::User, None, Some("x.")).unwrap_err();
        assert!(err.detail.contains("excludedAttributes"));
        let too_many = vec!["userName"; MAX_SELECTORS + 1].join(",");
        assert!(Projection::parse(ResourceKind::User, Some(&too_many), None).is_err());
        // Empty entries are tolerated.
        assert!(Projection::parse(ResourceKind::User, Some("userName,,"), Some("")).is_ok());
    }

    #[test]
    fn apply_on_non_object_is_a_no_op() {
        let mut v = json!([1, 2]);
        Projection::parse(ResourceKind::User, Some("userName"), None)
            .unwrap()
            .apply(ResourceKind::User, &mut v);
        assert_eq!(v, json!([1, 2]));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let key = prop_oneof![
                Just("userName".to_string()),
                Just("password".to_string()),
                Just("emails".to_string()),
                Just("name".to_string()),
                Just("value".to_string()),
                Just(urn::ENTERPRISE_USER.to_string()),
                "[a-zA-Z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key, inner), 0..5)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics(a in ".{0,40}", e in ".{0,40}") {
            let _ = Projection::parse(ResourceKind::User, Some(&a), Some(&e));
            let _ = Projection::parse(ResourceKind::Group, Some(&a), None);
        }

        #[test]
        fn password_never_survives_and_apply_is_idempotent(
            doc in arb_json(),
            attributes in prop::option::of(prop::sample::select(vec!["userName", "password", "emails.value", "name", urn::ENTERPRISE_USER])),
            excluded in prop::option::of(prop::sample::select(vec!["emails", "name.givenName", "id"])),
        ) {
            let p = Projection::parse(ResourceKind::User, attributes, excluded).unwrap();
            let mut once = doc;
            p.apply(ResourceKind::User, &mut once);
            if let Value::Object(top) = &once {
                prop_assert!(top.get("password").is_none());
            }
            let mut twice = once.clone();
            p.apply(ResourceKind::User, &mut twice);
            prop_assert_eq!(once, twice);
        }
    }
}
