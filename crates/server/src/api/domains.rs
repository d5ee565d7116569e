//! `/api/v1/orgs/{slug}/domains`: login-domain claims, and the operator's approval or
//! revocation of one.

use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::extract::ApiPath;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use directory::login_domains::{status_sentence, txt_record_name, txt_record_value};
use directory::model::{Actor, DomainClaim, DomainProof};
use serde_json::{json, Value};

/// A SAML connection as the admin API and `portcullis saml show` print it: the URLs to copy
/// into the IdP, the IdP's certificates, the settings. Never the SP private key.
/// A login-domain claim as the API shows it: the record to publish, and where it stands.
pub fn domain_claim_json(c: &DomainClaim) -> Value {
    json!({
        "domain": c.domain,
        "verified": c.is_verified(),
        "proof": c.proof.map(DomainProof::as_str),
        "verified_at": c.verified_at.map(ts),
        "last_checked_at": c.last_checked_at.map(ts),
        "failed_checks": c.failed_checks,
        "verified_by_another_organization": c.verified_elsewhere,
        "note": c.note,
        "status": status_sentence(c),
        "txt_record": {"name": txt_record_name(&c.domain), "type": "TXT", "value": txt_record_value(c)},
        "created_at": ts(c.created_at),
    })
}

pub(super) async fn list_domains(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let claims = state.domains.claims(&org).await?;
    let list: Vec<Value> = claims.iter().map(domain_claim_json).collect();
    Ok(ok_json(StatusCode::OK, json!({ "domains": list })))
}

/// An operator's approval: the domain routes to this organization at once.
pub(super) async fn approve_domain(
    State(state): State<AppState>,
    ApiPath((slug, domain)): ApiPath<(String, String)>,
    Operator(key): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let claim = state
        .domains
        .approve(&org, &domain, &Actor::AdminKey(key.id))
        .await?;
    Ok(ok_json(StatusCode::OK, domain_claim_json(&claim)))
}

pub(super) async fn revoke_domain(
    State(state): State<AppState>,
    ApiPath((slug, domain)): ApiPath<(String, String)>,
    Operator(key): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let claim = state
        .domains
        .revoke(&org, &domain, &Actor::AdminKey(key.id))
        .await?;
    Ok(ok_json(StatusCode::OK, domain_claim_json(&claim)))
}
