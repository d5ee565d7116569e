//! The audit log: appended by the audit writer, read by the console and the admin API.

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;
#[cfg(doc)]
use crate::query::AuditOutcome;
use crate::query::AuditQuery;
use async_trait::async_trait;

/// An audit event as read back, with its position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAuditEvent {
    pub seq: i64,
    pub event: AuditEvent,
    /// How many identical events this row stands for (1 unless folded, see
    /// [`FoldedAuditEvent`]).
    pub repeated: u64,
    /// When the last of them happened, if more than one did.
    pub last_at: Option<time::OffsetDateTime>,
}

/// An audit event that folds into an earlier identical one instead of taking a row of its
/// own: the newest event of the same organization with the same `fold_key` at or after
/// `window_start` gets `count` added to its `repeated`. Only when there is none is a row
/// written. Anyone can make the ACS refuse them, so its refusals are written this way.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedAuditEvent {
    pub event: AuditEvent,
    /// What makes two events identical, the organization aside: for the ACS, the refusal's
    /// reason and the client address.
    pub fold_key: String,
    /// How many occurrences this event stands for (at least 1).
    pub count: u64,
    pub window_start: time::OffsetDateTime,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Appends events that fold into earlier identical ones (see [`FoldedAuditEvent`]), in
    /// order: one of them can fold into another of the same call.
    async fn append_audit_folded(&self, events: &[FoldedAuditEvent]) -> StoreResult<()>;
    async fn list_audit(
        &self,
        org: OrgId,
        query: &AuditQuery,
    ) -> StoreResult<Vec<StoredAuditEvent>>;
    /// The organization's newest audit event whose operation starts with `operation_prefix`
    /// (non-empty ASCII, e.g. `scim.` or `saml.signin`), only a successful one when
    /// `succeeded_only` (status below 400, as [`AuditOutcome::Succeeded`] in [`Self::list_audit`]). Served by an index on (org, operation, seq): a few index seeks
    /// per distinct operation under the prefix, whatever the size of the log.
    async fn last_audit_event(
        &self,
        org: OrgId,
        operation_prefix: &str,
        succeeded_only: bool,
    ) -> StoreResult<Option<StoredAuditEvent>>;
}
