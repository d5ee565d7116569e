//! SAML connections, login domains, pending AuthnRequests, the replay cache and sessions.

use super::{backend, from_ms, get, ms, write_error};
use directory::ids::{OrgId, UserId};
use directory::model::{SamlConnection, SessionRecord};
use directory::store::{StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgPool;
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
    sqlx::query("DELETE FROM saml_authn_requests WHERE expires_at < $1")
        .bind(ms(expires_at) - 86_400_000)
        .execute(pool)
        .await
        .map_err(backend)?;
    sqlx::query(
        "INSERT INTO saml_authn_requests (org_id, request_id, return_to, expires_at) VALUES ($1, $2, $3, $4)",
    )
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
    let row = sqlx::query(
        "DELETE FROM saml_authn_requests WHERE org_id = $1 AND request_id = $2 RETURNING return_to, expires_at",
    )
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
    sqlx::query("DELETE FROM saml_seen_assertions WHERE until <= $1")
        .bind(ms(now))
        .execute(pool)
        .await
        .map_err(backend)?;
    let done = sqlx::query(
        "INSERT INTO saml_seen_assertions (org_id, assertion_id, until) VALUES ($1, $2, $3) \
         ON CONFLICT (org_id, assertion_id) DO NOTHING",
    )
    .bind(org.0)
    .bind(assertion_id)
    .bind(ms(until))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn create_session(pool: &PgPool, s: &SessionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
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
    let row = sqlx::query(
        "SELECT id_hash, org_id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at FROM sessions WHERE id_hash = $1",
    )
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
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
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
    let done = sqlx::query("DELETE FROM sessions WHERE org_id = $1 AND user_id = $2")
        .bind(org.0)
        .bind(user.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}
