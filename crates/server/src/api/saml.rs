//! `/api/v1/orgs/{slug}/saml`: an organization's SAML connection (set up, upload IdP
//! metadata, change settings, read).

use super::domains::domain_claim_json;
use super::operator::Operator;
use super::{ok_json, ts, ApiResult};
use crate::http::errors::ApiError;
use crate::http::extract::{parse_api_json, ApiBody, ApiJson, ApiPath};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use directory::model::{Actor, DomainClaim, Organization, SamlConnection};
use directory::sso::SsoService;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn saml_json(sso: &SsoService, conn: &SamlConnection, claims: &[DomainClaim]) -> Value {
    let urls = sso.urls(&conn.client_id);
    let (idp, problem) = match SsoService::idp_metadata(conn) {
        Ok(idp) => (idp, None),
        Err(e) => (None, Some(e.detail)),
    };
    let certificates: Vec<Value> = idp
        .as_ref()
        .map(|i| {
            i.signing_certificates
                .iter()
                .map(|c| {
                    json!({
                        "subject": c.subject,
                        "not_before": ts(c.not_before),
                        "not_after": ts(c.not_after),
                        "sha256_fingerprint": c.sha256_fingerprint,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "client_id": urls.client_id,
        "acs_url": urls.acs_url,
        "entity_id": urls.entity_id,
        "login_url": urls.login_url,
        "metadata_url": urls.metadata_url,
        "idp": idp.as_ref().map(|i| json!({
            "entity_id": i.entity_id,
            "sso_url": i.redirect_sso_url(),
            "want_authn_requests_signed": i.want_authn_requests_signed,
            "certificates": certificates,
            "uploaded_at": conn.idp_metadata_uploaded_at.map(ts),
        })),
        "idp_problem": problem,
        "sp_certificate_pem": conn.sp_cert_pem,
        "jit": conn.jit,
        "idp_initiated": conn.idp_initiated,
        // Every claimed domain; only the verified ones route (`login_domains` tells each one's state).
        "domains": claims.iter().map(|c| c.domain.as_str()).collect::<Vec<_>>(),
        "login_domains": claims.iter().map(domain_claim_json).collect::<Vec<_>>(),
        "created_at": ts(conn.created_at),
        "updated_at": ts(conn.updated_at),
    })
}

async fn saml_response(state: &AppState, org: &Organization, conn: &SamlConnection) -> ApiResult {
    let claims = state.domains.claims(org).await?;
    Ok(ok_json(
        StatusCode::OK,
        saml_json(&state.sso, conn, &claims),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SetupSaml {
    #[serde(default)]
    domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PatchSaml {
    jit: Option<bool>,
    idp_initiated: Option<bool>,
    domains: Option<Vec<String>>,
}

pub(super) async fn get_saml(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(_): Operator,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let conn = state.sso.require_connection(&org).await?;
    saml_response(&state, &org, &conn).await
}

pub(super) async fn setup_saml(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(key): Operator,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let req: SetupSaml = if body.iter().all(u8::is_ascii_whitespace) {
        SetupSaml::default()
    } else {
        parse_api_json(&body)?
    };
    let conn = state
        .sso
        .setup(&org, &req.domains, &Actor::AdminKey(key.id))
        .await?;
    saml_response(&state, &org, &conn).await
}

pub(super) async fn upload_saml_metadata(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
    Operator(key): Operator,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let xml_type = [
        "application/xml",
        "text/xml",
        "application/samlmetadata+xml",
    ]
    .iter()
    .any(|t| content_type.starts_with(t));
    if !xml_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the IdP metadata file as the body with Content-Type: application/xml",
        ));
    }
    let xml = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "the metadata is not UTF-8 text; upload the XML file exactly as your identity provider offers it"
        )
    })?;
    let (conn, _) = state
        .sso
        .upload_metadata(&org, xml, &Actor::AdminKey(key.id))
        .await?;
    saml_response(&state, &org, &conn).await
}

pub(super) async fn patch_saml(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    Operator(key): Operator,
    ApiJson(req): ApiJson<PatchSaml>,
) -> ApiResult {
    let org = state.admin.org(&slug).await?;
    let conn = state
        .sso
        .update_settings(
            &org,
            req.jit,
            req.idp_initiated,
            req.domains.as_deref(),
            &Actor::AdminKey(key.id),
        )
        .await?;
    saml_response(&state, &org, &conn).await
}
