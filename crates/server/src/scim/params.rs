//! What a SCIM request asks for beyond its path: list and projection parameters from the
//! query string, a SearchRequest body, and the conditional headers.

use super::resources::Resource;
use crate::http::errors::ScimErrorResponse;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use directory::scim_service::ListParams;
use scim::projection::Projection;
use scim::schema::ResourceKind;
use scim::ScimError;
use serde_json::Value;

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

pub(super) fn list_params(raw: Option<&str>) -> Result<ListParams, ScimError> {
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
pub(super) fn search_params(body: &Value) -> Result<ListParams, ScimError> {
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

pub(super) fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

pub(super) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').map(str::trim).any(|t| {
                t == "*" || t == etag || t.trim_start_matches("W/") == etag.trim_start_matches("W/")
            })
        })
}

/// The projection a request's `attributes` and `excludedAttributes` ask for on resources of
/// kind `R`, and whether it asked at all; a refusal is a SCIM error.
pub(super) struct Projected<R> {
    pub projection: Projection,
    pub asked: bool,
    kind: std::marker::PhantomData<R>,
}

impl<R: Resource, S: Send + Sync> FromRequestParts<S> for Projected<R> {
    type Rejection = ScimErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (projection, asked) = projection(R::KIND, parts.uri.query())?;
        Ok(Projected {
            projection,
            asked,
            kind: std::marker::PhantomData,
        })
    }
}
