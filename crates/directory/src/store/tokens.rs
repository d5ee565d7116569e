//! SCIM tokens: stored as hashes, each carrying the email domains it may provision.

use super::StoreResult;
use crate::ids::{OrgId, TokenId};
use crate::model::ScimTokenRecord;
use crate::token::DomainList;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(&self, token: &ScimTokenRecord) -> StoreResult<()>;
    /// The one lookup not scoped by organization: the token hash is what names the organization.
    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>>;
    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>>;
    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()>;
    async fn set_token_domains(
        &self,
        org: OrgId,
        id: TokenId,
        domains: &DomainList,
    ) -> StoreResult<()>;
    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()>;
}
