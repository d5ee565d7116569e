//! SCIM tokens: looked up by hash, listed, revoked, their domains edited.

use crate::rows::backend;
use crate::rows::ms;
use crate::rows::write_error;
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::{OrgId, TokenId};
use directory::model::ScimTokenRecord;
use directory::store::{StoreError, StoreResult, TokenStore};
use directory::token::DomainList;
use store_sql::tokens as sql;
use time::OffsetDateTime;

#[async_trait]
impl TokenStore for PostgresStore {
    async fn create_token(&self, t: &ScimTokenRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO scim_tokens (id, org_id, name, prefix, hash, domains, created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(t.id.0)
            .bind(t.org_id.0)
            .bind(&t.name)
            .bind(&t.prefix)
            .bind(&t.hash)
            .bind(t.domains.to_stored())
            .bind(ms(t.created_at))
            .bind(t.last_used_at.map(ms))
            .bind(t.revoked_at.map(ms))
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "token"))?;
        Ok(())
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>> {
        sqlx::query(sql::SELECT_SCIM_TOKENS_BY_HASH.postgres())
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .map(|r| Self::token_from_row(&r))
            .transpose()
    }

    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
        sqlx::query(sql::SELECT_SCIM_TOKENS.postgres())
            .bind(org.0)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?
            .iter()
            .map(Self::token_from_row)
            .collect()
    }

    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        let done = sqlx::query(sql::REVOKE_SCIM_TOKEN.postgres())
            .bind(ms(at))
            .bind(org.0)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_token_domains(
        &self,
        org: OrgId,
        id: TokenId,
        domains: &DomainList,
    ) -> StoreResult<()> {
        let done = sqlx::query(sql::UPDATE_SCIM_TOKENS_SET_DOMAINS.postgres())
            .bind(domains.to_stored())
            .bind(org.0)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = GREATEST(COALESCE(last_used_at, 0), $1) WHERE org_id = $2 AND id = $3")
            .bind(ms(at))
            .bind(org.0)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
