//! Organizations, their SCIM tokens, and the operator's API keys.

use crate::engine::backend;
use crate::rows::{
    self, execute, fetch_all, fetch_optional, ms, parse_uuid, write_error, ORG_COLUMNS,
    TOKEN_COLUMNS,
};
use directory::ids::{AdminKeyId, OrgId, TokenId};
use directory::model::{AdminKeyRecord, Organization, ScimTokenRecord};
use directory::store::{StoreError, StoreResult};
use directory::token::DomainList;
use rusqlite::{params, Connection};
use time::OffsetDateTime;

pub(crate) fn create_org(conn: &Connection, org: &Organization) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO organizations (id, slug, name, created_at) VALUES (?, ?, ?, ?)",
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
        &format!("SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE hash = ?"),
        params![hash],
        rows::token,
    )
}

pub(crate) fn list_tokens(conn: &Connection, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
    fetch_all(
        conn,
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE org_id = ? ORDER BY created_at, id"
        ),
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
            "UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE org_id = ? AND id = ?",
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
            "UPDATE scim_tokens SET domains = ? WHERE org_id = ? AND id = ?",
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

pub(crate) fn create_admin_key(conn: &Connection, key: &AdminKeyRecord) -> StoreResult<()> {
    execute(
        conn,
        "INSERT INTO admin_keys (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)",
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
        "SELECT id, name, prefix, hash, created_at FROM admin_keys WHERE hash = ?",
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
