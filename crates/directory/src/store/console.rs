//! The admin console's accounts: administrators, invitations, console sessions and the
//! sign-in throttle shared by every node.

use super::StoreResult;
use crate::ids::{AdminId, OrgId};
use crate::model::{AdminAccount, AdminInvite, ConsoleSession};
use async_trait::async_trait;
use time::OffsetDateTime;

/// One budget a sign-in attempt is counted against: a key (an organization and email, a
/// client address) and how many attempts its window allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLimit {
    pub key: String,
    pub limit: u32,
}

/// What [`ConsoleStore::reserve_sign_in_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInReservation {
    /// Counted under every key: the password may be checked.
    Allowed,
    /// Nothing was counted: the limit at this index of the list given is reached.
    Throttled { full: usize },
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// `Conflict("email")` when the organization already has an admin with that email.
    async fn create_admin(&self, admin: &AdminAccount) -> StoreResult<()>;
    async fn admin_by_email(&self, org: OrgId, email: &str) -> StoreResult<Option<AdminAccount>>;
    async fn admin_by_id(&self, org: OrgId, id: AdminId) -> StoreResult<Option<AdminAccount>>;
    /// `NotFound` if the admin is not in this organization.
    async fn set_admin_password(&self, org: OrgId, id: AdminId, hash: &str) -> StoreResult<()>;
    /// `NotFound` if the admin is not in this organization.
    async fn record_admin_sign_in(
        &self,
        org: OrgId,
        id: AdminId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn create_admin_invite(&self, invite: &AdminInvite) -> StoreResult<()>;
    /// The invite as stored, used or not (to show its form); not scoped: the link names it.
    async fn admin_invite_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminInvite>>;
    /// Marks the invite used and returns it, atomically: concurrent takes see it once. An
    /// unknown, used or expired invite gives `None`. Not scoped: the link names it.
    async fn take_admin_invite(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AdminInvite>>;
    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// Not scoped by organization: the cookie names it.
    async fn console_session_by_hash(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>>;
    /// `last_seen_at = now` and a new idle expiry, never moved back. `NotFound` if gone.
    async fn touch_console_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every console session of an admin; returns how many there were.
    async fn delete_admin_console_sessions(&self, org: OrgId, admin: AdminId) -> StoreResult<u64>;
    /// Reserves one sign-in attempt under every key of `limits`, atomically: when each key
    /// has fewer than its limit of attempts within `window` of `now`, one attempt at `now` is
    /// counted under each and the answer is `Allowed`; otherwise nothing is counted and the
    /// answer names the first key that is full. Concurrent reservations, from any node, never
    /// count past a limit. Older attempts are forgotten on the way. The caller checks the
    /// password only when allowed, and on success clears or releases what it reserved.
    async fn reserve_sign_in_attempt(
        &self,
        limits: &[SignInLimit],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<SignInReservation>;
    /// Gives back one attempt reserved under `key` at `at` (a sign-in that succeeded, or
    /// whose password was never checked). Releasing what is not there is no error.
    async fn release_sign_in_attempt(&self, key: &str, at: OffsetDateTime) -> StoreResult<()>;
    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()>;
}
