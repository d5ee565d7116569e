//! Organizations: the tenants everything else belongs to.

use crate::rows::{execute, fetch_all, fetch_optional, ms, write_error, ORG_COLUMNS};
use crate::{rows, SqliteStore};
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::Organization;
use directory::store::{OrgStore, StoreResult};
use rusqlite::{params, Connection};
use store_sql::orgs as sql;

pub(crate) fn create_org(conn: &Connection, org: &Organization) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_ORGANIZATIONS.sqlite(),
        params![org.id.to_string(), org.slug, org.name, ms(org.created_at)],
    )
    .map_err(|e| write_error(e, "slug"))?;
    Ok(())
}

pub(crate) fn org_by_slug(conn: &Connection, slug: &str) -> StoreResult<Option<Organization>> {
    fetch_optional(
        conn,
        &format!("SELECT {ORG_COLUMNS} FROM organizations WHERE slug = ?"),
        params![slug],
        rows::org,
    )
}

pub(crate) fn org_by_id(conn: &Connection, id: OrgId) -> StoreResult<Option<Organization>> {
    fetch_optional(
        conn,
        &format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?"),
        params![id.to_string()],
        rows::org,
    )
}

pub(crate) fn list_orgs(conn: &Connection) -> StoreResult<Vec<Organization>> {
    fetch_all(
        conn,
        &format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY slug"),
        [],
        rows::org,
    )
}

#[async_trait]
impl OrgStore for SqliteStore {
    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        let org = org.clone();
        self.engine.write(move |c| create_org(c, &org)).await
    }

    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_string();
        self.engine.read(move |c| org_by_slug(c, &slug)).await
    }

    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>> {
        self.engine.read(move |c| org_by_id(c, id)).await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        self.engine.read_long(list_orgs).await
    }
}
