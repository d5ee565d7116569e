//! SAML connections, pending AuthnRequests and the assertion replay cache.

use crate::rows::{backend, from_ms, get, ms, write_error};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::SamlConnection;
use directory::store::{SamlStore, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgPool;
use store_sql::saml as sql;
use time::OffsetDateTime;

const CONNECTION_COLUMNS: &str = "c.org_id, c.client_id, c.idp_metadata_xml, c.idp_entity_id, c.idp_metadata_uploaded_at, c.sp_key_pem, c.sp_cert_pem, c.jit, c.idp_initiated, c.created_at, c.updated_at";

fn connection_row(r: &PgRow) -> StoreResult<SamlConnection> {
    Ok(SamlConnection {
        org_id: OrgId(get(r, "org_id")?),
        client_id: get(r, "client_id")?,
        idp_metadata_xml: get(r, "idp_metadata_xml")?,
        idp_entity_id: get(r, "idp_entity_id")?,
        idp_metadata_uploaded_at: get::<Option<i64>>(r, "idp_metadata_uploaded_at")?.map(from_ms),
        sp_key_pem: get(r, "sp_key_pem")?,
        sp_cert_pem: get(r, "sp_cert_pem")?,
        jit: get(r, "jit")?,
        idp_initiated: get(r, "idp_initiated")?,
        created_at: from_ms(get(r, "created_at")?),
        updated_at: from_ms(get(r, "updated_at")?),
    })
}

pub(crate) async fn put_connection(pool: &PgPool, c: &SamlConnection) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query(
        "INSERT INTO saml_connections (org_id, client_id, idp_metadata_xml, idp_entity_id, idp_metadata_uploaded_at, sp_key_pem, sp_cert_pem, jit, idp_initiated, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (org_id) DO UPDATE SET \
         idp_metadata_xml = EXCLUDED.idp_metadata_xml, idp_entity_id = EXCLUDED.idp_entity_id, \
         idp_metadata_uploaded_at = EXCLUDED.idp_metadata_uploaded_at, \
         jit = EXCLUDED.jit, idp_initiated = EXCLUDED.idp_initiated, updated_at = EXCLUDED.updated_at",
    )
    .bind(c.org_id.0)
    .bind(&c.client_id)
    .bind(&c.idp_metadata_xml)
    .bind(&c.idp_entity_id)
    .bind(c.idp_metadata_uploaded_at.map(ms))
    .bind(&c.sp_key_pem)
    .bind(&c.sp_cert_pem)
    .bind(c.jit)
    .bind(c.idp_initiated)
    .bind(ms(c.created_at))
    .bind(ms(c.updated_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| write_error(e, "client_id"))?;
    tx.commit().await.map_err(backend)?;
    Ok(())
}

pub(crate) async fn connection(pool: &PgPool, org: OrgId) -> StoreResult<Option<SamlConnection>> {
    sqlx::query(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM saml_connections c WHERE c.org_id = $1"
    ))
    .bind(org.0)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| connection_row(&r))
    .transpose()
}

pub(crate) async fn connection_by_client_id(
    pool: &PgPool,
    client_id: &str,
) -> StoreResult<Option<SamlConnection>> {
    sqlx::query(&format!(
        "SELECT {CONNECTION_COLUMNS} FROM saml_connections c WHERE c.client_id = $1"
    ))
    .bind(client_id)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| connection_row(&r))
    .transpose()
}

pub(crate) async fn remember_request(
    pool: &PgPool,
    org: OrgId,
    request_id: &str,
    return_to: &str,
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    // Requests nobody answered are purged as new ones come in.
    sqlx::query(sql::DELETE_EXPIRED_SAML_AUTHN_REQUESTS.postgres())
        .bind(ms(expires_at) - 86_400_000)
        .execute(pool)
        .await
        .map_err(backend)?;
    sqlx::query(sql::INSERT_SAML_AUTHN_REQUESTS.postgres())
        .bind(org.0)
        .bind(request_id)
        .bind(return_to)
        .bind(ms(expires_at))
        .execute(pool)
        .await
        .map_err(|e| write_error(e, "request_id"))?;
    Ok(())
}

pub(crate) async fn take_request(
    pool: &PgPool,
    org: OrgId,
    request_id: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<String>> {
    // DELETE … RETURNING: of two concurrent takes, only one gets the row.
    let row = sqlx::query(sql::TAKE_SAML_AUTHN_REQUESTS_BY_REQUEST_ID.postgres())
        .bind(org.0)
        .bind(request_id)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let expires: i64 = get(&row, "expires_at")?;
    if expires > ms(now) {
        Ok(Some(get(&row, "return_to")?))
    } else {
        Ok(None)
    }
}

pub(crate) async fn remember_assertion(
    pool: &PgPool,
    org: OrgId,
    assertion_id: &str,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    sqlx::query(sql::DELETE_EXPIRED_SAML_SEEN_ASSERTIONS.postgres())
        .bind(ms(now))
        .execute(pool)
        .await
        .map_err(backend)?;
    let done = sqlx::query(sql::INSERT_SAML_SEEN_ASSERTIONS.postgres())
        .bind(org.0)
        .bind(assertion_id)
        .bind(ms(until))
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

#[async_trait]
impl SamlStore for PostgresStore {
    async fn put_saml_connection(&self, conn: &SamlConnection) -> StoreResult<()> {
        put_connection(&self.pool, conn).await
    }

    async fn saml_connection(&self, org: OrgId) -> StoreResult<Option<SamlConnection>> {
        connection(&self.pool, org).await
    }

    async fn saml_connection_by_client_id(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<SamlConnection>> {
        connection_by_client_id(&self.pool, client_id).await
    }

    async fn remember_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        return_to: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        remember_request(&self.pool, org, request_id, return_to, expires_at).await
    }

    async fn take_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>> {
        take_request(&self.pool, org, request_id, now).await
    }

    async fn remember_assertion(
        &self,
        org: OrgId,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        remember_assertion(&self.pool, org, assertion_id, until, now).await
    }
}
