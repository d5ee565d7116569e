//! Attribute paths (RFC 7644 §3.10 `attrPath`) and PATCH paths (RFC 7644 §3.5.2 `PATH`).

use std::fmt;

use crate::error::ScimError;
use crate::filter::{Filter, ParseError, Parser};

/// Longest path [`parse_attr_path`] and [`parse_patch_path`] accept, in bytes.
pub const MAX_PATH_LEN: usize = 8 * 1024;

/// `[URN ":"] ATTRNAME ["." subAttr]`, e.g. `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
///
/// Names keep the case they were written with; comparisons against schema names are
/// case-insensitive (RFC 7643 §2.1).
///
/// A bare schema URN such as `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`
/// (the whole extension object, a valid PATCH target) is represented with `schema` set to
/// the URN and an empty `attr` (and no `sub_attr`); see [`AttrPath::is_schema_only`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, when the path was written URN-qualified.
    pub schema: Option<String>,
    pub attr: String,
    pub sub_attr: Option<String>,
}

impl AttrPath {
    pub fn new(attr: impl Into<String>) -> Self {
        AttrPath {
            schema: None,
            attr: attr.into(),
            sub_attr: None,
        }
    }
    pub fn with_sub(attr: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath {
            schema: None,
            attr: attr.into(),
            sub_attr: Some(sub.into()),
        }
    }
    /// The path naming a whole schema extension object, e.g. the enterprise User extension.
    pub fn schema_only(urn: impl Into<String>) -> Self {
        AttrPath {
            schema: Some(urn.into()),
            attr: String::new(),
            sub_attr: None,
        }
    }
    /// True for a bare schema URN (no attribute named).
    pub fn is_schema_only(&self) -> bool {
        self.schema.is_some() && self.attr.is_empty()
    }
    /// Equality as SCIM sees it: schema URN and names compared case-insensitively.
    ///
    /// A URN-qualified path and the unqualified one are *not* equal here; resolving the
    /// default schema is the schema module's job.
    pub fn eq_ignore_case(&self, other: &AttrPath) -> bool {
        fn same(a: Option<&str>, b: Option<&str>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
        }
        same(self.schema.as_deref(), other.schema.as_deref())
            && self.attr.eq_ignore_ascii_case(&other.attr)
            && same(self.sub_attr.as_deref(), other.sub_attr.as_deref())
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            f.write_str(schema)?;
            if self.attr.is_empty() {
                return Ok(());
            }
            f.write_str(":")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// A PATCH target: `attrPath`, or `valuePath ["." subAttr]` such as
/// `emails[type eq "work"].value` or `members[value eq "…"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (possibly URN-qualified, possibly with a sub-attribute when there is no filter).
    pub attr: AttrPath,
    /// The value filter between brackets, its paths relative to the multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after the closing bracket.
    pub sub_attr: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Parses an attribute path such as `userName`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, or a bare
/// schema URN. Errors are 400 `invalidPath`.
pub fn parse_attr_path(s: &str) -> Result<AttrPath, ScimError> {
    check_path_len(s)?;
    let mut parser = Parser::new(s);
    let result = (|| {
        parser.skip_ws();
        let (path, _) = parser.attr_path()?;
        if parser.peek() == Some('[') {
            return Err(parser.error_here(
                "a value filter in brackets is not allowed here; name an attribute such as \
                 'emails' or 'emails.value'",
            ));
        }
        parser.expect_end("the end of the path")?;
        Ok(path)
    })();
    result.map_err(|e| path_error(s, &parser, e))
}

/// Parses a PATCH `path` (RFC 7644 §3.5.2): an attribute path, or a value path with an
/// optional trailing sub-attribute such as `emails[type eq "work"].value`. Errors are
/// 400 `invalidPath`.
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ScimError> {
    check_path_len(s)?;
    let mut parser = Parser::new(s);
    let result = (|| {
        parser.skip_ws();
        let (attr, attr_start) = parser.attr_path()?;
        let mut filter = None;
        let mut sub_attr = None;
        if parser.peek() == Some('[') {
            parser.check_value_path_target(&attr, attr_start)?;
            filter = Some(parser.bracket_filter()?);
            if parser.peek() == Some('.') {
                parser.advance_char();
                sub_attr = Some(parser.attr_name("a sub-attribute name after '].'")?);
            }
        }
        parser.expect_end("the end of the path")?;
        Ok(PatchPath {
            attr,
            filter,
            sub_attr,
        })
    })();
    result.map_err(|e| path_error(s, &parser, e))
}

fn check_path_len(s: &str) -> Result<(), ScimError> {
    if s.len() > MAX_PATH_LEN {
        return Err(ScimError::invalid_path(format!(
            "Invalid path: it is {} bytes long; the limit is {MAX_PATH_LEN}",
            s.len()
        )));
    }
    Ok(())
}

fn path_error(input: &str, parser: &Parser<'_>, e: ParseError) -> ScimError {
    const SHOWN: usize = 100;
    let shown: String = input.chars().take(SHOWN).collect();
    let ellipsis = if input.chars().nth(SHOWN).is_some() {
        "…"
    } else {
        ""
    };
    ScimError::invalid_path(format!(
        "Invalid path '{shown}{ellipsis}' at offset {}: {}",
        parser.char_offset(e.offset),
        e.message
    ))
}

/// Schema URNs that may appear alone as a path (they would otherwise be split at their
/// last ':' into a URN and an attribute name).
const SCHEMA_URNS: [&str; 3] = [
    crate::urn::USER,
    crate::urn::GROUP,
    crate::urn::ENTERPRISE_USER,
];

/// Characters that may appear in a path token: name characters, URN separators, `$`.
pub(crate) fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$' | '/')
}

/// Checks `ATTRNAME = ALPHA *(nameChar)` (plus `$ref`); the error names what was wrong.
pub(crate) fn check_attr_name(name: &str) -> Result<(), String> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("expected an attribute name, found nothing".to_string()),
        Some(c) if c.is_ascii_alphabetic() => {}
        Some(c) => {
            return Err(format!(
                "attribute name '{name}' must start with a letter, not '{c}'"
            ))
        }
    }
    match chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        None => Ok(()),
        Some(c) => Err(format!(
            "attribute name '{name}' may contain only letters, digits, '-' and '_', not '{c}'"
        )),
    }
}

/// Splits a path token (a run of [`is_path_char`]) into URN, attribute and sub-attribute.
///
/// The URN is everything up to the last ':' (attribute names never contain ':'), except
/// for a token that is itself a known schema URN, which becomes a schema-only path.
/// Errors carry a byte offset into `token`.
pub(crate) fn split_attr_path(token: &str) -> Result<AttrPath, (usize, String)> {
    if SCHEMA_URNS.iter().any(|u| u.eq_ignore_ascii_case(token)) {
        return Ok(AttrPath::schema_only(token));
    }
    let (schema, name_start) = match token.rfind(':') {
        None => (None, 0),
        Some(colon) => {
            let urn = &token[..colon];
            if !urn.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Err((
                    0,
                    format!("'{token}' is not a valid path: a schema URN must start with a letter"),
                ));
            }
            if colon + 1 == token.len() {
                return Err((
                    colon,
                    format!(
                        "'{token}' ends with ':'; name an attribute after the schema URN, \
                         e.g. '{urn}:attributeName'"
                    ),
                ));
            }
            (Some(urn.to_string()), colon + 1)
        }
    };
    let names = &token[name_start..];
    let (attr, sub_attr) = match names.split_once('.') {
        None => (names, None),
        Some((attr, sub)) => (attr, Some(sub)),
    };
    check_attr_name(attr).map_err(|m| (name_start, m))?;
    if let Some(sub) = sub_attr {
        let sub_start = name_start + attr.len() + 1;
        if let Some(dot) = sub.find('.') {
            return Err((
                sub_start + dot,
                format!(
                    "'{names}' has more than one '.'; a path names at most an attribute and \
                     one sub-attribute, e.g. 'name.givenName'"
                ),
            ));
        }
        check_attr_name(sub).map_err(|m| (sub_start, m))?;
    }
    Ok(AttrPath {
        schema,
        attr: attr.to_string(),
        sub_attr: sub_attr.map(str::to_string),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use crate::filter::{CompValue, CompareOp};
    use crate::urn;

    fn cmp(attr: &str, op: CompareOp, v: &str) -> Filter {
        Filter::Compare(AttrPath::new(attr), op, CompValue::String(v.to_string()))
    }

    #[test]
    fn attr_path_forms() {
        assert_eq!(parse_attr_path("active").unwrap(), AttrPath::new("active"));
        assert_eq!(
            parse_attr_path("name.givenName").unwrap(),
            AttrPath::with_sub("name", "givenName")
        );
        assert_eq!(
            parse_attr_path("  meta.lastModified\t").unwrap(),
            AttrPath::with_sub("meta", "lastModified")
        );
        let p = parse_attr_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();
        assert_eq!(p.schema.as_deref(), Some(urn::ENTERPRISE_USER));
        assert_eq!(p.attr, "manager");
        assert_eq!(p.sub_attr.as_deref(), Some("value"));
        let p =
            parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").unwrap();
        assert_eq!(p.schema.as_deref(), Some(urn::USER));
        assert_eq!(p.attr, "name");
        assert_eq!(p.sub_attr.as_deref(), Some("givenName"));
        assert_eq!(parse_attr_path("$ref").unwrap(), AttrPath::new("$ref"));
        assert_eq!(
            parse_attr_path("members.$ref").unwrap(),
            AttrPath::with_sub("members", "$ref")
        );
    }

    #[test]
    fn bare_schema_urn_is_schema_only() {
        let p = parse_attr_path(urn::ENTERPRISE_USER).unwrap();
        assert!(p.is_schema_only());
        assert_eq!(p.schema.as_deref(), Some(urn::ENTERPRISE_USER));
        assert_eq!(p.attr, "");
        assert_eq!(p.to_string(), urn::ENTERPRISE_USER);
        // Case-insensitively recognised, original case kept.
        let lower = urn::ENTERPRISE_USER.to_ascii_lowercase();
        let p = parse_patch_path(&lower).unwrap();
        assert!(p.attr.is_schema_only());
        assert_eq!(p.attr.schema.as_deref(), Some(lower.as_str()));
    }

    #[test]
    fn patch_path_forms() {
        let p = parse_patch_path("emails[type eq \"work\"]").unwrap();
        assert_eq!(p.attr, AttrPath::new("emails"));
        assert_eq!(p.filter, Some(cmp("type", CompareOp::Eq, "work")));
        assert_eq!(p.sub_attr, None);

        let p = parse_patch_path("emails[type eq \"work\"].value").unwrap();
        assert_eq!(p.filter, Some(cmp("type", CompareOp::Eq, "work")));
        assert_eq!(p.sub_attr.as_deref(), Some("value"));

        let p =
            parse_patch_path("members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]").unwrap();
        assert_eq!(p.attr, AttrPath::new("members"));
        assert_eq!(
            p.filter,
            Some(cmp(
                "value",
                CompareOp::Eq,
                "89bb1940-b905-4575-9e7f-6f887cfb368e"
            ))
        );

        let p =
            parse_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap();
        assert_eq!(p.attr.schema.as_deref(), Some(urn::ENTERPRISE_USER));
        assert_eq!(p.attr.attr, "manager");
        assert_eq!(p.filter, None);

        let p = parse_patch_path("name.givenName").unwrap();
        assert_eq!(p.attr, AttrPath::with_sub("name", "givenName"));

        let p = parse_patch_path("emails[type eq \"work\" and not (primary eq false)].display")
            .unwrap();
        assert!(matches!(p.filter, Some(Filter::And(..))));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "active",
            "name.givenName",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "members[value eq \"id\"]",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "emails[(type eq \"work\" or value co \"@x\") and not (primary eq true)].value",
        ] {
            let p = parse_patch_path(s).unwrap();
            assert_eq!(p.to_string(), s);
            assert_eq!(parse_patch_path(&p.to_string()).unwrap(), p);
        }
    }

    fn invalid_path(s: &str) -> String {
        let e = parse_patch_path(s).unwrap_err();
        assert_eq!(e.status, 400, "{s}");
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{s}");
        e.detail
    }

    #[test]
    fn patch_path_errors() {
        assert!(invalid_path("").contains("expected an attribute"));
        assert!(invalid_path("   ").contains("offset 3"));
        assert!(invalid_path("emails[").contains("expected an attribute"));
        assert!(invalid_path("emails[type eq \"work\"").contains("never closed"));
        assert!(invalid_path("emails[type eq \"work\"].").contains("sub-attribute"));
        assert!(invalid_path("emails[type eq \"work\"].value.x").contains("end of the path"));
        assert!(invalid_path("emails[type eq \"work\"]x").contains("end of the path"));
        assert!(invalid_path("emails[type[value eq 1]]").contains("nested"));
        assert!(invalid_path("name.givenName[type eq 1]").contains("sub-attribute"));
        assert!(invalid_path("a.b.c").contains("more than one '.'"));
        assert!(invalid_path("1abc").contains("must start with a letter"));
        assert!(invalid_path("urn:foo:").contains("ends with ':'"));
        assert!(invalid_path("emails []").contains("end of the path"));
        assert!(invalid_path("emails[type zz \"w\"]").contains("operator"));
        assert!(invalid_path(&"a".repeat(MAX_PATH_LEN + 1)).contains("limit"));
        let detail = invalid_path(&format!("{}!", "x".repeat(300)));
        assert!(detail.contains('…'), "{detail}");
    }

    #[test]
    fn attr_path_errors() {
        let e = parse_attr_path("emails[type eq \"work\"]").unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        assert!(e.detail.contains("not allowed here"), "{}", e.detail);
        let e = parse_attr_path("user name").unwrap_err();
        assert!(e.detail.contains("offset 5"), "{}", e.detail);
        assert!(parse_attr_path("name.").is_err());
        assert!(parse_attr_path(".name").is_err());
        assert!(parse_attr_path("na!me").is_err());
    }

    #[test]
    fn eq_ignore_case() {
        let a =
            parse_attr_path("urn:ietf:params:scim:schemas:core:2.0:User:NAME.givenname").unwrap();
        let b =
            parse_attr_path("URN:IETF:params:scim:schemas:core:2.0:user:name.GivenName").unwrap();
        assert!(a.eq_ignore_case(&b));
        assert!(!a.eq_ignore_case(&AttrPath::with_sub("name", "givenName")));
        assert!(!AttrPath::new("name").eq_ignore_case(&AttrPath::with_sub("name", "x")));
        assert!(AttrPath::new("userName").eq_ignore_case(&AttrPath::new("USERNAME")));
    }

    mod properties {
        use super::super::*;
        use crate::filter::tests::arb_value_filter;
        use proptest::prelude::*;

        fn arb_name() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
                Just("$ref".to_string()),
                Just("not".to_string()),
            ]
        }

        fn arb_patch_path() -> impl Strategy<Value = PatchPath> {
            let schema = prop_oneof![
                Just(None),
                Just(Some(crate::urn::USER.to_string())),
                Just(Some(crate::urn::ENTERPRISE_USER.to_string())),
                Just(Some("urn:example:params:custom:1.0:Thing".to_string())),
            ];
            (
                schema,
                arb_name(),
                proptest::option::of(arb_name()),
                proptest::option::of(arb_value_filter()),
                proptest::option::of(arb_name()),
            )
                .prop_map(|(schema, attr, sub, filter, after)| match filter {
                    // A value path has no sub-attribute before the brackets.
                    Some(filter) => PatchPath {
                        attr: AttrPath {
                            schema,
                            attr,
                            sub_attr: None,
                        },
                        filter: Some(filter),
                        sub_attr: after,
                    },
                    None => PatchPath {
                        attr: AttrPath {
                            schema,
                            attr,
                            sub_attr: sub,
                        },
                        filter: None,
                        sub_attr: None,
                    },
                })
        }

        proptest! {
            #[test]
            fn patch_path_round_trips(path in arb_patch_path()) {
                let printed = path.to_string();
                let parsed = parse_patch_path(&printed);
                prop_assert_eq!(parsed, Ok(path), "printed as {}", printed);
            }

            #[test]
            fn patch_path_never_panics(s in "\\PC{0,60}") {
                if let Err(e) = parse_patch_path(&s) {
                    prop_assert_eq!(e.scim_type, Some(crate::error::ScimType::InvalidPath));
                }
                let _ = parse_attr_path(&s);
            }
        }
    }
}
