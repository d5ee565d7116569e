//! SAML browser sessions.

use crate::rows::{backend, from_ms, get, ms, write_error};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::{OrgId, UserId};
use directory::model::SessionRecord;
use directory::store::{SessionStore, StoreError, StoreResult};
use sqlx::PgPool;
use store_sql::sessions as sql;
use time::OffsetDateTime;

pub(crate) async fn create_session(pool: &PgPool, s: &SessionRecord) -> StoreResult<()> {
    sqlx::query(sql::INSERT_SESSIONS.postgres())
        .bind(&s.id_hash)
        .bind(s.org_id.0)
        .bind(s.user_id.0)
        .bind(ms(s.created_at))
        .bind(ms(s.last_seen_at))
        .bind(ms(s.idle_expires_at))
        .bind(ms(s.absolute_expires_at))
        .execute(pool)
        .await
        .map_err(|e| write_error(e, "session"))?;
    Ok(())
}

pub(crate) async fn session_by_hash(
    pool: &PgPool,
    hash: &str,
) -> StoreResult<Option<SessionRecord>> {
    let row = sqlx::query(sql::SELECT_SESSIONS_BY_ID_HASH.postgres())
        .bind(hash)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| {
        Ok(SessionRecord {
            id_hash: get(&r, "id_hash")?,
            org_id: OrgId(get(&r, "org_id")?),
            user_id: UserId(get(&r, "user_id")?),
            created_at: from_ms(get(&r, "created_at")?),
            last_seen_at: from_ms(get(&r, "last_seen_at")?),
            idle_expires_at: from_ms(get(&r, "idle_expires_at")?),
            absolute_expires_at: from_ms(get(&r, "absolute_expires_at")?),
        })
    })
    .transpose()
}

pub(crate) async fn touch_session(
    pool: &PgPool,
    hash: &str,
    now: OffsetDateTime,
    idle_expires_at: OffsetDateTime,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $1), idle_expires_at = GREATEST(idle_expires_at, $2) WHERE id_hash = $3",
    )
    .bind(ms(now))
    .bind(ms(idle_expires_at))
    .bind(hash)
    .execute(pool)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) async fn delete_session(pool: &PgPool, hash: &str) -> StoreResult<()> {
    sqlx::query(sql::DELETE_SESSIONS_BY_ID_HASH.postgres())
        .bind(hash)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn delete_user_sessions(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
) -> StoreResult<u64> {
    let done = sqlx::query(sql::DELETE_SESSIONS_BY_USER_ID.postgres())
        .bind(org.0)
        .bind(user.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}

pub(crate) async fn user_sessions(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
) -> StoreResult<Vec<SessionRecord>> {
    let rows = sqlx::query(sql::SELECT_SESSIONS_BY_USER_ID.postgres())
        .bind(org.0)
        .bind(user.0)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(SessionRecord {
                id_hash: get(r, "id_hash")?,
                org_id: OrgId(get(r, "org_id")?),
                user_id: UserId(get(r, "user_id")?),
                created_at: from_ms(get(r, "created_at")?),
                last_seen_at: from_ms(get(r, "last_seen_at")?),
                idle_expires_at: from_ms(get(r, "idle_expires_at")?),
                absolute_expires_at: from_ms(get(r, "absolute_expires_at")?),
            })
        })
        .collect()
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        user_sessions(&self.pool, org, user).await
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        create_session(&self.pool, session).await
    }

    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        session_by_hash(&self.pool, id_hash).await
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        touch_session(&self.pool, id_hash, now, idle_expires_at).await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        delete_session(&self.pool, id_hash).await
    }

    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        delete_user_sessions(&self.pool, org, user).await
    }
}
