//! `/Bulk` (RFC 7644 §3.7): operations in order, `bulkId` references resolved as they are
//! created, `failOnErrors` honoured. Each operation is its own unit, as the RFC allows.

use crate::error::{Error, ErrorKind};
use crate::scim_service::{ScimCaller, ScimService};
use scim::projection::Projection;
use scim::schema::ResourceKind;
use scim::{urn, ScimError, ScimType};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

impl ScimService {
    pub async fn bulk(&self, caller: &ScimCaller, body: &Value) -> Result<Value, Error> {
        let obj = body.as_object().ok_or_else(|| {
            Error::from(ScimError::invalid_syntax(
                "a bulk request must be a JSON object",
            ))
        })?;
        let schemas_ok = obj
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(urn::BULK_REQUEST)));
        if !schemas_ok {
            return Err(ScimError::invalid_syntax(format!(
                "a bulk request must list the schema {}",
                urn::BULK_REQUEST
            ))
            .into());
        }
        let ops = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .and_then(|(_, v)| v.as_array())
            .ok_or_else(|| {
                Error::from(ScimError::invalid_syntax(
                    "a bulk request needs an \"Operations\" array",
                ))
            })?;
        let max = self.limits().bulk_max_operations;
        if ops.len() > max {
            return Err(Error::new(ErrorKind::TooLarge, format!("the bulk request has {} operations; this server accepts at most {max} (maxOperations)", ops.len())));
        }
        let fail_on_errors = match obj.get("failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                Error::from(ScimError::invalid_value(
                    "failOnErrors must be a positive integer",
                ))
            })?),
        };

        let mut ids: HashMap<String, String> = HashMap::new();
        let mut results = Vec::with_capacity(ops.len());
        let mut errors = 0u64;
        let projection = Projection::parse(ResourceKind::User, None, None)?;
        let group_projection = Projection::parse(ResourceKind::Group, None, None)?;
        for (i, op) in ops.iter().enumerate() {
            if fail_on_errors.is_some_and(|n| errors >= n) {
                break;
            }
            let method = op
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_uppercase();
            let bulk_id = op.get("bulkId").and_then(Value::as_str).map(String::from);
            let mut entry = Map::new();
            entry.insert("method".into(), Value::from(method.clone()));
            if let Some(b) = &bulk_id {
                entry.insert("bulkId".into(), Value::from(b.clone()));
            }
            let outcome = self
                .bulk_one(
                    caller,
                    i,
                    op,
                    &method,
                    bulk_id.as_deref(),
                    &ids,
                    &projection,
                    &group_projection,
                )
                .await;
            match outcome {
                Ok((status, location, version)) => {
                    if let (Some(b), Some(loc)) = (&bulk_id, &location) {
                        if let Some(id) = loc.rsplit('/').next() {
                            ids.insert(b.clone(), id.to_string());
                        }
                    }
                    if let Some(loc) = location {
                        entry.insert("location".into(), Value::from(loc));
                    }
                    if let Some(v) = version {
                        entry.insert("version".into(), Value::from(v));
                    }
                    entry.insert("status".into(), Value::from(status.to_string()));
                }
                Err(e) => {
                    errors += 1;
                    let scim = e.to_scim();
                    entry.insert("status".into(), Value::from(scim.status.to_string()));
                    entry.insert("response".into(), scim.to_json(None));
                }
            }
            results.push(Value::Object(entry));
        }
        Ok(json!({"schemas": [urn::BULK_RESPONSE], "Operations": results}))
    }

    #[allow(clippy::too_many_arguments)]
    async fn bulk_one(
        &self,
        caller: &ScimCaller,
        index: usize,
        op: &Value,
        method: &str,
        bulk_id: Option<&str>,
        ids: &HashMap<String, String>,
        projection: &Projection,
        group_projection: &Projection,
    ) -> Result<(u16, Option<String>, Option<String>), Error> {
        let path = op.get("path").and_then(Value::as_str).ok_or_else(|| {
            Error::from(ScimError::invalid_syntax(format!(
                "Operations[{index}] needs a \"path\" such as /Users"
            )))
        })?;
        let path = resolve_refs_str(path, ids)?;
        let data = match op.get("data") {
            Some(d) => Some(resolve_refs(d, ids)?),
            None => None,
        };
        let if_match = op.get("version").and_then(Value::as_str);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let kind = match segments.first().copied() {
            Some("Users") => ResourceKind::User,
            Some("Groups") => ResourceKind::Group,
            _ => {
                return Err(ScimError::invalid_path(format!(
                    "Operations[{index}]: path '{path}' must start with /Users or /Groups"
                ))
                .into())
            }
        };
        let proj = if kind == ResourceKind::User {
            projection
        } else {
            group_projection
        };
        let need_data = || {
            data.clone().ok_or_else(|| {
                Error::from(ScimError::invalid_syntax(format!(
                    "Operations[{index}]: {method} needs \"data\""
                )))
            })
        };
        match (method, segments.len()) {
            ("POST", 1) => {
                if bulk_id.is_none() {
                    return Err(ScimError::invalid_syntax(format!("Operations[{index}]: POST needs a bulkId")).into());
                }
                let data = need_data()?;
                let w = match kind {
                    ResourceKind::User => self.create_user(caller, &data, proj).await?,
                    ResourceKind::Group => self.create_group(caller, &data, proj).await?,
                };
                Ok((201, Some(w.location), Some(w.etag)))
            }
            ("PUT", 2) => {
                let data = need_data()?;
                let w = match kind {
                    ResourceKind::User => self.replace_user(caller, segments[1], &data, if_match, proj).await?,
                    ResourceKind::Group => self.replace_group(caller, segments[1], &data, if_match, proj).await?,
                };
                Ok((200, Some(w.location), Some(w.etag)))
            }
            ("PATCH", 2) => {
                let data = need_data()?;
                let w = match kind {
                    ResourceKind::User => self.patch_user(caller, segments[1], &data, if_match, proj).await?,
                    ResourceKind::Group => self.patch_group(caller, segments[1], &data, if_match, proj, false).await?,
                };
                Ok((200, Some(w.location), Some(w.etag)))
            }
            ("DELETE", 2) => {
                match kind {
                    ResourceKind::User => self.delete_user(caller, segments[1], if_match).await?,
                    ResourceKind::Group => self.delete_group(caller, segments[1], if_match).await?,
                }
                Ok((204, Some(format!("{}/{}", self.base_url(), path.trim_matches('/'))), None))
            }
            _ => Err(ScimError::invalid_syntax(format!(
                "Operations[{index}]: method '{method}' with path '{path}' is not supported; use POST /Users, PUT|PATCH|DELETE /Users/<id> (or /Groups)"
            ))
            .into()),
        }
    }
}

fn unresolved(reference: &str) -> Error {
    Error::conflict(format!(
        "bulkId '{reference}' does not name a resource created earlier in this request"
    ))
    .with_scim_type(ScimType::InvalidValue)
}

fn resolve_refs_str(s: &str, ids: &HashMap<String, String>) -> Result<String, Error> {
    if let Some(pos) = s.find("bulkId:") {
        let reference = &s[pos + "bulkId:".len()..];
        let reference = reference.split('/').next().unwrap_or_default();
        let id = ids.get(reference).ok_or_else(|| unresolved(reference))?;
        return Ok(s.replacen(&format!("bulkId:{reference}"), id, 1));
    }
    Ok(s.to_string())
}

/// Replaces every `"bulkId:<ref>"` string in `data` by the id the reference created.
fn resolve_refs(v: &Value, ids: &HashMap<String, String>) -> Result<Value, Error> {
    Ok(match v {
        Value::String(s) if s.starts_with("bulkId:") => Value::from(resolve_refs_str(s, ids)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| resolve_refs(i, ids))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), resolve_refs(v, ids)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}
