//! The JSON body of a SCIM write ([`ScimJson`]): bounded, of a JSON media type, and for a
//! large one a slot of its organization's large-request budget.

use crate::http::errors::{ScimErrorResponse, SCIM_CONTENT_TYPE};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use directory::scan::{ScanSlot, LARGE_REQUEST_BYTES};
use directory::scim_service::ScimCaller;
use scim::{ScimError, ScimType};
use serde_json::Value;

/// Reads the JSON body of a SCIM request for `caller`: bounded, `application/scim+json` or
/// `application/json`. A large one (past `LARGE_REQUEST_BYTES`,
/// declared in Content-Length or found on reading) first takes one of its organization's
/// large-request slots, which the handler holds until it answers: each is bounded by the body
/// and member limits, but costs tens of MiB while parsed and applied, so how many one
/// organization runs at once is bounded too (429 with `Retry-After` past it).
/// The JSON body of a SCIM request by an [`AuthenticatedCaller`] (an argument before it), with
/// the large-request slot it holds until the handler answers. A refusal is a SCIM error.
///
/// [`AuthenticatedCaller`]: super::caller::AuthenticatedCaller
pub(super) struct ScimJson {
    pub value: Value,
    _large: Option<ScanSlot>,
}

impl FromRequest<AppState> for ScimJson {
    type Rejection = ScimErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(caller) = req.extensions().get::<ScimCaller>().cloned() else {
            // A handler that reads a body without authenticating first: our bug.
            tracing::error!("a SCIM body was read before its caller was authenticated");
            return Err(ScimErrorResponse::status(
                500,
                "the server could not read this request",
            ));
        };
        let (parts, body) = req.into_parts();
        let (value, large) = write_body(state, &caller, &parts.headers, body).await?;
        Ok(ScimJson {
            value,
            _large: large,
        })
    }
}

async fn write_body(
    state: &AppState,
    caller: &ScimCaller,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Value, Option<ScanSlot>), ScimErrorResponse> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let mut slot = None;
    if declared.is_some_and(|n| n > LARGE_REQUEST_BYTES) {
        slot = Some(state.scim.large_request_slot(caller).await?);
    }
    let bytes = body_bytes(state, headers, body).await?;
    if slot.is_none() && bytes.len() > LARGE_REQUEST_BYTES {
        slot = Some(state.scim.large_request_slot(caller).await?);
    }
    let value = parse_json(&bytes)?;
    Ok((value, slot))
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
