//! What the directory asks a store to look up: one indexed key at most, a sort and a window.
//! Everything a SCIM filter says beyond the indexed key is checked in memory by the service.

use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

/// A lookup an index serves. String keys for case-insensitive attributes are lower-cased
/// by the service before they reach the store.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexKey {
    Id(String),
    /// Lower-cased userName (users) — unique per organization.
    UserNameLower(String),
    ExternalId(String),
    /// Lower-cased displayName.
    DisplayNameLower(String),
    /// Lower-cased email value (users).
    EmailLower(String),
    LastModified(Cmp, OffsetDateTime),
    Created(Cmp, OffsetDateTime),
    Active(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Insertion order: stable across pages.
    Seq,
    UserName,
    DisplayName,
    ExternalId,
    Created,
    LastModified,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreQuery {
    pub key: Option<IndexKey>,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: u64,
    /// `None`: every matching row (the service filters further in memory).
    pub limit: Option<u64>,
}

impl StoreQuery {
    pub fn all(key: Option<IndexKey>) -> Self {
        StoreQuery {
            key,
            sort: SortKey::Seq,
            descending: false,
            offset: 0,
            limit: None,
        }
    }
}

/// Audit log query: newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub operation_prefix: Option<String>,
    pub resource_id: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// A page of the console's user list: keyset paging on insertion order (`seq`), never an
/// offset, so a page deep into a million users costs what the first one does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserListQuery {
    /// A lower-cased prefix of the userName, the displayName or an email.
    pub prefix: Option<String>,
    pub active: Option<bool>,
    pub managed_by: Option<crate::model::ManagedBy>,
    /// The page after this seq (ascending).
    pub after_seq: Option<i64>,
    /// The page just before this seq.
    pub before_seq: Option<i64>,
    pub limit: u32,
}
