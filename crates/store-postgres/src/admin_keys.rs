//! The operator's API keys.

use crate::rows::backend;
use crate::rows::from_ms;
use crate::rows::get;
use crate::rows::ms;
use crate::rows::write_error;
use crate::PostgresStore;
use async_trait::async_trait;
use directory::model::AdminKeyRecord;
use directory::store::{AdminKeyStore, StoreResult};
use store_sql::admin_keys as sql;

#[async_trait]
impl AdminKeyStore for PostgresStore {
    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()> {
        sqlx::query(sql::INSERT_ADMIN_KEYS.postgres())
            .bind(key.id.0)
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.hash)
            .bind(ms(key.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "admin key"))?;
        Ok(())
    }

    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>> {
        let row = sqlx::query(sql::SELECT_ADMIN_KEYS_BY_HASH.postgres())
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(AdminKeyRecord {
                id: directory::ids::AdminKeyId(get(&r, "id")?),
                name: get(&r, "name")?,
                prefix: get(&r, "prefix")?,
                hash: get(&r, "hash")?,
                created_at: from_ms(get(&r, "created_at")?),
            })
        })
        .transpose()
    }
}
