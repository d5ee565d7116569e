//! SAML connections, pending AuthnRequests and the assertion replay cache.

use crate::engine::backend;
use crate::rows::{execute, fetch_optional, from_ms, ms, parse_uuid, write_error};
use crate::SqliteStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::SamlConnection;
use directory::store::{SamlStore, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};
use store_sql::saml as sql;
use time::OffsetDateTime;

const CONNECTION_COLUMNS: &str = "org_id, client_id, idp_metadata_xml, idp_entity_id, idp_metadata_uploaded_at, sp_key_pem, sp_cert_pem, jit, idp_initiated, created_at, updated_at";

fn connection_row(r: &Row<'_>) -> StoreResult<SamlConnection> {
    Ok(SamlConnection {
        org_id: parse_uuid(&r.get::<_, String>(0).map_err(backend)?)?,
        client_id: r.get(1).map_err(backend)?,
        idp_metadata_xml: r.get(2).map_err(backend)?,
        idp_entity_id: r.get(3).map_err(backend)?,
        idp_metadata_uploaded_at: r.get::<_, Option<i64>>(4).map_err(backend)?.map(from_ms),
        sp_key_pem: r.get(5).map_err(backend)?,
        sp_cert_pem: r.get(6).map_err(backend)?,
        jit: r.get::<_, i64>(7).map_err(backend)? != 0,
        idp_initiated: r.get::<_, i64>(8).map_err(backend)? != 0,
        created_at: from_ms(r.get(9).map_err(backend)?),
        updated_at: from_ms(r.get(10).map_err(backend)?),
    })
}

pub(crate) fn put_connection(conn: &Connection, c: &SamlConnection) -> StoreResult<()> {
    let org = c.org_id.to_string();
    execute(
        conn,
        &format!(
            "INSERT INTO saml_connections ({CONNECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (org_id) DO UPDATE SET \
             idp_metadata_xml = excluded.idp_metadata_xml, idp_entity_id = excluded.idp_entity_id, \
             idp_metadata_uploaded_at = excluded.idp_metadata_uploaded_at, \
             jit = excluded.jit, idp_initiated = excluded.idp_initiated, \
             updated_at = excluded.updated_at"
        ),
        params![
            org,
            c.client_id,
            c.idp_metadata_xml,
            c.idp_entity_id,
            c.idp_metadata_uploaded_at.map(ms),
            c.sp_key_pem,
            c.sp_cert_pem,
            c.jit as i64,
            c.idp_initiated as i64,
            ms(c.created_at),
            ms(c.updated_at),
        ],
    )
    .map_err(|e| write_error(e, "client_id"))?;
    Ok(())
}

pub(crate) fn connection(conn: &Connection, org: OrgId) -> StoreResult<Option<SamlConnection>> {
    let found = fetch_optional(
        conn,
        &format!("SELECT {CONNECTION_COLUMNS} FROM saml_connections WHERE org_id = ?"),
        params![org.to_string()],
        connection_row,
    )?;
    Ok(found)
}

pub(crate) fn connection_by_client_id(
    conn: &Connection,
    client_id: &str,
) -> StoreResult<Option<SamlConnection>> {
    let found = fetch_optional(
        conn,
        &format!("SELECT {CONNECTION_COLUMNS} FROM saml_connections WHERE client_id = ?"),
        params![client_id],
        connection_row,
    )?;
    Ok(found)
}

pub(crate) fn remember_request(
    conn: &Connection,
    org: OrgId,
    request_id: &str,
    return_to: &str,
    expires_at: OffsetDateTime,
) -> StoreResult<()> {
    // Requests nobody answered are purged as new ones come in.
    execute(
        conn,
        sql::DELETE_EXPIRED_SAML_AUTHN_REQUESTS.sqlite(),
        params![ms(expires_at) - 86_400_000],
    )
    .map_err(backend)?;
    execute(
        conn,
        sql::INSERT_SAML_AUTHN_REQUESTS.sqlite(),
        params![org.to_string(), request_id, return_to, ms(expires_at)],
    )
    .map_err(|e| write_error(e, "request_id"))?;
    Ok(())
}

pub(crate) fn take_request(
    conn: &Connection,
    org: OrgId,
    request_id: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<String>> {
    let found: Option<(String, i64)> = conn
        .prepare_cached(sql::TAKE_SAML_AUTHN_REQUESTS_BY_REQUEST_ID.sqlite())
        .and_then(|mut s| {
            s.query_row(params![org.to_string(), request_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(backend)?;
    Ok(found
        .filter(|(_, expires)| *expires > ms(now))
        .map(|(return_to, _)| return_to))
}

pub(crate) fn remember_assertion(
    conn: &Connection,
    org: OrgId,
    assertion_id: &str,
    until: OffsetDateTime,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    execute(
        conn,
        sql::DELETE_EXPIRED_SAML_SEEN_ASSERTIONS.sqlite(),
        params![ms(now)],
    )
    .map_err(backend)?;
    let inserted = execute(
        conn,
        sql::INSERT_SAML_SEEN_ASSERTIONS.sqlite(),
        params![org.to_string(), assertion_id, ms(until)],
    )
    .map_err(backend)?;
    Ok(inserted == 1)
}

#[async_trait]
impl SamlStore for SqliteStore {
    async fn put_saml_connection(&self, conn: &SamlConnection) -> StoreResult<()> {
        let conn = conn.clone();
        self.engine.write(move |c| put_connection(c, &conn)).await
    }

    async fn saml_connection(&self, org: OrgId) -> StoreResult<Option<SamlConnection>> {
        self.engine.read(move |c| connection(c, org)).await
    }

    async fn saml_connection_by_client_id(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<SamlConnection>> {
        let client_id = client_id.to_string();
        self.engine
            .read(move |c| connection_by_client_id(c, &client_id))
            .await
    }

    async fn remember_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        return_to: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let (request_id, return_to) = (request_id.to_string(), return_to.to_string());
        self.engine
            .write(move |c| remember_request(c, org, &request_id, &return_to, expires_at))
            .await
    }

    async fn take_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>> {
        let request_id = request_id.to_string();
        self.engine
            .write(move |c| take_request(c, org, &request_id, now))
            .await
    }

    async fn remember_assertion(
        &self,
        org: OrgId,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let assertion_id = assertion_id.to_string();
        self.engine
            .write(move |c| remember_assertion(c, org, &assertion_id, until, now))
            .await
    }
}
