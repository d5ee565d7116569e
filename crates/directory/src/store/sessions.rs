//! SAML browser sessions: what a sign-in through the organization's IdP opens.

use super::StoreResult;
use crate::ids::{OrgId, UserId};
use crate::model::SessionRecord;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The one session lookup not scoped by organization: the cookie names it.
    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// Records activity: `last_seen_at = now`, a new idle expiry. `NotFound` if gone.
    async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64>;
    /// The user's SAML sign-in sessions, newest first.
    async fn user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<Vec<SessionRecord>>;
}
