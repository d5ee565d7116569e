//! The Store: every backend (SQLite, PostgreSQL) implements it and passes the same suite.
//!
//! [`Store`] is the sum of one small trait per noun, each in the file named after it
//! (`orgs.rs`, `users.rs`, …); both backends lay out their implementations in files of the
//! same names. A method goes in the sub-trait of the noun it reads or writes; a caller holding
//! an `Arc<dyn Store>` reaches every sub-trait's methods.
//!
//! Every method that touches tenant data takes the organization id first; there is no finder
//! that skips it. Each method is one atomic unit: it commits wholly or not at all.

mod admin_keys;
mod audit;
mod console;
mod console_roles;
mod groups;
mod login_domains;
mod orgs;
mod saml;
mod sessions;
mod tokens;
mod users;

pub use admin_keys::AdminKeyStore;
pub use audit::{AuditStore, FoldedAuditEvent, StoredAuditEvent};
pub use console::{ConsoleStore, SignInLimit, SignInReservation};
pub use console_roles::ConsoleRoleStore;
pub use groups::{GroupChange, GroupStore};
pub use login_domains::LoginDomainStore;
pub use orgs::OrgStore;
pub use saml::SamlStore;
pub use sessions::SessionStore;
pub use tokens::TokenStore;
pub use users::{ScannedUser, UserChange, UserGroup, UserStore};

use async_trait::async_trait;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StoreError {
    /// A unique key is taken; the string names it (e.g. `userName`).
    #[error("unique key taken: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// The row changed since it was read (optimistic concurrency / If-Match).
    #[error("version mismatch")]
    VersionMismatch,
    /// A member id that is not a user or group of this organization.
    #[error("unknown member {0}")]
    UnknownMember(String),
    /// The change function refused the change (a rule of the directory, a stale If-Match…).
    #[error("refused: {0}")]
    Refused(Box<crate::Error>),
    /// The database failed; the text goes to the log, never to a client.
    #[error("database: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The whole store: every sub-trait, and the health check that belongs to none of them.
#[async_trait]
pub trait Store:
    OrgStore
    + AdminKeyStore
    + TokenStore
    + UserStore
    + GroupStore
    + AuditStore
    + SamlStore
    + SessionStore
    + LoginDomainStore
    + ConsoleStore
    + ConsoleRoleStore
    + Send
    + Sync
    + 'static
{
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;
}
