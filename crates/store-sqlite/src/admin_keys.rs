//! The operator's API keys.

use crate::engine::backend;
use crate::rows::{execute, fetch_optional, ms, parse_uuid, write_error};
use crate::{rows, SqliteStore};
use async_trait::async_trait;
use directory::ids::AdminKeyId;
use directory::model::AdminKeyRecord;
use directory::store::{AdminKeyStore, StoreResult};
use rusqlite::{params, Connection};
use store_sql::admin_keys as sql;

pub(crate) fn create_admin_key(conn: &Connection, key: &AdminKeyRecord) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_ADMIN_KEYS.sqlite(),
        params![
            key.id.to_string(),
            key.name,
            key.prefix,
            key.hash,
            ms(key.created_at)
        ],
    )
    .map_err(|e| write_error(e, "admin key"))?;
    Ok(())
}

pub(crate) fn admin_key_by_hash(
    conn: &Connection,
    hash: &str,
) -> StoreResult<Option<AdminKeyRecord>> {
    fetch_optional(
        conn,
        sql::SELECT_ADMIN_KEYS_BY_HASH.sqlite(),
        params![hash],
        |r| {
            Ok(AdminKeyRecord {
                id: parse_uuid::<AdminKeyId>(&r.get::<_, String>(0).map_err(backend)?)?,
                name: r.get(1).map_err(backend)?,
                prefix: r.get(2).map_err(backend)?,
                hash: r.get(3).map_err(backend)?,
                created_at: rows::from_ms(r.get(4).map_err(backend)?),
            })
        },
    )
}

#[async_trait]
impl AdminKeyStore for SqliteStore {
    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.engine.write(move |c| create_admin_key(c, &key)).await
    }

    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>> {
        let hash = hash.to_string();
        self.engine.read(move |c| admin_key_by_hash(c, &hash)).await
    }
}
