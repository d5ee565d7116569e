//! Schema definitions (RFC 7643 §7) for User, EnterpriseUser and Group: the single source
//! of truth for `/Schemas`, case rules in filters, mutability in PUT/PATCH, and `returned`
//! in projection.

use crate::path::AttrPath;

/// The resource types Portcullis serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute of a schema (RFC 7643 §7 "attributes").
#[derive(Debug, Clone, Copy)]
pub struct AttributeDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
}

/// A schema: its URN and attributes.
#[derive(Debug, Clone, Copy)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl ResourceKind {
    /// The core schema URN of this resource type.
    pub fn core_urn(self) -> &'static str {
        match self {
            ResourceKind::User => crate::urn::USER,
            ResourceKind::Group => crate::urn::GROUP,
        }
    }
    /// The resource type name used in `meta.resourceType` and `/ResourceTypes/{id}`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// The endpoint path relative to the SCIM root, e.g. `/Users`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
}

impl AttrType {
    /// The spelling used in `/Schemas` (RFC 7643 §7).
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

impl AttributeDef {
    /// The sub-attribute called `name` (case-insensitive), if this is a complex attribute.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_attribute(self.sub_attributes, name)
    }
}

impl SchemaDef {
    /// The attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_attribute(self.attributes, name)
    }
}

fn find_attribute(attrs: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

// Builders so the tables below read like RFC 7643 §8.7.1: every attribute starts from the RFC's
// defaults (single-valued, optional, caseExact false, readWrite, returned default, uniqueness none)
// and only the characteristics that differ are spelled out.
const fn attr(name: &'static str, ty: AttrType, description: &'static str) -> AttributeDef {
    AttributeDef {
        name,
        ty,
        multi_valued: false,
        description,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttributeDef {
    attr(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttributeDef {
    attr(name, AttrType::Boolean, description)
}

const fn reference(
    name: &'static str,
    reference_types: &'static [&'static str],
    description: &'static str,
) -> AttributeDef {
    let mut a = attr(name, AttrType::Reference, description);
    a.reference_types = reference_types;
    a
}

const fn complex(
    name: &'static str,
    sub_attributes: &'static [AttributeDef],
    description: &'static str,
) -> AttributeDef {
    let mut a = attr(name, AttrType::Complex, description);
    a.sub_attributes = sub_attributes;
    a
}

impl AttributeDef {
    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    const fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    const fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    const fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
}

use Mutability::{Immutable, ReadOnly, WriteOnly};

/// The four sub-attributes RFC 7643 §2.4 gives most multi-valued attributes, with the
/// `type` canonical values of each attribute.
macro_rules! multi_valued_subs {
    ($value:expr, $types:expr) => {
        &[
            $value,
            string("display", "A human-readable name, primarily used for display purposes."),
            string("type", "A label indicating the attribute's function.").canonical($types),
            boolean(
                "primary",
                "Whether this is the preferred value for this attribute; at most one value is primary.",
            ),
        ]
    };
}

const NAME_SUBS: &[AttributeDef] = &[
    string("formatted", "The full name, formatted for display."),
    string(
        "familyName",
        "The family name (last name in most Western languages).",
    ),
    string(
        "givenName",
        "The given name (first name in most Western languages).",
    ),
    string("middleName", "The middle name(s)."),
    string("honorificPrefix", "Honorific prefix(es), e.g. 'Ms.'."),
    string("honorificSuffix", "Honorific suffix(es), e.g. 'III'."),
];

const EMAIL_SUBS: &[AttributeDef] = multi_valued_subs!(
    string("value", "The email address, canonicalized per RFC 5321."),
    &["work", "home", "other"]
);

const PHONE_SUBS: &[AttributeDef] = multi_valued_subs!(
    string("value", "The phone number, ideally in RFC 3966 form."),
    &["work", "home", "mobile", "fax", "pager", "other"]
);

const IM_SUBS: &[AttributeDef] = multi_valued_subs!(
    string("value", "The instant messaging address."),
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
);

const PHOTO_SUBS: &[AttributeDef] = multi_valued_subs!(
    reference("value", &["external"], "The URL of the image."),
    &["photo", "thumbnail"]
);

const ADDRESS_SUBS: &[AttributeDef] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    string(
        "streetAddress",
        "The street address, possibly on several lines.",
    ),
    string("locality", "The city or locality."),
    string("region", "The state or region."),
    string("postalCode", "The postal or zip code."),
    string("country", "The country, as an ISO 3166-1 alpha-2 code."),
    string("type", "A label indicating the address's function.")
        .canonical(&["work", "home", "other"]),
    boolean("primary", "Whether this is the preferred mailing address."),
];

const USER_GROUP_SUBS: &[AttributeDef] = &[
    string("value", "The id of the group.").mutability(ReadOnly),
    reference("$ref", &["User", "Group"], "The URI of the group.").mutability(ReadOnly),
    string("display", "The display name of the group.").mutability(ReadOnly),
    string(
        "type",
        "Whether membership is direct or inherited through another group.",
    )
    .canonical(&["direct", "indirect"])
    .mutability(ReadOnly),
];

const ENTITLEMENT_SUBS: &[AttributeDef] =
    multi_valued_subs!(string("value", "The value of an entitlement."), &[]);

const ROLE_SUBS: &[AttributeDef] = multi_valued_subs!(string("value", "The value of a role."), &[]);

const X509_SUBS: &[AttributeDef] = multi_valued_subs!(
    attr(
        "value",
        AttrType::Binary,
        "The DER-encoded certificate, base64-encoded."
    ),
    &[]
);

const USER_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "userName",
        "Unique identifier for the user, used to sign in.",
    )
    .required()
    .uniqueness(Uniqueness::Server),
    complex("name", NAME_SUBS, "The components of the user's real name."),
    string(
        "displayName",
        "The name of the user, suitable for display to end users.",
    ),
    string("nickName", "The casual way to address the user."),
    reference(
        "profileUrl",
        &["external"],
        "A URI pointing to the user's online profile.",
    ),
    string("title", "The user's title, such as 'Vice President'."),
    string(
        "userType",
        "The relationship between the organization and the user, e.g. 'Employee'.",
    ),
    string(
        "preferredLanguage",
        "The user's preferred written or spoken language (RFC 7231 Accept-Language form).",
    ),
    string(
        "locale",
        "The user's default location for localization, e.g. 'en-US'.",
    ),
    string(
        "timezone",
        "The user's time zone in IANA Time Zone database form, e.g. 'America/Los_Angeles'.",
    ),
    boolean(
        "active",
        "The user's administrative status; false locks the user out.",
    ),
    string(
        "password",
        "The user's cleartext password; accepted on write and never returned.",
    )
    .mutability(WriteOnly)
    .returned(Returned::Never),
    complex("emails", EMAIL_SUBS, "Email addresses for the user.").multi(),
    complex("phoneNumbers", PHONE_SUBS, "Phone numbers for the user.").multi(),
    complex("ims", IM_SUBS, "Instant messaging addresses for the user.").multi(),
    complex("photos", PHOTO_SUBS, "URLs of photos of the user.").multi(),
    complex(
        "addresses",
        ADDRESS_SUBS,
        "Physical mailing addresses for the user.",
    )
    .multi(),
    complex(
        "groups",
        USER_GROUP_SUBS,
        "The groups the user belongs to; managed through /Groups.",
    )
    .multi()
    .mutability(ReadOnly),
    complex(
        "entitlements",
        ENTITLEMENT_SUBS,
        "Entitlements of the user.",
    )
    .multi(),
    complex("roles", ROLE_SUBS, "Roles of the user.").multi(),
    complex(
        "x509Certificates",
        X509_SUBS,
        "X.509 certificates issued to the user.",
    )
    .multi(),
];

const MANAGER_SUBS: &[AttributeDef] = &[
    string("value", "The id of the user's manager."),
    reference("$ref", &["User"], "The URI of the user's manager."),
    string("displayName", "The display name of the user's manager.").mutability(ReadOnly),
];

const ENTERPRISE_USER_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "employeeNumber",
        "A number or string identifying the user within the organization.",
    ),
    string("costCenter", "The name of a cost center."),
    string("organization", "The name of an organization."),
    string("division", "The name of a division."),
    string("department", "The name of a department."),
    complex("manager", MANAGER_SUBS, "The user's manager."),
];

const MEMBER_SUBS: &[AttributeDef] = &[
    string("value", "The id of the member.").mutability(Immutable),
    reference("$ref", &["User", "Group"], "The URI of the member.").mutability(Immutable),
    string("type", "The kind of member.")
        .canonical(&["User", "Group"])
        .mutability(Immutable),
    // Returned on request only: the server computes it from the member's current name, so it
    // is no echo of what the client wrote, and a large group is listed without a join.
    string(
        "display",
        "The display name of the member; returned when asked for (attributes=members.display).",
    )
    .mutability(ReadOnly)
    .returned(Returned::Request),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    string("displayName", "A human-readable name for the group.").required(),
    complex("members", MEMBER_SUBS, "The members of the group.").multi(),
];

pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: crate::urn::USER,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: crate::urn::ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_USER_ATTRIBUTES,
};

pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: crate::urn::GROUP,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

const META_SUBS: &[AttributeDef] = &[
    string(
        "resourceType",
        "The name of the resource type of the resource.",
    )
    .case_exact()
    .mutability(ReadOnly),
    attr(
        "created",
        AttrType::DateTime,
        "When the resource was added to the service provider.",
    )
    .mutability(ReadOnly),
    attr(
        "lastModified",
        AttrType::DateTime,
        "When the resource was last changed.",
    )
    .mutability(ReadOnly),
    reference("location", &["uri"], "The URI of the resource.")
        .case_exact()
        .mutability(ReadOnly),
    string("version", "The version (ETag) of the resource.")
        .case_exact()
        .mutability(ReadOnly),
];

/// The attributes every resource carries (RFC 7643 §3.1): not part of any schema's list.
pub static COMMON_ATTRIBUTES: &[AttributeDef] = &[
    string(
        "id",
        "The service provider's unique, stable identifier for the resource.",
    )
    .case_exact()
    .mutability(ReadOnly)
    .returned(Returned::Always)
    .uniqueness(Uniqueness::Server),
    string(
        "externalId",
        "The provisioning client's identifier for the resource.",
    )
    .case_exact(),
    complex(
        "meta",
        META_SUBS,
        "Resource metadata maintained by the service provider.",
    )
    .mutability(ReadOnly),
];

static USER_SCHEMAS: [&SchemaDef; 2] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA];
static GROUP_SCHEMAS: [&SchemaDef; 1] = [&GROUP_SCHEMA];

/// The schemas of a resource type: the core schema first, then its extensions.
pub fn schemas_for(kind: ResourceKind) -> &'static [&'static SchemaDef] {
    match kind {
        ResourceKind::User => &USER_SCHEMAS,
        ResourceKind::Group => &GROUP_SCHEMAS,
    }
}

/// The core schema of a resource type.
pub fn core_schema(kind: ResourceKind) -> &'static SchemaDef {
    match kind {
        ResourceKind::User => &USER_SCHEMA,
        ResourceKind::Group => &GROUP_SCHEMA,
    }
}

/// The extension schemas of a resource type (everything but the core schema).
pub fn extensions_for(kind: ResourceKind) -> &'static [&'static SchemaDef] {
    schemas_for(kind).get(1..).unwrap_or(&[])
}

/// The schema of `kind` whose URN is `urn` (case-insensitive; a trailing `:` is tolerated).
pub fn schema_by_urn(kind: ResourceKind, urn: &str) -> Option<&'static SchemaDef> {
    let urn = urn.strip_suffix(':').unwrap_or(urn);
    schemas_for(kind)
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(urn))
}

/// An attribute path resolved against the schema tables.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The schema the attribute belongs to; the core schema for common attributes.
    pub schema: &'static SchemaDef,
    pub attr: &'static AttributeDef,
    pub sub: Option<&'static AttributeDef>,
}

impl Resolved {
    /// The attribute the path finally names: the sub-attribute when there is one.
    pub fn leaf(&self) -> &'static AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
    /// True when the attribute lives in an extension schema (its JSON sits under the URN key).
    pub fn is_extension(&self) -> bool {
        !std::ptr::eq(self.schema, &USER_SCHEMA) && !std::ptr::eq(self.schema, &GROUP_SCHEMA)
    }
}

/// Resolves `path` for resource type `kind`. Names are case-insensitive.
///
/// A URN-qualified path resolves only in that schema. An unqualified name means the core schema
/// (RFC 7643 §3.3), then the common attributes; for leniency towards clients that omit the URN,
/// an extension attribute the core lacks (e.g. `employeeNumber`) resolves too.
pub fn resolve(kind: ResourceKind, path: &AttrPath) -> Option<Resolved> {
    let core = core_schema(kind);
    let (schema, attr) = match path.schema.as_deref() {
        Some(urn) => {
            let schema = schema_by_urn(kind, urn)?;
            let attr = schema.attribute(&path.attr).or_else(|| {
                // `urn:…:core:2.0:User:id` names a common attribute in the core namespace.
                if std::ptr::eq(schema, core) {
                    find_attribute(COMMON_ATTRIBUTES, &path.attr)
                } else {
                    None
                }
            })?;
            (schema, attr)
        }
        None => {
            if let Some(attr) = core
                .attribute(&path.attr)
                .or_else(|| find_attribute(COMMON_ATTRIBUTES, &path.attr))
            {
                (core, attr)
            } else {
                extensions_for(kind)
                    .iter()
                    .find_map(|ext| ext.attribute(&path.attr).map(|a| (*ext, a)))?
            }
        }
    };
    let sub = match path.sub_attr.as_deref() {
        Some(name) => Some(attr.sub_attribute(name)?),
        None => None,
    };
    Some(Resolved { schema, attr, sub })
}

/// Whether comparisons on `path` are case-sensitive; false for unknown attributes. A complex
/// attribute without a sub-attribute (`emails co "x"`) compares on its `value`.
pub fn case_exact(kind: ResourceKind, path: &AttrPath) -> bool {
    match resolve(kind, path) {
        Some(r) => {
            let leaf = r.leaf();
            if leaf.ty == AttrType::Complex {
                leaf.sub_attribute("value").is_some_and(|v| v.case_exact)
            } else {
                leaf.case_exact
            }
        }
        None => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::urn;

    fn qualified(schema: &str, attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            schema: Some(schema.to_string()),
            attr: attr.to_string(),
            sub_attr: sub.map(str::to_string),
        }
    }

    #[test]
    fn user_name_is_required_case_insensitive_and_server_unique() {
        let r = resolve(ResourceKind::User, &AttrPath::new("USERNAME")).unwrap();
        assert_eq!(r.attr.name, "userName");
        assert!(r.attr.required);
        assert!(!r.attr.case_exact);
        assert_eq!(r.attr.uniqueness, Uniqueness::Server);
        assert_eq!(r.schema.id, urn::USER);
        assert!(!r.is_extension());
        assert!(!case_exact(ResourceKind::User, &AttrPath::new("userName")));
    }

    #[test]
    fn sub_attributes_resolve() {
        let r = resolve(ResourceKind::User, &AttrPath::with_sub("name", "givenname")).unwrap();
        assert_eq!(r.attr.name, "name");
        assert_eq!(r.leaf().name, "givenName");
        let r = resolve(ResourceKind::User, &AttrPath::with_sub("emails", "value")).unwrap();
        assert!(r.attr.multi_valued);
        assert_eq!(r.leaf().ty, AttrType::String);
        // A sub-attribute of a simple attribute, or an unknown one, does not resolve.
        assert!(resolve(ResourceKind::User, &AttrPath::with_sub("userName", "x")).is_none());
        assert!(resolve(ResourceKind::User, &AttrPath::with_sub("emails", "nope")).is_none());
    }

    #[test]
    fn enterprise_paths_resolve_qualified_and_leniently_unqualified() {
        let r = resolve(
            ResourceKind::User,
            &qualified(urn::ENTERPRISE_USER, "employeeNumber", None),
        )
        .unwrap();
        assert_eq!(r.schema.id, urn::ENTERPRISE_USER);
        assert!(r.is_extension());
        let r = resolve(
            ResourceKind::User,
            &qualified(
                "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER",
                "manager",
                Some("displayName"),
            ),
        )
        .unwrap();
        assert_eq!(r.leaf().mutability, Mutability::ReadOnly);
        // Unqualified: core first, extension as a fallback.
        let r = resolve(ResourceKind::User, &AttrPath::new("department")).unwrap();
        assert_eq!(r.schema.id, urn::ENTERPRISE_USER);
        // A core attribute qualified with the extension URN does not resolve.
        assert!(resolve(
            ResourceKind::User,
            &qualified(urn::ENTERPRISE_USER, "userName", None)
        )
        .is_none());
        // Groups have no enterprise extension.
        assert!(resolve(
            ResourceKind::Group,
            &qualified(urn::ENTERPRISE_USER, "manager", None)
        )
        .is_none());
        assert!(resolve(ResourceKind::Group, &AttrPath::new("employeeNumber")).is_none());
    }

    #[test]
    fn common_attributes_resolve_in_the_core_schema() {
        let r = resolve(
            ResourceKind::User,
            &AttrPath::with_sub("meta", "lastModified"),
        )
        .unwrap();
        assert_eq!(r.schema.id, urn::USER);
        assert_eq!(r.leaf().ty, AttrType::DateTime);
        let r = resolve(ResourceKind::Group, &AttrPath::new("id")).unwrap();
        assert_eq!(r.schema.id, urn::GROUP);
        assert_eq!(r.attr.returned, Returned::Always);
        assert!(case_exact(ResourceKind::Group, &AttrPath::new("id")));
        assert!(case_exact(ResourceKind::User, &AttrPath::new("externalId")));
        let r = resolve(ResourceKind::User, &qualified(urn::USER, "id", None)).unwrap();
        assert_eq!(r.attr.name, "id");
    }

    #[test]
    fn unknown_paths_do_not_resolve() {
        assert!(resolve(ResourceKind::User, &AttrPath::new("nope")).is_none());
        assert!(resolve(
            ResourceKind::User,
            &qualified("urn:example:unknown", "userName", None)
        )
        .is_none());
        assert!(resolve(ResourceKind::Group, &AttrPath::new("userName")).is_none());
        assert!(!case_exact(ResourceKind::User, &AttrPath::new("nope")));
    }

    #[test]
    fn characteristics_match_rfc_7643() {
        let password = USER_SCHEMA.attribute("password").unwrap();
        assert_eq!(password.mutability, Mutability::WriteOnly);
        assert_eq!(password.returned, Returned::Never);
        let groups = USER_SCHEMA.attribute("groups").unwrap();
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(groups
            .sub_attributes
            .iter()
            .all(|s| s.mutability == Mutability::ReadOnly));
        let display_name = GROUP_SCHEMA.attribute("displayName").unwrap();
        assert!(display_name.required);
        let members = GROUP_SCHEMA.attribute("members").unwrap();
        for (sub, m) in [
            ("value", Mutability::Immutable),
            ("$ref", Mutability::Immutable),
            ("type", Mutability::Immutable),
            ("display", Mutability::ReadOnly),
        ] {
            assert_eq!(members.sub_attribute(sub).unwrap().mutability, m, "{sub}");
        }
        assert_eq!(
            members.sub_attribute("display").unwrap().returned,
            Returned::Request
        );
        for multi in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            let a = USER_SCHEMA.attribute(multi).unwrap();
            assert!(a.multi_valued && a.ty == AttrType::Complex && !a.sub_attributes.is_empty());
        }
        assert_eq!(schemas_for(ResourceKind::User).len(), 2);
        assert_eq!(extensions_for(ResourceKind::Group).len(), 0);
    }

    #[test]
    fn only_complex_attributes_have_sub_attributes_and_names_are_unique() {
        let mut all: Vec<&[AttributeDef]> = vec![COMMON_ATTRIBUTES];
        all.extend([&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA].map(|s| s.attributes));
        for attrs in all {
            for (i, a) in attrs.iter().enumerate() {
                assert_eq!(
                    a.ty == AttrType::Complex,
                    !a.sub_attributes.is_empty(),
                    "{}",
                    a.name
                );
                assert!(attrs[..i]
                    .iter()
                    .all(|b| !b.name.eq_ignore_ascii_case(a.name)));
                assert!(a.sub_attributes.iter().all(|s| s.sub_attributes.is_empty()));
            }
        }
    }
}
