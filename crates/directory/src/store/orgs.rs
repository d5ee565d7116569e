//! Organizations: the tenants everything else belongs to.

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::Organization;
use async_trait::async_trait;

#[async_trait]
pub trait OrgStore: Send + Sync {
    async fn create_org(&self, org: &Organization) -> StoreResult<()>;
    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>>;
    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>>;
}
