//! SCIM tokens: looked up by hash, listed, revoked, their domains edited.

use crate::engine::backend;
use crate::rows::{execute, fetch_all, fetch_optional, ms, write_error, TOKEN_COLUMNS};
use crate::{rows, SqliteStore};
use async_trait::async_trait;
use directory::ids::{OrgId, TokenId};
use directory::model::ScimTokenRecord;
use directory::store::{StoreError, StoreResult, TokenStore};
use directory::token::DomainList;
use rusqlite::{params, Connection};
use store_sql::tokens as sql;
use time::OffsetDateTime;

pub(crate) fn create_token(conn: &Connection, t: &ScimTokenRecord) -> StoreResult<()> {
    execute(
        conn,
        &format!("INSERT INTO scim_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![
            t.id.to_string(),
            t.org_id.to_string(),
            t.name,
            t.prefix,
            t.hash,
            t.domains.to_stored(),
            ms(t.created_at),
            t.last_used_at.map(ms),
            t.revoked_at.map(ms),
        ],
    )
    .map_err(|e| write_error(e, "token"))?;
    Ok(())
}

pub(crate) fn token_by_hash(conn: &Connection, hash: &str) -> StoreResult<Option<ScimTokenRecord>> {
    fetch_optional(
        conn,
        sql::SELECT_SCIM_TOKENS_BY_HASH.sqlite(),
        params![hash],
        rows::token,
    )
}

pub(crate) fn list_tokens(conn: &Connection, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
    fetch_all(
        conn,
        sql::SELECT_SCIM_TOKENS.sqlite(),
        params![org.to_string()],
        rows::token,
    )
}

fn found(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) fn revoke_token(
    conn: &Connection,
    org: OrgId,
    id: TokenId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    found(
        execute(
            conn,
            sql::REVOKE_SCIM_TOKEN.sqlite(),
            params![ms(at), org.to_string(), id.to_string()],
        )
        .map_err(backend)?,
    )
}

pub(crate) fn set_token_domains(
    conn: &Connection,
    org: OrgId,
    id: TokenId,
    domains: &DomainList,
) -> StoreResult<()> {
    found(
        execute(
            conn,
            sql::UPDATE_SCIM_TOKENS_SET_DOMAINS.sqlite(),
            params![domains.to_stored(), org.to_string(), id.to_string()],
        )
        .map_err(backend)?,
    )
}

pub(crate) fn touch_token(
    conn: &Connection,
    org: OrgId,
    id: TokenId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    execute(
        conn,
        "UPDATE scim_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE org_id = ? AND id = ?",
        params![ms(at), org.to_string(), id.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, t: &ScimTokenRecord) -> StoreResult<()> {
        let t = t.clone();
        self.engine.write(move |c| create_token(c, &t)).await
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>> {
        let hash = hash.to_string();
        self.engine.read(move |c| token_by_hash(c, &hash)).await
    }

    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
        self.engine.read(move |c| list_tokens(c, org)).await
    }

    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        self.engine
            .write(move |c| revoke_token(c, org, id, at))
            .await
    }

    async fn set_token_domains(
        &self,
        org: OrgId,
        id: TokenId,
        domains: &DomainList,
    ) -> StoreResult<()> {
        let domains = domains.clone();
        self.engine
            .write(move |c| set_token_domains(c, org, id, &domains))
            .await
    }

    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        self.engine
            .write(move |c| touch_token(c, org, id, at))
            .await
    }
}
