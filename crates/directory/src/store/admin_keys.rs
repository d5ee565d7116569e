//! Operator API keys: the admin API's credentials, not scoped by organization.

use super::StoreResult;
use crate::model::AdminKeyRecord;
use async_trait::async_trait;

#[async_trait]
pub trait AdminKeyStore: Send + Sync {
    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()>;
    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>>;
}
