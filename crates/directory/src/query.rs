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
    /// A text column that starts with, contains or ends with the string (`sw`, `co`, `ew`),
    /// compared byte for byte; lower-cased by the service for the case-insensitive columns.
    /// A prefix is a range of the column's index; `co` and `ew` cannot use a b-tree, so they
    /// are evaluated by the database on the narrow column, never on the decoded document.
    Text(TextColumn, TextOp, String),
    /// The rows at these insertion positions (`seq`): the page a sorted scan chose, read back.
    /// Never made from a filter.
    Seqs(Vec<i64>),
}

/// The indexed text columns a `sw`/`co`/`ew` filter can be asked of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumn {
    /// Lower-cased userName (users).
    UserNameLower,
    /// Lower-cased displayName.
    DisplayNameLower,
    /// externalId as given (case-exact).
    ExternalId,
    /// Any lower-cased email value (users).
    EmailLower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    Prefix,
    Contains,
    Suffix,
}

impl IndexKey {
    /// Whether the key is answered by seeking an index (a handful of rows, or one index
    /// range): such a lookup is cheap whatever the size of the organization. The others
    /// (`co`, `ew`, `active`, a broad time range) may visit every user of the organization.
    pub fn is_seek(&self) -> bool {
        match self {
            IndexKey::Id(_)
            | IndexKey::UserNameLower(_)
            | IndexKey::ExternalId(_)
            | IndexKey::DisplayNameLower(_)
            | IndexKey::EmailLower(_)
            | IndexKey::Seqs(_) => true,
            IndexKey::Text(_, op, _) => *op == TextOp::Prefix,
            IndexKey::LastModified(..) | IndexKey::Created(..) | IndexKey::Active(_) => false,
        }
    }
}

/// One chunk of a keyset scan in insertion order: the rows after `after_seq` that match
/// `key` (all rows without one), ascending by `seq`, at most `limit`. A whole scan reads the
/// organization `limit` rows at a time, so what it holds never grows with the organization.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanQuery {
    pub key: Option<IndexKey>,
    /// Only rows with a greater seq; 0 starts at the beginning (seqs start at 1).
    pub after_seq: i64,
    pub limit: u32,
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

/// Audit log query. Every filter is optional and they combine with AND; results are always
/// newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub operation_prefix: Option<String>,
    /// `User`, `Group`, `token`…
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `scim_token`, `console_admin`, `saml_idp`, `admin_key`, `cli`.
    pub actor_kind: Option<String>,
    /// Only with `actor_kind`: the token, admin or IdP entity id.
    pub actor_id: Option<String>,
    pub outcome: Option<AuditOutcome>,
    /// Events at or after this instant…
    pub since: Option<OffsetDateTime>,
    /// …and strictly before this one.
    pub until: Option<OffsetDateTime>,
    /// A page further back: events older than this position.
    pub before_seq: Option<i64>,
    /// A page forward: the `limit` events just newer than this position (still returned
    /// newest first). Ignored when `before_seq` is set.
    pub after_seq: Option<i64>,
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
    /// With a broad search (a prefix matching many users), examine at most this many users
    /// (under the status and source filters) from the cursor on, so that a page costs O(bound)
    /// however far away the matches are; `None` reads on until the page is full.
    pub scan_limit: Option<u32>,
}

/// A page of the console's user list.
#[derive(Debug, Clone, Default)]
pub struct UserListPage {
    /// The users, ascending by seq, each with its seq.
    pub rows: Vec<(i64, crate::model::UserRecord)>,
    /// Set when the page is not full because the scan bound ([`UserListQuery::scan_limit`])
    /// was reached: the seq of the last user examined, in the direction of travel. Every match
    /// between the cursor and it is in `rows`; the search goes on after it (`after_seq`
    /// forward, `before_seq` backward).
    pub searched_to: Option<i64>,
}

/// Whether an audited action went through or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    /// Status below 400: a redirect is no refusal. The one meaning of "succeeded" in the log,
    /// for the list's filter and the newest successful event alike.
    Succeeded,
    /// Status 400 or above: refusals and failures.
    Refused,
}

impl AuditOutcome {
    /// The outcome of an event with this status; the stores filter by the same rule
    /// (`store_sql::audit::SUCCEEDED`).
    pub fn of(status: u16) -> Self {
        if status < 400 {
            AuditOutcome::Succeeded
        } else {
            AuditOutcome::Refused
        }
    }

    pub fn succeeded(self) -> bool {
        self == AuditOutcome::Succeeded
    }
}

/// The smallest string greater than every string that starts with `prefix`, so that a prefix
/// match is an index range (`>= prefix AND < bound`) in both stores' binary collation. `None`
/// when no such string exists (a prefix of only U+10FFFF): then only the lower bound applies.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        // Surrogates are no chars: step over them.
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{prefix_upper_bound, AuditOutcome};

    #[test]
    fn an_event_succeeded_below_400_so_a_redirect_is_no_refusal() {
        for (status, succeeded) in [
            (200, true),
            (204, true),
            (302, true),
            (399, true),
            (400, false),
            (409, false),
            (500, false),
        ] {
            assert_eq!(
                AuditOutcome::of(status).succeeded(),
                succeeded,
                "status {status}"
            );
        }
    }

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        assert_eq!(prefix_upper_bound("scim.").as_deref(), Some("scim/"));
        assert_eq!(prefix_upper_bound("a").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("").as_deref(), None);
        assert_eq!(
            prefix_upper_bound("x\u{D7FF}").as_deref(),
            Some("x\u{E000}")
        );
        assert_eq!(prefix_upper_bound("x\u{10FFFF}").as_deref(), Some("y"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        let bound = prefix_upper_bound("scim.user").unwrap();
        for inside in ["scim.user", "scim.user.create", "scim.user\u{10FFFF}"] {
            assert!(inside >= "scim.user" && inside < bound.as_str(), "{inside}");
        }
        for outside in ["scim.group", "scim.usep", "scim.uses"] {
            assert!(
                !(outside >= "scim.user" && outside < bound.as_str()),
                "{outside}"
            );
        }
    }
}
