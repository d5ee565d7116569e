//! `/api/v1/`: the operator's JSON API (organizations, SCIM tokens, audit), authenticated by
//! an operator key from `portcullis admin-key create`. Errors are `application/problem+json`.

use crate::app::AppState;
use crate::extract::{ApiBody, ApiPath};
use crate::observability::{label_route, RequestId};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Router};
use directory::login_domains::{status_sentence, txt_record_name, txt_record_value};
use directory::model::{
    Actor, AdminKeyRecord, DomainClaim, DomainProof, Organization, SamlConnection, ScimTokenRecord,
};
use directory::sso::SsoService;
use directory::store::StoredAuditEvent;
use directory::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(list_orgs).post(create_org))
        .route("/orgs/{slug}", get(get_org))
        .route("/orgs/{slug}/tokens", get(list_tokens).post(create_token))
        .route(
            "/orgs/{slug}/tokens/{id}",
            axum::routing::delete(revoke_token),
        )
        .route("/orgs/{slug}/tokens/{id}/domains", put(set_domains))
        .route("/orgs/{slug}/audit", get(audit))
        .route("/orgs/{slug}/saml", get(get_saml).patch(patch_saml))
        .route("/orgs/{slug}/saml/setup", axum::routing::post(setup_saml))
        .route("/orgs/{slug}/saml/metadata", put(upload_saml_metadata))
        .route("/orgs/{slug}/domains", get(list_domains))
        .route(
            "/orgs/{slug}/domains/{domain}/approve",
            axum::routing::post(approve_domain),
        )
        .route(
            "/orgs/{slug}/domains/{domain}/revoke",
            axum::routing::post(revoke_domain),
        )
        .route("/me", get(crate::sso_routes::api_me))
        .merge(crate::api_groups::router())
        .merge(crate::api_users::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // What `ApiBody` reads at most; the same number names the limit in its 413.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::extract::API_BODY_LIMIT,
        ))
        .layer(axum::middleware::from_fn(label_route))
}

/// An RFC 9457 problem.
pub struct Problem {
    status: StatusCode,
    title: &'static str,
    detail: String,
    request_id: String,
}

impl Problem {
    pub(crate) fn from_domain(e: Error, rid: &RequestId) -> Self {
        if e.kind == ErrorKind::Internal {
            tracing::error!(request_id = %rid.0, detail = %e.detail, "internal error");
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Problem {
            status,
            title: status.canonical_reason().unwrap_or("Error"),
            detail: e.detail,
            request_id: rid.0.clone(),
        }
    }
    pub(crate) fn unauthenticated(detail: impl Into<String>, rid: &RequestId) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, detail, rid)
    }
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>, rid: &RequestId) -> Self {
        Problem {
            status,
            title: status.canonical_reason().unwrap_or("Error"),
            detail: detail.into(),
            request_id: rid.0.clone(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "request_id": self.request_id,
        });
        let mut res = (self.status, Bytes::from(body.to_string())).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"Portcullis admin API\""),
            );
        }
        res
    }
}

pub(crate) type ApiResult = Result<Response, Problem>;

pub(crate) fn ok_json(status: StatusCode, v: Value) -> Response {
    let mut res = (status, Bytes::from(v.to_string())).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub(crate) async fn operator(
    state: &AppState,
    headers: &HeaderMap,
    rid: &RequestId,
) -> Result<AdminKeyRecord, Problem> {
    let unauthorized = |d: &str| Problem::new(StatusCode::UNAUTHORIZED, d, rid);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("send Authorization: Bearer <operator key>; create a key with `portcullis admin-key create`"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <operator key>`"))?;
    state
        .admin
        .authenticate_admin(token.trim())
        .await
        .map_err(|e| Problem::from_domain(e, rid))?
        .ok_or_else(|| {
            unauthorized(
                "this operator key is not known; create one with `portcullis admin-key create`",
            )
        })
}

pub(crate) fn body_json<T: for<'de> Deserialize<'de>>(
    bytes: &Bytes,
    rid: &RequestId,
) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("the request body is not the expected JSON: {e}"),
            rid,
        )
    })
}

pub(crate) fn ts(t: time::OffsetDateTime) -> Value {
    Value::from(t.format(&Rfc3339).unwrap_or_default())
}

pub fn org_json(o: &Organization) -> Value {
    json!({"id": o.id.to_string(), "slug": o.slug, "name": o.name, "created_at": ts(o.created_at)})
}

/// The token listing shape shared with `portcullis token list --json`.
pub fn token_json(t: &ScimTokenRecord) -> Value {
    json!({
        "id": t.id.to_string(),
        "name": t.name,
        "prefix": t.prefix,
        "domains": t.domains.domains().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "created_at": ts(t.created_at),
        "last_used_at": t.last_used_at.map(ts),
        "revoked": t.revoked_at.is_some(),
    })
}

pub fn audit_json(e: &StoredAuditEvent) -> Value {
    let ev = &e.event;
    json!({
        "seq": e.seq,
        "at": ts(ev.at),
        "actor": {"kind": ev.actor_kind, "id": ev.actor_id},
        "operation": ev.operation,
        "resource_type": ev.resource_type,
        "resource_id": ev.resource_id,
        "outcome": if ev.status < 400 { "success" } else { "refused" },
        "status": ev.status,
        "detail": ev.detail,
        "request_id": ev.request_id,
        "repeated": e.repeated,
        "last_at": e.last_at.map(ts),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrg {
    slug: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: Option<String>,
    domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetDomains {
    domains: Vec<String>,
}

async fn list_orgs(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    let orgs = state
        .admin
        .list_orgs()
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(
        StatusCode::OK,
        Value::Array(orgs.iter().map(org_json).collect()),
    ))
}

async fn create_org(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    let req: CreateOrg = body_json(&body, &rid)?;
    let org = state
        .admin
        .create_org(&req.slug, req.name.as_deref())
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(StatusCode::CREATED, org_json(&org)))
}

pub(crate) async fn org(
    state: &AppState,
    slug: &str,
    rid: &RequestId,
) -> Result<Organization, Problem> {
    state
        .admin
        .org(slug)
        .await
        .map_err(|e| Problem::from_domain(e, rid))
}

async fn get_org(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    Ok(ok_json(
        StatusCode::OK,
        org_json(&org(&state, &slug, &rid).await?),
    ))
}

async fn list_tokens(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let tokens = state
        .admin
        .list_tokens(&org)
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(
        StatusCode::OK,
        Value::Array(tokens.iter().map(token_json).collect()),
    ))
}

async fn create_token(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let req: CreateToken = body_json(&body, &rid)?;
    let issued = state
        .admin
        .create_token(
            &org,
            req.name.as_deref(),
            &req.domains,
            &Actor::AdminKey(key.id),
        )
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    let mut out = token_json(&issued.record);
    out["token"] = Value::from(issued.secret);
    out["scim_base_url"] = Value::from(state.scim.base_url());
    Ok(ok_json(StatusCode::CREATED, out))
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath((slug, id)): ApiPath<(String, String)>,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    state
        .admin
        .revoke_token(&org, &id, &Actor::AdminKey(key.id))
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn set_domains(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let req: SetDomains = body_json(&body, &rid)?;
    let token = state
        .admin
        .set_token_domains(&org, &id, &req.domains, &Actor::AdminKey(key.id))
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(StatusCode::OK, token_json(&token)))
}

async fn audit(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let filter = crate::audit_filter::parse(q.as_deref(), 100)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e, &rid))?;
    let query = filter.query;
    let events = state
        .admin
        .audit(&org, &query)
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(
        StatusCode::OK,
        Value::Array(events.iter().map(audit_json).collect()),
    ))
}

async fn not_found(Extension(rid): Extension<RequestId>) -> Response {
    Problem::new(StatusCode::NOT_FOUND, "no such admin API endpoint", &rid).into_response()
}

async fn method_not_allowed(Extension(rid): Extension<RequestId>) -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this admin API endpoint does not answer that method",
        &rid,
    )
    .into_response()
}

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

async fn saml_response(
    state: &AppState,
    org: &Organization,
    conn: &SamlConnection,
    rid: &RequestId,
) -> ApiResult {
    let claims = state
        .domains
        .claims(org)
        .await
        .map_err(|e| Problem::from_domain(e, rid))?;
    Ok(ok_json(
        StatusCode::OK,
        saml_json(&state.sso, conn, &claims),
    ))
}

async fn list_domains(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let claims = state
        .domains
        .claims(&org)
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    let list: Vec<Value> = claims.iter().map(domain_claim_json).collect();
    Ok(ok_json(StatusCode::OK, json!({ "domains": list })))
}

/// An operator's approval: the domain routes to this organization at once.
async fn approve_domain(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath((slug, domain)): ApiPath<(String, String)>,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let claim = state
        .domains
        .approve(&org, &domain, &Actor::AdminKey(key.id))
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(StatusCode::OK, domain_claim_json(&claim)))
}

async fn revoke_domain(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath((slug, domain)): ApiPath<(String, String)>,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let claim = state
        .domains
        .revoke(&org, &domain, &Actor::AdminKey(key.id))
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    Ok(ok_json(StatusCode::OK, domain_claim_json(&claim)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SetupSaml {
    #[serde(default)]
    domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchSaml {
    jit: Option<bool>,
    idp_initiated: Option<bool>,
    domains: Option<Vec<String>>,
}

async fn get_saml(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
) -> ApiResult {
    operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let conn = state
        .sso
        .require_connection(&org)
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    saml_response(&state, &org, &conn, &rid).await
}

async fn setup_saml(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let req: SetupSaml = if body.iter().all(u8::is_ascii_whitespace) {
        SetupSaml::default()
    } else {
        body_json(&body, &rid)?
    };
    let conn = state
        .sso
        .setup(&org, &req.domains, &Actor::AdminKey(key.id))
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    saml_response(&state, &org, &conn, &rid).await
}

async fn upload_saml_metadata(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
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
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the IdP metadata file as the body with Content-Type: application/xml",
            &rid,
        ));
    }
    let xml = std::str::from_utf8(&body).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "the metadata is not UTF-8 text; upload the XML file exactly as your identity provider offers it",
            &rid,
        )
    })?;
    let (conn, _) = state
        .sso
        .upload_metadata(&org, xml, &Actor::AdminKey(key.id))
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    saml_response(&state, &org, &conn, &rid).await
}

async fn patch_saml(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ApiPath(slug): ApiPath<String>,
    ApiBody(body): ApiBody,
) -> ApiResult {
    let key = operator(&state, &headers, &rid).await?;
    let org = org(&state, &slug, &rid).await?;
    let req: PatchSaml = body_json(&body, &rid)?;
    let conn = state
        .sso
        .update_settings(
            &org,
            req.jit,
            req.idp_initiated,
            req.domains.as_deref(),
            &Actor::AdminKey(key.id),
        )
        .await
        .map_err(|e| Problem::from_domain(e, &rid))?;
    saml_response(&state, &org, &conn, &rid).await
}
