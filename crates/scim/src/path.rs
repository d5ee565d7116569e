//! Attribute paths (RFC 7644 §3.10 `attrPath`) and PATCH paths (RFC 7644 §3.5.2 `PATH`).

use crate::filter::Filter;

/// `[URN ":"] ATTRNAME ["." subAttr]`, e.g. `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
///
/// Names keep the case they were written with; comparisons against schema names are
/// case-insensitive (RFC 7643 §2.1).
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
