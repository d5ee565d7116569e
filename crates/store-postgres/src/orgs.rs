//! Organizations: the tenants everything else belongs to.

use crate::rows::backend;
use crate::rows::ms;
use crate::rows::write_error;
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::Organization;
use directory::store::{OrgStore, StoreResult};
use store_sql::orgs as sql;

#[async_trait]
impl OrgStore for PostgresStore {
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ORGANIZATIONS.postgres())
            .bind(org.id.0)
            .bind(&org.slug)
            .bind(&org.name)
            .bind(ms(org.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "slug"))?;
        Ok(())
    }

    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| Self::org_from_row(&r))
            .transpose()
    }

    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| Self::org_from_row(&r))
            .transpose()
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        sqlx::query("SELECT id, slug, name, created_at FROM organizations ORDER BY slug")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(Self::org_from_row)
            .collect()
    }
}
