//! Login-domain claims: one row per (organization, domain); a partial unique index keeps at
//! most one verified claim per domain.

use crate::rows::{backend, from_ms, get, ms, write_error};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::OrgId;
use directory::model::{DomainClaim, DomainProof};
use directory::store::{LoginDomainStore, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};
use std::collections::HashSet;
use store_sql::login_domains as sql;
use time::OffsetDateTime;

const CLAIM_COLUMNS: &str = "c.org_id, c.domain, c.verification_value, c.proof, c.verified_at, c.last_checked_at, c.failed_checks, c.note, c.created_at, \
     EXISTS (SELECT 1 FROM login_domain_claims o WHERE o.domain = c.domain AND o.org_id <> c.org_id AND o.proof IS NOT NULL) AS verified_elsewhere";

fn claim_row(r: &PgRow) -> StoreResult<DomainClaim> {
    let proof = get::<Option<String>>(r, "proof")?
        .map(|p| {
            DomainProof::parse(&p)
                .ok_or_else(|| StoreError::Backend(format!("stored domain proof '{p}'")))
        })
        .transpose()?;
    Ok(DomainClaim {
        org_id: OrgId(get(r, "org_id")?),
        domain: get(r, "domain")?,
        verification_value: get(r, "verification_value")?,
        proof,
        verified_at: get::<Option<i64>>(r, "verified_at")?.map(from_ms),
        last_checked_at: get::<Option<i64>>(r, "last_checked_at")?.map(from_ms),
        failed_checks: u32::try_from(get::<i32>(r, "failed_checks")?).unwrap_or(0),
        note: get(r, "note")?,
        created_at: from_ms(get(r, "created_at")?),
        verified_elsewhere: get(r, "verified_elsewhere")?,
    })
}

pub(crate) async fn claims(pool: &PgPool, org: OrgId) -> StoreResult<Vec<DomainClaim>> {
    let rows = sqlx::query(&format!(
        "SELECT {CLAIM_COLUMNS} FROM login_domain_claims c WHERE c.org_id = $1 ORDER BY c.domain"
    ))
    .bind(org.0)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(claim_row).collect()
}

async fn claim(
    conn: &mut PgConnection,
    org: OrgId,
    domain: &str,
) -> StoreResult<Option<DomainClaim>> {
    sqlx::query(&format!(
        "SELECT {CLAIM_COLUMNS} FROM login_domain_claims c WHERE c.org_id = $1 AND c.domain = $2"
    ))
    .bind(org.0)
    .bind(domain)
    .fetch_optional(conn)
    .await
    .map_err(backend)?
    .map(|r| claim_row(&r))
    .transpose()
}

async fn insert(conn: &mut PgConnection, c: &DomainClaim) -> StoreResult<bool> {
    let done = sqlx::query(sql::INSERT_LOGIN_DOMAIN_CLAIMS.postgres())
        .bind(c.org_id.0)
        .bind(&c.domain)
        .bind(&c.verification_value)
        .bind(c.proof.map(DomainProof::as_str))
        .bind(c.verified_at.map(ms))
        .bind(c.last_checked_at.map(ms))
        .bind(i32::try_from(c.failed_checks).unwrap_or(i32::MAX))
        .bind(&c.note)
        .bind(ms(c.created_at))
        .execute(conn)
        .await
        .map_err(|e| write_error(e, &format!("domain {}", c.domain)))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn add_claim(pool: &PgPool, c: &DomainClaim) -> StoreResult<bool> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    insert(&mut conn, c).await
}

pub(crate) async fn replace_claims(
    pool: &PgPool,
    org: OrgId,
    wanted: &[DomainClaim],
) -> StoreResult<(Vec<String>, Vec<String>)> {
    if wanted.iter().any(|c| c.org_id != org) {
        return Err(StoreError::Backend(
            "a claim of another organization".into(),
        ));
    }
    let mut tx = pool.begin().await.map_err(backend)?;
    let names: Vec<String> = wanted.iter().map(|c| c.domain.clone()).collect();
    let removed: Vec<String> = sqlx::query_scalar(
        "DELETE FROM login_domain_claims WHERE org_id = $1 AND NOT (domain = ANY($2)) RETURNING domain",
    )
    .bind(org.0)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let mut added = Vec::new();
    let mut seen = HashSet::new();
    for c in wanted {
        if seen.insert(c.domain.as_str()) && insert(&mut tx, c).await? {
            added.push(c.domain.clone());
        }
    }
    tx.commit().await.map_err(backend)?;
    let mut removed = removed;
    removed.sort();
    Ok((added, removed))
}

pub(crate) async fn verify(
    pool: &PgPool,
    org: OrgId,
    domain: &str,
    proof: DomainProof,
    at: OffsetDateTime,
    displaced_note: &str,
) -> StoreResult<Vec<OrgId>> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // Every claim on the domain, locked: two verifications of one domain run one after the other.
    let rows = sqlx::query(
        "SELECT org_id, proof FROM login_domain_claims WHERE domain = $1 ORDER BY org_id FOR UPDATE",
    )
    .bind(domain)
    .fetch_all(&mut *tx)
    .await
    .map_err(backend)?;
    let mut ours = false;
    let mut holders = Vec::new();
    for r in &rows {
        let holder = OrgId(get(r, "org_id")?);
        let held: Option<String> = get(r, "proof")?;
        if holder == org {
            ours = true;
        } else if let Some(held) = held {
            holders.push((holder, held));
        }
    }
    if !ours {
        return Err(StoreError::NotFound);
    }
    let mut displaced = Vec::new();
    for (holder, held) in holders {
        if held != DomainProof::Dns.as_str() && proof != DomainProof::Operator {
            return Err(StoreError::Conflict(format!("domain {domain}")));
        }
        sqlx::query(
            "UPDATE login_domain_claims SET proof = NULL, verified_at = NULL, failed_checks = 0, note = $1 \
             WHERE org_id = $2 AND domain = $3",
        )
        .bind(displaced_note)
        .bind(holder.0)
        .bind(domain)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        displaced.push(holder);
    }
    sqlx::query(
        "UPDATE login_domain_claims SET proof = $1, verified_at = $2, last_checked_at = $2, failed_checks = 0, note = NULL \
         WHERE org_id = $3 AND domain = $4",
    )
    .bind(proof.as_str())
    .bind(ms(at))
    .bind(org.0)
    .bind(domain)
    .execute(&mut *tx)
    .await
    .map_err(|e| write_error(e, &format!("domain {domain}")))?;
    tx.commit().await.map_err(backend)?;
    Ok(displaced)
}

pub(crate) async fn record_check(
    pool: &PgPool,
    org: OrgId,
    domain: &str,
    at: OffsetDateTime,
    failure: Option<&str>,
    lapse_after: u32,
) -> StoreResult<DomainClaim> {
    let mut conn = pool.acquire().await.map_err(backend)?;
    let done = match failure {
        None => sqlx::query(
            sql::UPDATE_LOGIN_DOMAIN_CLAIMS_CHECK_PASSED.postgres(),
        )
        .bind(ms(at))
        .bind(org.0)
        .bind(domain)
        .execute(&mut *conn)
        .await,
        Some(why) => sqlx::query(
            "UPDATE login_domain_claims SET last_checked_at = $1, failed_checks = failed_checks + 1, note = $2, \
             proof = CASE WHEN proof = 'dns' AND failed_checks + 1 >= $3 THEN NULL ELSE proof END, \
             verified_at = CASE WHEN proof = 'dns' AND failed_checks + 1 >= $3 THEN NULL ELSE verified_at END \
             WHERE org_id = $4 AND domain = $5",
        )
        .bind(ms(at))
        .bind(why)
        .bind(i32::try_from(lapse_after).unwrap_or(i32::MAX))
        .bind(org.0)
        .bind(domain)
        .execute(&mut *conn)
        .await,
    }
    .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    claim(&mut conn, org, domain)
        .await?
        .ok_or(StoreError::NotFound)
}

pub(crate) async fn record_unanswered(
    pool: &PgPool,
    org: OrgId,
    domain: &str,
    at: OffsetDateTime,
    note: &str,
) -> StoreResult<()> {
    let done = sqlx::query(sql::UPDATE_LOGIN_DOMAIN_CLAIMS_CHECK_UNANSWERED.postgres())
        .bind(ms(at))
        .bind(note)
        .bind(org.0)
        .bind(domain)
        .execute(pool)
        .await
        .map_err(backend)?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn unverify(
    pool: &PgPool,
    org: OrgId,
    domain: &str,
    note: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE login_domain_claims SET proof = NULL, verified_at = NULL, failed_checks = 0, note = $1 \
         WHERE org_id = $2 AND domain = $3 AND proof IS NOT NULL",
    )
    .bind(note)
    .bind(org.0)
    .bind(domain)
    .execute(pool)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 1 {
        return Ok(true);
    }
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM login_domain_claims WHERE org_id = $1 AND domain = $2")
            .bind(org.0)
            .bind(domain)
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    match exists {
        Some(_) => Ok(false),
        None => Err(StoreError::NotFound),
    }
}

pub(crate) async fn due_for_check(
    pool: &PgPool,
    checked_before: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<DomainClaim>> {
    let rows = sqlx::query(&format!(
        "SELECT {CLAIM_COLUMNS} FROM login_domain_claims c \
         WHERE c.proof = 'dns' AND (c.last_checked_at IS NULL OR c.last_checked_at < $1) \
         ORDER BY c.last_checked_at NULLS FIRST LIMIT $2"
    ))
    .bind(ms(checked_before))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(claim_row).collect()
}

pub(crate) async fn org_for_domain(pool: &PgPool, domain: &str) -> StoreResult<Option<OrgId>> {
    let row = sqlx::query(sql::SELECT_ORG_OF_VERIFIED_DOMAIN.postgres())
        .bind(domain)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| get(&r, "org_id").map(OrgId)).transpose()
}

#[async_trait]
impl LoginDomainStore for PostgresStore {
    async fn org_for_login_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        org_for_domain(&self.pool, domain).await
    }

    async fn login_domain_claims(&self, org: OrgId) -> StoreResult<Vec<DomainClaim>> {
        claims(&self.pool, org).await
    }

    async fn replace_login_domain_claims(
        &self,
        org: OrgId,
        claims: &[DomainClaim],
    ) -> StoreResult<(Vec<String>, Vec<String>)> {
        replace_claims(&self.pool, org, claims).await
    }

    async fn add_login_domain_claim(&self, claim: &DomainClaim) -> StoreResult<bool> {
        add_claim(&self.pool, claim).await
    }

    async fn verify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        at: OffsetDateTime,
        displaced_note: &str,
    ) -> StoreResult<Vec<OrgId>> {
        verify(&self.pool, org, domain, proof, at, displaced_note).await
    }

    async fn record_login_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        failure: Option<&str>,
        lapse_after: u32,
    ) -> StoreResult<DomainClaim> {
        record_check(&self.pool, org, domain, at, failure, lapse_after).await
    }

    async fn record_login_domain_unanswered(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<()> {
        record_unanswered(&self.pool, org, domain, at, note).await
    }

    async fn unverify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        note: &str,
    ) -> StoreResult<bool> {
        unverify(&self.pool, org, domain, note).await
    }

    async fn login_domains_due_for_check(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<DomainClaim>> {
        due_for_check(&self.pool, checked_before, limit).await
    }
}
