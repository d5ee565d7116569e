//! SAML: the organization's connection, the AuthnRequests we sent and are waiting on, and the
//! assertion replay cache.

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::SamlConnection;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait SamlStore: Send + Sync {
    /// Inserts or replaces the organization's connection. An existing connection keeps its
    /// Client ID, SP key pair and `created_at` (what the IdP was told never changes under it,
    /// even when two setups race): read the connection back to learn them.
    /// `Conflict("client_id")` when the Client ID is taken. Login domains are claims of their
    /// own (below).
    async fn put_saml_connection(&self, conn: &SamlConnection) -> StoreResult<()>;
    async fn saml_connection(&self, org: OrgId) -> StoreResult<Option<SamlConnection>>;
    /// The one SAML lookup not scoped by organization: the Client ID in the URL names it.
    async fn saml_connection_by_client_id(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<SamlConnection>>;
    async fn remember_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        return_to: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Single use: the request is deleted whether or not it had expired. Returns its
    /// `return_to` when it existed and had not expired at `now`.
    async fn take_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>>;
    /// The assertion replay cache: records `assertion_id` until `until` and returns true, or
    /// returns false when it is already recorded and not expired at `now`. Expired entries
    /// are purged on the way.
    async fn remember_assertion(
        &self,
        org: OrgId,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;
}
