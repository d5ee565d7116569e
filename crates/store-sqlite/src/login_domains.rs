//! Login-domain claims: one row per (organization, domain); a partial unique index keeps at
//! most one verified claim per domain.

use crate::engine::backend;
use crate::rows::{execute, fetch_all, fetch_optional, from_ms, ms, parse_uuid, write_error};
use crate::SqliteStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::{DomainClaim, DomainProof};
use directory::store::{LoginDomainStore, StoreError, StoreResult};
use rusqlite::{params, Connection, Row};
use std::collections::HashSet;
use store_sql::login_domains as sql;
use time::OffsetDateTime;

const CLAIM_COLUMNS: &str = "c.org_id, c.domain, c.verification_value, c.proof, c.verified_at, c.last_checked_at, c.failed_checks, c.note, c.created_at, \
     EXISTS (SELECT 1 FROM login_domain_claims o WHERE o.domain = c.domain AND o.org_id <> c.org_id AND o.proof IS NOT NULL)";

fn claim_row(r: &Row<'_>) -> StoreResult<DomainClaim> {
    let proof: Option<String> = r.get(3).map_err(backend)?;
    let proof = proof
        .map(|p| {
            DomainProof::parse(&p)
                .ok_or_else(|| StoreError::Backend(format!("stored domain proof '{p}'")))
        })
        .transpose()?;
    Ok(DomainClaim {
        org_id: parse_uuid(&r.get::<_, String>(0).map_err(backend)?)?,
        domain: r.get(1).map_err(backend)?,
        verification_value: r.get(2).map_err(backend)?,
        proof,
        verified_at: r.get::<_, Option<i64>>(4).map_err(backend)?.map(from_ms),
        last_checked_at: r.get::<_, Option<i64>>(5).map_err(backend)?.map(from_ms),
        failed_checks: u32::try_from(r.get::<_, i64>(6).map_err(backend)?).unwrap_or(u32::MAX),
        note: r.get(7).map_err(backend)?,
        created_at: from_ms(r.get(8).map_err(backend)?),
        verified_elsewhere: r.get::<_, i64>(9).map_err(backend)? != 0,
    })
}

pub(crate) fn claims(conn: &Connection, org: OrgId) -> StoreResult<Vec<DomainClaim>> {
    fetch_all(
        conn,
        &format!("SELECT {CLAIM_COLUMNS} FROM login_domain_claims c WHERE c.org_id = ? ORDER BY c.domain"),
        params![org.to_string()],
        claim_row,
    )
}

fn claim(conn: &Connection, org: OrgId, domain: &str) -> StoreResult<Option<DomainClaim>> {
    fetch_optional(
        conn,
        &format!(
            "SELECT {CLAIM_COLUMNS} FROM login_domain_claims c WHERE c.org_id = ? AND c.domain = ?"
        ),
        params![org.to_string(), domain],
        claim_row,
    )
}

fn insert(conn: &Connection, c: &DomainClaim) -> StoreResult<bool> {
    let n = execute(
        conn,
        sql::INSERT_LOGIN_DOMAIN_CLAIMS.sqlite(),
        params![
            c.org_id.to_string(),
            c.domain,
            c.verification_value,
            c.proof.map(DomainProof::as_str),
            c.verified_at.map(ms),
            c.last_checked_at.map(ms),
            i64::from(c.failed_checks),
            c.note,
            ms(c.created_at),
        ],
    )
    .map_err(|e| write_error(e, &format!("domain {}", c.domain)))?;
    Ok(n == 1)
}

pub(crate) fn add_claim(conn: &Connection, c: &DomainClaim) -> StoreResult<bool> {
    insert(conn, c)
}

pub(crate) fn replace_claims(
    conn: &Connection,
    org: OrgId,
    wanted: &[DomainClaim],
) -> StoreResult<(Vec<String>, Vec<String>)> {
    let existing: Vec<String> = fetch_all(
        conn,
        "SELECT domain FROM login_domain_claims WHERE org_id = ? ORDER BY domain",
        params![org.to_string()],
        |r| r.get(0).map_err(backend),
    )?;
    let wanted_names: HashSet<&str> = wanted.iter().map(|c| c.domain.as_str()).collect();
    let mut removed = Vec::new();
    for d in existing {
        if !wanted_names.contains(d.as_str()) {
            execute(
                conn,
                "DELETE FROM login_domain_claims WHERE org_id = ? AND domain = ?",
                params![org.to_string(), d],
            )
            .map_err(backend)?;
            removed.push(d);
        }
    }
    let mut added = Vec::new();
    for c in wanted {
        if c.org_id != org {
            return Err(StoreError::Backend(
                "a claim of another organization".into(),
            ));
        }
        if insert(conn, c)? {
            added.push(c.domain.clone());
        }
    }
    Ok((added, removed))
}

pub(crate) fn verify(
    conn: &Connection,
    org: OrgId,
    domain: &str,
    proof: DomainProof,
    at: OffsetDateTime,
    displaced_note: &str,
) -> StoreResult<Vec<OrgId>> {
    if claim(conn, org, domain)?.is_none() {
        return Err(StoreError::NotFound);
    }
    let holders: Vec<(String, String)> = fetch_all(
        conn,
        "SELECT org_id, proof FROM login_domain_claims WHERE domain = ? AND org_id <> ? AND proof IS NOT NULL",
        params![domain, org.to_string()],
        |r| Ok((r.get(0).map_err(backend)?, r.get(1).map_err(backend)?)),
    )?;
    let mut displaced = Vec::new();
    for (holder, held_by) in holders {
        if held_by != DomainProof::Dns.as_str() && proof != DomainProof::Operator {
            return Err(StoreError::Conflict(format!("domain {domain}")));
        }
        execute(
            conn,
            "UPDATE login_domain_claims SET proof = NULL, verified_at = NULL, failed_checks = 0, note = ? \
             WHERE org_id = ? AND domain = ?",
            params![displaced_note, holder, domain],
        )
        .map_err(backend)?;
        displaced.push(parse_uuid(&holder)?);
    }
    execute(
        conn,
        "UPDATE login_domain_claims SET proof = ?, verified_at = ?, last_checked_at = ?, failed_checks = 0, note = NULL \
         WHERE org_id = ? AND domain = ?",
        params![
            proof.as_str(),
            ms(at),
            ms(at),
            org.to_string(),
            domain
        ],
    )
    .map_err(|e| write_error(e, &format!("domain {domain}")))?;
    Ok(displaced)
}

pub(crate) fn record_check(
    conn: &Connection,
    org: OrgId,
    domain: &str,
    at: OffsetDateTime,
    failure: Option<&str>,
    lapse_after: u32,
) -> StoreResult<DomainClaim> {
    let n = match failure {
        None => execute(
            conn,
            sql::UPDATE_LOGIN_DOMAIN_CLAIMS_CHECK_PASSED.sqlite(),
            params![ms(at), org.to_string(), domain],
        ),
        Some(why) => execute(
            conn,
            "UPDATE login_domain_claims SET last_checked_at = ?, failed_checks = failed_checks + 1, note = ?, \
             proof = CASE WHEN proof = 'dns' AND failed_checks + 1 >= ? THEN NULL ELSE proof END, \
             verified_at = CASE WHEN proof = 'dns' AND failed_checks + 1 >= ? THEN NULL ELSE verified_at END \
             WHERE org_id = ? AND domain = ?",
            params![
                ms(at),
                why,
                i64::from(lapse_after),
                i64::from(lapse_after),
                org.to_string(),
                domain
            ],
        ),
    }
    .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    claim(conn, org, domain)?.ok_or(StoreError::NotFound)
}

pub(crate) fn record_unanswered(
    conn: &Connection,
    org: OrgId,
    domain: &str,
    at: OffsetDateTime,
    note: &str,
) -> StoreResult<()> {
    let n = execute(
        conn,
        sql::UPDATE_LOGIN_DOMAIN_CLAIMS_CHECK_UNANSWERED.sqlite(),
        params![ms(at), note, org.to_string(), domain],
    )
    .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) fn unverify(
    conn: &Connection,
    org: OrgId,
    domain: &str,
    note: &str,
) -> StoreResult<bool> {
    let Some(found) = claim(conn, org, domain)? else {
        return Err(StoreError::NotFound);
    };
    if !found.is_verified() {
        return Ok(false);
    }
    execute(
        conn,
        "UPDATE login_domain_claims SET proof = NULL, verified_at = NULL, failed_checks = 0, note = ? \
         WHERE org_id = ? AND domain = ?",
        params![note, org.to_string(), domain],
    )
    .map_err(backend)?;
    Ok(true)
}

pub(crate) fn due_for_check(
    conn: &Connection,
    checked_before: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<DomainClaim>> {
    fetch_all(
        conn,
        &format!(
            "SELECT {CLAIM_COLUMNS} FROM login_domain_claims c \
             WHERE c.proof = 'dns' AND (c.last_checked_at IS NULL OR c.last_checked_at < ?) \
             ORDER BY c.last_checked_at LIMIT ?"
        ),
        params![ms(checked_before), i64::from(limit)],
        claim_row,
    )
}

pub(crate) fn org_for_domain(conn: &Connection, domain: &str) -> StoreResult<Option<OrgId>> {
    let found: Option<String> = fetch_optional(
        conn,
        sql::SELECT_ORG_OF_VERIFIED_DOMAIN.sqlite(),
        params![domain],
        |r| r.get(0).map_err(backend),
    )?;
    found.map(|s| parse_uuid(&s)).transpose()
}

#[async_trait]
impl LoginDomainStore for SqliteStore {
    async fn org_for_login_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        let domain = domain.to_string();
        self.engine.read(move |c| org_for_domain(c, &domain)).await
    }

    async fn login_domain_claims(&self, org: OrgId) -> StoreResult<Vec<DomainClaim>> {
        self.engine.read(move |c| claims(c, org)).await
    }

    async fn replace_login_domain_claims(
        &self,
        org: OrgId,
        claims: &[DomainClaim],
    ) -> StoreResult<(Vec<String>, Vec<String>)> {
        let claims = claims.to_vec();
        self.engine
            .write(move |c| replace_claims(c, org, &claims))
            .await
    }

    async fn add_login_domain_claim(&self, claim: &DomainClaim) -> StoreResult<bool> {
        let claim = claim.clone();
        self.engine.write(move |c| add_claim(c, &claim)).await
    }

    async fn verify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        at: OffsetDateTime,
        displaced_note: &str,
    ) -> StoreResult<Vec<OrgId>> {
        let domain = domain.to_string();
        let note = displaced_note.to_string();
        self.engine
            .write(move |c| verify(c, org, &domain, proof, at, &note))
            .await
    }

    async fn record_login_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        failure: Option<&str>,
        lapse_after: u32,
    ) -> StoreResult<DomainClaim> {
        let domain = domain.to_string();
        let failure = failure.map(str::to_string);
        self.engine
            .write(move |c| record_check(c, org, &domain, at, failure.as_deref(), lapse_after))
            .await
    }

    async fn record_login_domain_unanswered(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<()> {
        let domain = domain.to_string();
        let note = note.to_string();
        self.engine
            .write(move |c| record_unanswered(c, org, &domain, at, &note))
            .await
    }

    async fn unverify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        note: &str,
    ) -> StoreResult<bool> {
        let domain = domain.to_string();
        let note = note.to_string();
        self.engine
            .write(move |c| unverify(c, org, &domain, &note))
            .await
    }

    async fn login_domains_due_for_check(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<DomainClaim>> {
        self.engine
            .read(move |c| due_for_check(c, checked_before, limit))
            .await
    }
}
