//! SCIM 2.0 (RFC 7643 / RFC 7644) as pure data: no I/O, no async, no storage.
//!
//! The server crate turns HTTP into calls on these types; the directory crate
//! decides what is stored. Everything here is deterministic and fuzzable.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod limits;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;

pub use error::{ScimError, ScimType};

/// Schema URNs used across the crate.
pub mod urn {
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
    pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
    pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub const SERVICE_PROVIDER_CONFIG: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
    /// Extra schema URN Entra ID puts on groups; accepted and ignored.
    pub const MS_ADSCIM_GROUP: &str =
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
}
