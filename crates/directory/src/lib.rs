//! The domain of Portcullis.
//!
//! Organizations own users, groups, SCIM tokens and an audit log; nothing crosses from one
//! organization to another. The rules of the directory (email domains per token, Externally
//! Managed marking, SCIM seeing only SCIM-managed groups, case-insensitive unique userName)
//! live here, not in handlers. Storage is behind [`store::Store`]; HTTP is someone else's job.

pub mod admin;
pub mod audit;
pub mod bulk;
pub mod clock;
pub mod console;
pub mod console_roles;
pub mod error;
pub mod identity;
pub mod ids;
pub mod local_groups;
pub mod local_users;
pub mod login_domains;
pub mod model;
pub mod password;
pub mod public_mail;
pub mod query;
pub mod scan;
pub mod scim_service;
pub mod setup;
pub mod sso;
pub mod store;
pub mod token;
pub mod token_cache;
pub mod write_turns;

pub use clock::{Clock, SystemClock};
pub use error::{Error, ErrorKind};
pub use ids::{GroupId, OrgId, TokenId, UserId};
pub use store::Store;
