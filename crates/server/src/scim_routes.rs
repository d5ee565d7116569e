//! `/scim/v2`: RFC 7644 over HTTP. Thin handlers: extract, call the SCIM service, render.

use crate::app::AppState;
use crate::extract::ScimPath;
use crate::observability::{label_route, RequestId};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use directory::scan::{ScanSlot, LARGE_REQUEST_BYTES};
use directory::scim_service::{ListParams, ScimCaller, Written};
use directory::Error;
use scim::projection::Projection;
use scim::schema::ResourceKind;
use scim::{ScimError, ScimType};
use serde_json::Value;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list::<Users>).post(create::<Users>))
        .route("/Users/.search", post(search::<Users>))
        .route(
            "/Users/{id}",
            get(get_one::<Users>)
                .put(replace::<Users>)
                .patch(patch::<Users>)
                .delete(delete::<Users>),
        )
        .route("/Groups", get(list::<Groups>).post(create::<Groups>))
        .route("/Groups/.search", post(search::<Groups>))
        .route(
            "/Groups/{id}",
            get(get_one::<Groups>)
                .put(replace::<Groups>)
                .patch(patch::<Groups>)
                .delete(delete::<Groups>),
        )
        .route("/.search", post(search_root))
        .route("/Bulk", post(bulk))
        .route("/Me", axum::routing::any(me))
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(label_route))
}

// ------------------------------------------------------------------ responses

/// A SCIM error with the request id it will echo.
pub struct ScimFailure {
    error: ScimError,
    request_id: Option<String>,
    www_authenticate: bool,
    /// `Retry-After` seconds of a refusal for load (429).
    retry_after: Option<u64>,
}

impl ScimFailure {
    pub(crate) fn new(error: ScimError, rid: &RequestId) -> Self {
        ScimFailure {
            error,
            request_id: Some(rid.0.clone()),
            www_authenticate: false,
            retry_after: None,
        }
    }
    fn from_domain(e: Error, rid: &RequestId) -> Self {
        let unauthenticated = e.status() == 401;
        if e.status() >= 500 {
            tracing::error!(request_id = %rid.0, detail = %e.detail, "internal error");
        }
        ScimFailure {
            error: e.to_scim(),
            request_id: Some(rid.0.clone()),
            www_authenticate: unauthenticated,
            retry_after: e.retry_after_seconds(),
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = self.error.to_json(self.request_id.as_deref());
        let mut res = scim_json(status, &body);
        if self.www_authenticate {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"Portcullis SCIM\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        res
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = (status, Bytes::from(bytes)).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    res
}

fn with_etag(mut res: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn written(status: StatusCode, w: Written) -> Response {
    let mut res = match &w.body {
        Some(body) => scim_json(status, body),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    if status == StatusCode::CREATED {
        if let Ok(v) = HeaderValue::from_str(&w.location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    with_etag(res, &w.etag)
}

type Outcome = Result<Response, ScimFailure>;

// ------------------------------------------------------------------ extraction

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    rid: &RequestId,
) -> Result<ScimCaller, ScimFailure> {
    let unauthorized = |detail: &str| ScimFailure {
        error: ScimError::new(401, None, detail),
        request_id: Some(rid.0.clone()),
        www_authenticate: true,
        retry_after: None,
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("this endpoint needs an Authorization: Bearer <SCIM token> header; generate a token with `portcullis token create`"))?
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized(
            "the Authorization header must be `Bearer <SCIM token>`",
        ));
    }
    let token = state
        .scim
        .authenticate(token.trim())
        .await
        .map_err(|e| ScimFailure::from_domain(e, rid))?;
    Ok(ScimCaller {
        org: token.org_id,
        token,
        request_id: Some(rid.0.clone()),
    })
}

/// Reads the JSON body of a SCIM request for `caller`: bounded, `application/scim+json` or
/// `application/json`. A large one (past `LARGE_REQUEST_BYTES`,
/// declared in Content-Length or found on reading) first takes one of its organization's
/// large-request slots, which the handler holds until it answers: each is bounded by the body
/// and member limits, but costs tens of MiB while parsed and applied, so how many one
/// organization runs at once is bounded too (429 with `Retry-After` past it).
async fn write_body(
    state: &AppState,
    caller: &ScimCaller,
    headers: &HeaderMap,
    body: Body,
    rid: &RequestId,
) -> Result<(Value, Option<ScanSlot>), ScimFailure> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut slot = None;
    if declared.is_some_and(|n| n > LARGE_REQUEST_BYTES) {
        slot = Some(large_request_slot(state, caller, rid).await?);
    }
    let bytes = body_bytes(state, headers, body)
        .await
        .map_err(|e| ScimFailure::new(e, rid))?;
    if slot.is_none() && bytes.len() > LARGE_REQUEST_BYTES {
        slot = Some(large_request_slot(state, caller, rid).await?);
    }
    let value = parse_json(&bytes).map_err(|e| ScimFailure::new(e, rid))?;
    Ok((value, slot))
}

async fn large_request_slot(
    state: &AppState,
    caller: &ScimCaller,
    rid: &RequestId,
) -> Result<ScanSlot, ScimFailure> {
    state
        .scim
        .large_request_slot(caller)
        .await
        .map_err(|e| ScimFailure::from_domain(e, rid))
}

async fn body_bytes(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ScimError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        if !ct.contains("json") {
            return Err(ScimError::new(
                415,
                Some(ScimType::InvalidSyntax),
                format!("Content-Type must be {SCIM_CONTENT_TYPE} or application/json, not '{ct}'"),
            ));
        }
    }
    let limit = state.config.limits.bulk_max_payload_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ScimError::new(
            413,
            None,
            format!("the request body is larger than the {limit} bytes this server accepts (maxPayloadSize in /ServiceProviderConfig)"),
        )
    })
}

fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

/// Query parameters, matched case-insensitively (IdPs are not consistent).
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect()
    })
    .unwrap_or_default()
}

fn decode(s: &str) -> String {
    let replaced = s.replace('+', " ");
    let bytes = replaced.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn int_param(pairs: &[(String, String)], name: &str) -> Result<Option<i64>, ScimError> {
    match param(pairs, name) {
        None | Some("") => Ok(None),
        Some(v) => {
            v.trim().parse::<i64>().map(Some).map_err(|_| {
                ScimError::invalid_value(format!("{name} must be an integer, not '{v}'"))
            })
        }
    }
}

fn list_params(raw: Option<&str>) -> Result<ListParams, ScimError> {
    let pairs = query_pairs(raw);
    Ok(ListParams {
        filter: param(&pairs, "filter").map(String::from),
        sort_by: param(&pairs, "sortBy").map(String::from),
        sort_order: param(&pairs, "sortOrder").map(String::from),
        start_index: int_param(&pairs, "startIndex")?,
        count: int_param(&pairs, "count")?,
        attributes: param(&pairs, "attributes").map(String::from),
        excluded_attributes: param(&pairs, "excludedAttributes").map(String::from),
    })
}

fn projection(kind: ResourceKind, raw: Option<&str>) -> Result<(Projection, bool), ScimError> {
    let pairs = query_pairs(raw);
    let attributes = param(&pairs, "attributes");
    let excluded = param(&pairs, "excludedAttributes");
    let asked = attributes.is_some() || excluded.is_some();
    Ok((Projection::parse(kind, attributes, excluded)?, asked))
}

/// Reads a SearchRequest body (RFC 7644 §3.4.3) into list parameters.
fn search_params(body: &Value) -> Result<ListParams, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a search request must be a JSON object"))?;
    let get = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let string = |name: &str| -> Result<Option<String>, ScimError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) if name.ends_with("ttributes") => Ok(Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
        }
    };
    let int = |name: &str| -> Result<Option<i64>, ScimError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
        }
    };
    Ok(ListParams {
        filter: string("filter")?,
        sort_by: string("sortBy")?,
        sort_order: string("sortOrder")?,
        start_index: int("startIndex")?,
        count: int("count")?,
        attributes: string("attributes")?,
        excluded_attributes: string("excludedAttributes")?,
    })
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').map(str::trim).any(|t| {
                t == "*" || t == etag || t.trim_start_matches("W/") == etag.trim_start_matches("W/")
            })
        })
}

// ------------------------------------------------------------------ handlers

macro_rules! scim_try {
    ($e:expr, $rid:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return Err(ScimFailure::new(err, &$rid)),
        }
    };
}

macro_rules! dom_try {
    ($e:expr, $rid:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return Err(ScimFailure::from_domain(err, &$rid)),
        }
    };
}

/// The resource type a handler serves: one handler per operation, for /Users and /Groups.
trait Resource {
    const KIND: ResourceKind;
}
struct Users;
struct Groups;
impl Resource for Users {
    const KIND: ResourceKind = ResourceKind::User;
}
impl Resource for Groups {
    const KIND: ResourceKind = ResourceKind::Group;
}

async fn list<R: Resource>(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let params = scim_try!(list_params(q.as_deref()), rid);
    let body = dom_try!(state.scim.list(&caller, R::KIND, &params).await, rid);
    Ok(scim_json(StatusCode::OK, &body))
}

async fn search_in(
    state: AppState,
    rid: RequestId,
    headers: HeaderMap,
    body: Body,
    kind: Option<ResourceKind>,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let (body, _large) = write_body(&state, &caller, &headers, body, &rid).await?;
    let params = scim_try!(search_params(&body), rid);
    let result = match kind {
        Some(kind) => state.scim.list(&caller, kind, &params).await,
        None => state.scim.search_root(&caller, &params).await,
    };
    let body = dom_try!(result, rid);
    Ok(scim_json(StatusCode::OK, &body))
}

async fn search<R: Resource>(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Outcome {
    search_in(s, rid, headers, body, Some(R::KIND)).await
}

async fn search_root(
    State(s): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Outcome {
    search_in(s, rid, headers, body, None).await
}

async fn create<R: Resource>(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let (proj, _) = scim_try!(projection(R::KIND, q.as_deref()), rid);
    let (body, _large) = write_body(&state, &caller, &headers, body, &rid).await?;
    let result = match R::KIND {
        ResourceKind::User => state.scim.create_user(&caller, &body, &proj).await,
        ResourceKind::Group => state.scim.create_group(&caller, &body, &proj).await,
    };
    Ok(written(StatusCode::CREATED, dom_try!(result, rid)))
}

async fn get_one<R: Resource>(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    RawQuery(q): RawQuery,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let (proj, _) = scim_try!(projection(R::KIND, q.as_deref()), rid);
    if headers.contains_key(header::IF_NONE_MATCH) {
        let current = match R::KIND {
            ResourceKind::User => state.scim.user_etag(&caller, &id).await,
            ResourceKind::Group => state.scim.group_etag(&caller, &id).await,
        };
        let etag = dom_try!(current, rid);
        if not_modified(&headers, &etag) {
            return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag));
        }
    }
    let result = match R::KIND {
        ResourceKind::User => state.scim.get_user(&caller, &id, &proj).await,
        ResourceKind::Group => state.scim.get_group(&caller, &id, &proj).await,
    };
    let (body, etag) = dom_try!(result, rid);
    Ok(with_etag(scim_json(StatusCode::OK, &body), &etag))
}

async fn replace<R: Resource>(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let (proj, _) = scim_try!(projection(R::KIND, q.as_deref()), rid);
    let (body, _large) = write_body(&state, &caller, &headers, body, &rid).await?;
    let if_match = if_match(&headers);
    let result = match R::KIND {
        ResourceKind::User => {
            let scim = &state.scim;
            scim.replace_user(&caller, &id, &body, if_match.as_deref(), &proj)
                .await
        }
        ResourceKind::Group => {
            let scim = &state.scim;
            scim.replace_group(&caller, &id, &body, if_match.as_deref(), &proj)
                .await
        }
    };
    Ok(written(StatusCode::OK, dom_try!(result, rid)))
}

/// A user PATCH answers the user; a group PATCH answers 204 unless `attributes` or
/// `excludedAttributes` asks for a body, so a PATCH never serializes a huge member list.
async fn patch<R: Resource>(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
    RawQuery(q): RawQuery,
    body: Body,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let (proj, asked) = scim_try!(projection(R::KIND, q.as_deref()), rid);
    let (body, _large) = write_body(&state, &caller, &headers, body, &rid).await?;
    let if_match = if_match(&headers);
    let scim = &state.scim;
    let result = match R::KIND {
        ResourceKind::User => {
            scim.patch_user(&caller, &id, &body, if_match.as_deref(), &proj)
                .await
        }
        ResourceKind::Group => {
            scim.patch_group(&caller, &id, &body, if_match.as_deref(), &proj, asked)
                .await
        }
    };
    Ok(written(StatusCode::OK, dom_try!(result, rid)))
}

async fn delete<R: Resource>(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    ScimPath(id): ScimPath<String>,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let if_match = if_match(&headers);
    let result = match R::KIND {
        ResourceKind::User => {
            state
                .scim
                .delete_user(&caller, &id, if_match.as_deref())
                .await
        }
        ResourceKind::Group => {
            state
                .scim
                .delete_group(&caller, &id, if_match.as_deref())
                .await
        }
    };
    dom_try!(result, rid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn bulk(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Outcome {
    let caller = authenticate(&state, &headers, &rid).await?;
    let (body, _large) = write_body(&state, &caller, &headers, body, &rid).await?;
    let out = dom_try!(state.scim.bulk(&caller, &body).await, rid);
    Ok(scim_json(StatusCode::OK, &out))
}

/// `/Me`: for a browser session, GET answers the signed-in user's resource. A SCIM token
/// acts for an identity provider, not a person, so with a valid bearer token it stays 501.
/// Without either (or with a token we do not know) it is 401, the client's error.
async fn me(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    let bearer = headers.contains_key(header::AUTHORIZATION);
    if !bearer {
        let Some(me) = crate::session::current_user(&state, &headers).await else {
            return ScimFailure {
                error: ScimError::new(
                    401,
                    None,
                    "/Me needs a signed-in session: sign in through your organization's identity provider at /login",
                ),
                request_id: Some(rid.0.clone()),
                www_authenticate: true,
                retry_after: None,
            }
            .into_response();
        };
        if method != axum::http::Method::GET {
            return ScimFailure::new(
                ScimError::new(
                    405,
                    None,
                    "a signed-in session may only read /Me (GET); changes come from the identity provider",
                ),
                &rid,
            )
            .into_response();
        }
        return match state
            .scim
            .user_for_session(me.user.org_id, me.user.id)
            .await
        {
            Ok((body, tag)) => with_etag(scim_json(StatusCode::OK, &body), &tag),
            Err(e) => ScimFailure::from_domain(e, &rid).into_response(),
        };
    }
    if let Err(refused) = authenticate(&state, &headers, &rid).await {
        return refused.into_response();
    }
    ScimFailure::new(
        ScimError::new(
            501,
            None,
            "/Me needs a signed-in session; SCIM tokens act for an identity provider, not a person",
        ),
        &rid,
    )
    .into_response()
}

fn capabilities(state: &AppState) -> scim::discovery::Capabilities {
    let l = state.config.limits;
    scim::discovery::Capabilities {
        bulk_max_operations: l.bulk_max_operations,
        bulk_max_payload_bytes: l.bulk_max_payload_bytes,
        filter_max_results: l.max_results as usize,
    }
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    let body = scim::discovery::service_provider_config(
        state.scim.base_url(),
        &capabilities(&state),
        None,
    );
    scim_json(StatusCode::OK, &body)
}

async fn resource_types(State(state): State<AppState>) -> Response {
    scim_json(
        StatusCode::OK,
        &scim::discovery::resource_types(state.scim.base_url()),
    )
}

async fn resource_type(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    ScimPath(id): ScimPath<String>,
) -> Outcome {
    match scim::discovery::resource_type_by_id(state.scim.base_url(), &id) {
        Some(body) => Ok(scim_json(StatusCode::OK, &body)),
        None => Err(ScimFailure::new(
            ScimError::not_found(format!("no ResourceType '{id}'; there are User and Group")),
            &rid,
        )),
    }
}

async fn schemas(State(state): State<AppState>) -> Response {
    scim_json(
        StatusCode::OK,
        &scim::discovery::schemas(state.scim.base_url()),
    )
}

async fn schema(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    ScimPath(id): ScimPath<String>,
) -> Outcome {
    match scim::discovery::schema_by_id(state.scim.base_url(), &id) {
        Some(body) => Ok(scim_json(StatusCode::OK, &body)),
        None => Err(ScimFailure::new(
            ScimError::not_found(format!("no Schema '{id}'")),
            &rid,
        )),
    }
}

async fn not_found(Extension(rid): Extension<RequestId>) -> Response {
    ScimFailure::new(
        ScimError::not_found("no such SCIM endpoint; the resources are /Users and /Groups"),
        &rid,
    )
    .into_response()
}

async fn method_not_allowed(Extension(rid): Extension<RequestId>) -> Response {
    ScimFailure::new(
        ScimError::new(
            405,
            None,
            "this method is not supported on this SCIM endpoint",
        ),
        &rid,
    )
    .into_response()
}
