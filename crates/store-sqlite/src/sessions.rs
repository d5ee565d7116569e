//! SAML browser sessions.

use crate::engine::backend;
use crate::rows::{execute, fetch_all, fetch_optional, from_ms, ms, parse_uuid, write_error};
use crate::SqliteStore;
use async_trait::async_trait;
use directory::ids::{OrgId, UserId};
use directory::model::SessionRecord;
use directory::store::{SessionStore, StoreError, StoreResult};
use rusqlite::{params, Connection};
use store_sql::sessions as sql;
use time::OffsetDateTime;

pub(crate) fn create_session(conn: &Connection, s: &SessionRecord) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_SESSIONS.sqlite(),
        params![
            s.id_hash,
            s.org_id.to_string(),
            s.user_id.to_string(),
            ms(s.created_at),
            ms(s.last_seen_at),
            ms(s.idle_expires_at),
            ms(s.absolute_expires_at),
        ],
    )
    .map_err(|e| write_error(e, "session"))?;
    Ok(())
}

pub(crate) fn session_by_hash(conn: &Connection, hash: &str) -> StoreResult<Option<SessionRecord>> {
    fetch_optional(
        conn,
        sql::SELECT_SESSIONS_BY_ID_HASH.sqlite(),
        params![hash],
        |r| {
            Ok(SessionRecord {
                id_hash: r.get(0).map_err(backend)?,
                org_id: parse_uuid::<OrgId>(&r.get::<_, String>(1).map_err(backend)?)?,
                user_id: parse_uuid::<UserId>(&r.get::<_, String>(2).map_err(backend)?)?,
                created_at: from_ms(r.get(3).map_err(backend)?),
                last_seen_at: from_ms(r.get(4).map_err(backend)?),
                idle_expires_at: from_ms(r.get(5).map_err(backend)?),
                absolute_expires_at: from_ms(r.get(6).map_err(backend)?),
            })
        },
    )
}

pub(crate) fn touch_session(
    conn: &Connection,
    hash: &str,
    now: OffsetDateTime,
    idle_expires_at: OffsetDateTime,
) -> StoreResult<()> {
    let changed = execute(
        conn,
        "UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?), idle_expires_at = MAX(idle_expires_at, ?) WHERE id_hash = ?",
        params![ms(now), ms(idle_expires_at), hash],
    )
    .map_err(backend)?;
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) fn delete_session(conn: &Connection, hash: &str) -> StoreResult<()> {
    execute(
        conn,
        sql::DELETE_SESSIONS_BY_ID_HASH.sqlite(),
        params![hash],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn delete_user_sessions(
    conn: &Connection,
    org: OrgId,
    user: UserId,
) -> StoreResult<u64> {
    let n = execute(
        conn,
        sql::DELETE_SESSIONS_BY_USER_ID.sqlite(),
        params![org.to_string(), user.to_string()],
    )
    .map_err(backend)?;
    Ok(n as u64)
}

pub(crate) fn user_sessions(
    conn: &Connection,
    org: OrgId,
    user: UserId,
) -> StoreResult<Vec<SessionRecord>> {
    fetch_all(
        conn,
        sql::SELECT_SESSIONS_BY_USER_ID.sqlite(),
        params![org.to_string(), user.to_string()],
        |r| {
            Ok(SessionRecord {
                id_hash: r.get(0).map_err(backend)?,
                org_id: parse_uuid::<OrgId>(&r.get::<_, String>(1).map_err(backend)?)?,
                user_id: parse_uuid::<UserId>(&r.get::<_, String>(2).map_err(backend)?)?,
                created_at: from_ms(r.get(3).map_err(backend)?),
                last_seen_at: from_ms(r.get(4).map_err(backend)?),
                idle_expires_at: from_ms(r.get(5).map_err(backend)?),
                absolute_expires_at: from_ms(r.get(6).map_err(backend)?),
            })
        },
    )
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        self.engine.read(move |c| user_sessions(c, org, user)).await
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let session = session.clone();
        self.engine
            .write(move |c| create_session(c, &session))
            .await
    }

    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let id_hash = id_hash.to_string();
        self.engine
            .read(move |c| session_by_hash(c, &id_hash))
            .await
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| touch_session(c, &id_hash, now, idle_expires_at))
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| delete_session(c, &id_hash))
            .await
    }

    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        self.engine
            .write(move |c| delete_user_sessions(c, org, user))
            .await
    }
}
