//! Structured PATCH bodies built from the paths, keys and values identity providers really
//! send (Okta, Entra ID), so that the fuzzer spends its time deep inside `patch::apply`
//! rather than in the JSON and path parsers. Same invariants as `patch_body`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use scim_fuzz::{ENTERPRISE, PATCH_OP};
use serde_json::{json, Map, Value};

const ENT_PREFIX: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:";

/// Whole PATCH paths as clients write them.
const PATHS: &[&str] = &[
    "userName",
    "displayName",
    "nickName",
    "title",
    "active",
    "externalId",
    "locale",
    "timezone",
    "userType",
    "preferredLanguage",
    "password",
    "id",
    "schemas",
    "meta",
    "meta.lastModified",
    "name",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "name.middleName",
    "emails",
    "emails.value",
    "emails.type",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\"].primary",
    "emails[type eq \"home\"].value",
    "emails[primary eq true].value",
    "emails[value ew \".org\"]",
    "emails[type eq \"work\" and primary eq true].value",
    "emails[not (type eq \"work\")].display",
    "emails[type eq \"other\" or value co \"@\"].type",
    "phoneNumbers",
    "phoneNumbers[type eq \"mobile\"].value",
    "phoneNumbers[type eq \"work\"]",
    "addresses",
    "addresses[type eq \"work\"].locality",
    "addresses[type eq \"work\"].streetAddress",
    "addresses[type eq \"home\"].formatted",
    "roles",
    "roles[primary eq \"True\"].value",
    "entitlements",
    "x509Certificates",
    "photos[type eq \"photo\"].value",
    "ims[type eq \"xmpp\"].value",
    "groups",
    "groups.value",
    "members",
    "members.value",
    "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
    "members[value eq \"26118915-6090-4610-87e4-49d8ca9f808d\"]",
    "members[value eq \"a\" or value eq \"b\"]",
    "members[value eq \"a\"].display",
    "members[display pr]",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
    "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
];

/// Attributes and sub-attributes to compose paths (and pathless value keys) from.
const ATTRS: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
    "roles",
    "members",
    "groups",
    "externalId",
    "title",
    "nickName",
    "ims",
    "photos",
    "entitlements",
    "x509Certificates",
    "meta",
    "id",
    "schemas",
    "password",
    "unknownAttr",
];
const SUBS: &[&str] = &[
    "value",
    "type",
    "primary",
    "display",
    "givenName",
    "familyName",
    "formatted",
    "locality",
    "streetAddress",
    "$ref",
    "manager",
    "department",
    "lastModified",
    "nope",
];
const STRINGS: &[&str] = &[
    "",
    "work",
    "home",
    "mobile",
    "other",
    "True",
    "False",
    "true",
    "false",
    "TRUE",
    "bjensen@example.com",
    "babs@jensen.org",
    "Barbara",
    "Jensen",
    "2819c223-7f76-453a-919d-413861904646",
    "26118915-6090-4610-87e4-49d8ca9f808d",
    "e9e30dba-f08f-4109-8486-d5c6a331660a",
    "2011-05-13T04:42:34Z",
    "not-a-date",
    "555-555-5555",
    "Tour Operations",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
];
const OPS: &[&str] = &[
    "add",
    "remove",
    "replace",
    "Add",
    "Remove",
    "Replace",
    "ADD",
    " replace ",
    "update",
];

#[derive(Arbitrary, Debug)]
enum PathSpec {
    Known(u8),
    /// `attr[sub op "value"].sub2`, `attr.sub`, `ENT:attr.sub`…
    Composed {
        enterprise: bool,
        attr: u8,
        filter: Option<(u8, u8, ValSpec)>,
        sub: Option<u8>,
    },
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum ValSpec {
    Null,
    Bool(bool),
    Str(u8),
    RawStr(String),
    Int(i32),
    Float(f64),
    Array(Vec<ValSpec>),
    /// An object keyed by attribute names, sub-attributes, paths or enterprise URNs.
    Object(Vec<(KeySpec, ValSpec)>),
    /// `[{"value": id}, …]`, the shape of members, emails and groups.
    Multi(Vec<(u8, Option<u8>, Option<bool>)>),
}

#[derive(Arbitrary, Debug)]
enum KeySpec {
    Attr(u8),
    Sub(u8),
    Path(u8),
    Enterprise,
    EnterpriseAttr(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct OpSpec {
    op: u8,
    path: Option<PathSpec>,
    value: Option<ValSpec>,
    /// Write the keys as `Op`/`Path`/`Value` (Entra's capitalisation) instead.
    capitalised: bool,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn compare_op(i: u8) -> &'static str {
    ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"][usize::from(i) % 10]
}

fn path(spec: &PathSpec) -> String {
    match spec {
        PathSpec::Known(i) => pick(PATHS, *i).to_string(),
        PathSpec::Composed {
            enterprise,
            attr,
            filter,
            sub,
        } => {
            let mut s = String::new();
            if *enterprise {
                s.push_str(ENT_PREFIX);
                s.push_str(pick(
                    &["department", "manager", "employeeNumber", "division"],
                    *attr,
                ));
            } else {
                s.push_str(pick(ATTRS, *attr));
            }
            if let Some((fsub, op, v)) = filter {
                let op = compare_op(*op);
                if op == "pr" {
                    s.push_str(&format!("[{} pr]", pick(SUBS, *fsub)));
                } else {
                    s.push_str(&format!("[{} {op} {}]", pick(SUBS, *fsub), literal(v)));
                }
            }
            if let Some(sub) = sub {
                s.push('.');
                s.push_str(pick(SUBS, *sub));
            }
            s
        }
        PathSpec::Raw(s) => s.clone(),
    }
}

/// A filter comparison value: JSON scalars only.
fn literal(v: &ValSpec) -> String {
    match v {
        ValSpec::Null => "null".into(),
        ValSpec::Bool(b) => b.to_string(),
        ValSpec::Int(n) => n.to_string(),
        ValSpec::Float(f) if f.is_finite() => f.to_string(),
        ValSpec::RawStr(s) => Value::String(s.clone()).to_string(),
        _ => Value::String(pick(STRINGS, 1).into()).to_string(),
    }
}

fn key(spec: &KeySpec) -> String {
    match spec {
        KeySpec::Attr(i) => pick(ATTRS, *i).into(),
        KeySpec::Sub(i) => pick(SUBS, *i).into(),
        KeySpec::Path(i) => pick(PATHS, *i).into(),
        KeySpec::Enterprise => ENTERPRISE.into(),
        KeySpec::EnterpriseAttr(i) => format!(
            "{ENT_PREFIX}{}",
            pick(
                &["department", "manager", "employeeNumber", "costCenter"],
                *i
            )
        ),
        KeySpec::Raw(s) => s.clone(),
    }
}

fn value(spec: &ValSpec, depth: usize) -> Value {
    if depth > 6 {
        return Value::Null;
    }
    match spec {
        ValSpec::Null => Value::Null,
        ValSpec::Bool(b) => Value::Bool(*b),
        ValSpec::Str(i) => Value::String(pick(STRINGS, *i).into()),
        ValSpec::RawStr(s) => Value::String(s.clone()),
        ValSpec::Int(n) => json!(n),
        ValSpec::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        ValSpec::Array(items) => items.iter().map(|v| value(v, depth + 1)).collect(),
        ValSpec::Object(fields) => {
            let mut map = Map::new();
            for (k, v) in fields {
                map.insert(key(k), value(v, depth + 1));
            }
            Value::Object(map)
        }
        ValSpec::Multi(items) => items
            .iter()
            .map(|(v, ty, primary)| {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(pick(STRINGS, *v).into()));
                if let Some(ty) = ty {
                    m.insert("type".into(), Value::String(pick(STRINGS, *ty).into()));
                }
                if let Some(p) = primary {
                    m.insert("primary".into(), Value::Bool(*p));
                }
                Value::Object(m)
            })
            .collect(),
    }
}

fn operation(spec: &OpSpec) -> Value {
    let (op_key, path_key, value_key) = if spec.capitalised {
        ("Op", "Path", "Value")
    } else {
        ("op", "path", "value")
    };
    let mut m = Map::new();
    m.insert(op_key.into(), Value::String(pick(OPS, spec.op).into()));
    if let Some(p) = &spec.path {
        m.insert(path_key.into(), Value::String(path(p)));
    }
    if let Some(v) = &spec.value {
        m.insert(value_key.into(), value(v, 0));
    }
    Value::Object(m)
}

fuzz_target!(|data: &[u8]| scim_fuzz::on_worker_stack(data, run));

/// One input, on a thread with the server's stack size.
fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(specs) = u.arbitrary_iter::<OpSpec>() else {
        return;
    };
    let ops: Vec<Value> = specs
        .take(8)
        .filter_map(Result::ok)
        .map(|s| operation(&s))
        .collect();
    if ops.is_empty() {
        return;
    }
    let body = json!({"schemas": [PATCH_OP], "Operations": ops});
    let Ok(parsed) = scim::patch::parse_patch_request(&body) else {
        return;
    };
    scim_fuzz::check_ops(&parsed);
}
