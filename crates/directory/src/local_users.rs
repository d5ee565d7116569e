//! Users as the console and the admin API see them: a searchable list paged by keyset, one
//! user's page (groups, sign-in sessions, history), and the changes an IT admin may make to
//! local users. Externally Managed users (SCIM) are read-only here: their IdP would overwrite
//! whatever we changed.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::Error;
use crate::ids::{OrgId, UserId};
use crate::model::{Actor, AuditEvent, ManagedBy, SessionRecord, UserRecord};
use crate::query::{AuditQuery, UserListQuery};
use crate::store::{Store, StoreError, StoredAuditEvent, UserGroup};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Why an Externally Managed user cannot be changed here: the console and the API say the same.
pub const MANAGED_BY_IDP: &str = "This user is managed by your identity provider (SCIM). Change them there; changes made here would be overwritten.";

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
/// A search longer than any userName we would store cannot match; refused unread.
pub const MAX_SEARCH_CHARS: usize = 256;
const MAX_NAME_CHARS: usize = 256;
const MAX_EMAILS: usize = 20;
/// Users a broad search examines at most per page (under the status and source filters): a
/// page then costs a bounded walk however far away the matches are. When the bound stops a
/// page before it is full, the page says so and its cursor continues the search from there.
pub const SCAN_LIMIT: u32 = 5_000;
/// History shown on a user's page; the audit log has the rest.
pub const HISTORY_LIMIT: u32 = 20;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The list's parameters as a client sent them (query string or JSON API).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub q: Option<String>,
    /// `all`, `active` or `deactivated`.
    pub status: Option<String>,
    /// `all`, `scim` (Externally Managed) or `local`.
    pub source: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub limit: Option<String>,
}

/// One page of the list, with the cursors of its neighbours.
#[derive(Debug, Clone)]
pub struct UserList {
    pub users: Vec<UserRecord>,
    /// `after=` of the next page, if there is one.
    pub next_after: Option<i64>,
    /// `before=` of the previous page, if there is one.
    pub prev_before: Option<i64>,
    /// The search examined [`SCAN_LIMIT`] users in the direction of travel and stopped there
    /// before the page was full: more may match further on, and the cursor that way
    /// (`next_after` forward, `prev_before` backward) continues the search.
    pub partial: bool,
}

/// What a user's page shows.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: UserRecord,
    pub groups: Vec<UserGroup>,
    pub sessions: Vec<SessionRecord>,
    pub history: Vec<StoredAuditEvent>,
    /// `before_seq` of older history, if there is any.
    pub more_history: Option<i64>,
}

/// A change to a local user; `None` leaves a field as it is, an empty string removes it.
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Option<Vec<String>>,
    pub active: Option<bool>,
}

#[derive(Clone)]
pub struct LocalUserService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("there is no user {id} in this organization"))
}

pub fn parse_user_id(id: &str) -> Result<UserId, Error> {
    id.trim().parse().map_err(|_| not_found(id))
}

fn parse_seq(v: &str, what: &str) -> Result<i64, Error> {
    v.trim()
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 0)
        .ok_or_else(|| Error::invalid(format!("'{what}' must be a cursor from a previous page")))
}

fn blank_to_none(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListParams {
    /// The store query, or a clear refusal of the parameter that is wrong.
    pub fn to_query(&self) -> Result<UserListQuery, Error> {
        let prefix = match blank_to_none(&self.q) {
            Some(q) if q.chars().count() > MAX_SEARCH_CHARS => {
                return Err(Error::invalid(format!(
                    "the search is longer than {MAX_SEARCH_CHARS} characters"
                )))
            }
            Some(q) if q.chars().any(char::is_control) => {
                return Err(Error::invalid(
                    "the search may not contain control characters",
                ))
            }
            // Keyed as userNames are (NFC, lower-cased), so a decomposed accent finds its user.
            Some(q) => Some(crate::identity::user_name_key(q)),
            None => None,
        };
        let active = match blank_to_none(&self.status) {
            None | Some("all") => None,
            Some("active") => Some(true),
            Some("deactivated") => Some(false),
            Some(_) => return Err(Error::invalid("status must be all, active or deactivated")),
        };
        let managed_by = match blank_to_none(&self.source) {
            None | Some("all") => None,
            Some("scim") => Some(ManagedBy::Scim),
            Some("local") => Some(ManagedBy::Local),
            Some(_) => return Err(Error::invalid("source must be all, scim or local")),
        };
        let after_seq = blank_to_none(&self.after)
            .map(|v| parse_seq(v, "after"))
            .transpose()?;
        let before_seq = blank_to_none(&self.before)
            .map(|v| parse_seq(v, "before"))
            .transpose()?;
        if after_seq.is_some() && before_seq.is_some() {
            return Err(Error::invalid("give either 'after' or 'before', not both"));
        }
        let limit = match blank_to_none(&self.limit) {
            None => DEFAULT_PAGE,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=MAX_PAGE).contains(l))
                .ok_or_else(|| {
                    Error::invalid(format!("limit must be a number from 1 to {MAX_PAGE}"))
                })?,
        };
        Ok(UserListQuery {
            prefix,
            active,
            managed_by,
            after_seq,
            before_seq,
            limit,
            scan_limit: Some(SCAN_LIMIT),
        })
    }
}

/// Keeps only what a name field may hold: the identity rules (no controls, trimmed, NFC)
/// and at most [`MAX_NAME_CHARS`] characters.
fn clean_text(v: &str, what: &str) -> Result<String, Error> {
    let v = crate::identity::clean_text(v, what)?;
    if v.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(format!(
            "{what} must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(v)
}

fn clean_email(v: &str) -> Result<String, Error> {
    Ok(crate::identity::EmailAddress::parse(v)?.into_string())
}

fn set_or_remove(map: &mut Map<String, Value>, key: &str, v: String) {
    if v.is_empty() {
        map.remove(key);
    } else {
        map.insert(key.into(), Value::String(v));
    }
}

fn emails_value(emails: &[String]) -> Value {
    Value::Array(
        emails
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"value": e, "type": "work", "primary": i == 0}))
            .collect(),
    )
}

/// Validates an edit before it reaches the store.
fn clean_edit(edit: &UserEdit) -> Result<UserEdit, Error> {
    let emails = match &edit.emails {
        None => None,
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for e in list.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
                let e = clean_email(e)?;
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&e)) {
                    out.push(e);
                }
            }
            if out.len() > MAX_EMAILS {
                return Err(Error::invalid(format!(
                    "a user has at most {MAX_EMAILS} email addresses"
                )));
            }
            Some(out)
        }
    };
    Ok(UserEdit {
        display_name: edit
            .display_name
            .as_deref()
            .map(|v| clean_text(v, "displayName"))
            .transpose()?,
        given_name: edit
            .given_name
            .as_deref()
            .map(|v| clean_text(v, "name.givenName"))
            .transpose()?,
        family_name: edit
            .family_name
            .as_deref()
            .map(|v| clean_text(v, "name.familyName"))
            .transpose()?,
        emails,
        active: edit.active,
    })
}

/// The user's document with `edit` applied (the caller reindexes).
fn apply_edit(doc: &Value, edit: &UserEdit) -> Value {
    let mut map = match doc {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    if let Some(v) = &edit.display_name {
        set_or_remove(&mut map, "displayName", v.clone());
    }
    if edit.given_name.is_some() || edit.family_name.is_some() {
        let mut name = match map.get("name") {
            Some(Value::Object(n)) => n.clone(),
            _ => Map::new(),
        };
        if let Some(v) = &edit.given_name {
            set_or_remove(&mut name, "givenName", v.clone());
        }
        if let Some(v) = &edit.family_name {
            set_or_remove(&mut name, "familyName", v.clone());
        }
        // The formatted name would go stale; it is derived again from its parts.
        name.remove("formatted");
        if name.is_empty() {
            map.remove("name");
        } else {
            map.insert("name".into(), Value::Object(name));
        }
    }
    if let Some(emails) = &edit.emails {
        if emails.is_empty() {
            map.remove("emails");
        } else {
            map.insert("emails".into(), emails_value(emails));
        }
    }
    if let Some(active) = edit.active {
        map.insert("active".into(), Value::Bool(active));
    }
    Value::Object(map)
}

/// A given or family name from the stored document, for the edit form.
pub fn name_part(user: &UserRecord, part: &str) -> Option<String> {
    user.doc
        .get("name")
        .and_then(|n| n.get(part))
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl LocalUserService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, audit: AuditLog) -> Self {
        LocalUserService {
            store,
            clock,
            audit,
        }
    }

    async fn record(
        &self,
        org: OrgId,
        actor: &Actor,
        operation: &str,
        user: UserId,
        detail: String,
    ) {
        self.audit
            .record(AuditEvent {
                org_id: org,
                at: self.clock.now(),
                actor_kind: actor.kind().into(),
                actor_id: actor.id(),
                operation: operation.into(),
                resource_type: Some("User".into()),
                resource_id: Some(user.to_string()),
                status: 200,
                detail: Some(detail),
                request_id: None,
            })
            .await;
    }

    /// One page of the list. Costs O(page), whatever the filters: no offset, no filtered count.
    pub async fn list(&self, org: OrgId, params: &ListParams) -> Result<UserList, Error> {
        let mut q = params.to_query()?;
        let limit = q.limit as usize;
        q.limit += 1;
        let page = self.store.list_users_page(org, &q).await?;
        // Set only when the page is not full: the search continues past it.
        let searched_to = page.searched_to;
        let mut rows = page.rows;
        let (mut next_after, mut prev_before) = (None, None);
        if q.before_seq.is_some() {
            if rows.len() > limit {
                rows.remove(0);
                prev_before = rows.first().map(|r| r.0);
            } else if let Some(h) = searched_to {
                prev_before = Some(h);
            }
            next_after = rows.last().map(|r| r.0).or(q.before_seq.map(|s| s - 1));
        } else {
            if rows.len() > limit {
                rows.truncate(limit);
                next_after = rows.last().map(|r| r.0);
            } else if let Some(h) = searched_to {
                next_after = Some(h);
            }
            if q.after_seq.is_some() {
                prev_before = rows.first().map(|r| r.0).or(q.after_seq.map(|s| s + 1));
            }
        }
        Ok(UserList {
            users: rows.into_iter().map(|r| r.1).collect(),
            next_after,
            prev_before,
            partial: searched_to.is_some(),
        })
    }

    pub async fn get(&self, org: OrgId, id: &str) -> Result<UserRecord, Error> {
        let uid = parse_user_id(id)?;
        self.store
            .get_user(org, uid)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The user's page; `history_before` pages back through their history.
    pub async fn detail(
        &self,
        org: OrgId,
        id: &str,
        history_before: Option<i64>,
    ) -> Result<UserDetail, Error> {
        let uid = parse_user_id(id)?;
        let (user, groups) = self
            .store
            .get_user_with_groups(org, uid, true)
            .await?
            .ok_or_else(|| not_found(id))?;
        let sessions = self.store.user_sessions(org, uid).await?;
        self.audit.flush().await;
        let mut history = self
            .store
            .list_audit(
                org,
                &AuditQuery {
                    resource_id: Some(uid.to_string()),
                    before_seq: history_before,
                    limit: HISTORY_LIMIT + 1,
                    ..AuditQuery::default()
                },
            )
            .await?;
        let more_history = if history.len() > HISTORY_LIMIT as usize {
            history.truncate(HISTORY_LIMIT as usize);
            history.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(UserDetail {
            user,
            groups,
            sessions,
            history,
            more_history,
        })
    }

    /// A local user (`managed_by = local`). The userName is unique case-insensitively.
    pub async fn create(
        &self,
        org: OrgId,
        user_name: &str,
        display_name: Option<&str>,
        email: Option<&str>,
        actor: &Actor,
    ) -> Result<UserRecord, Error> {
        if user_name.trim().is_empty() {
            return Err(Error::invalid(
                "give the user a userName, such as jane@example.com",
            ));
        }
        let user_name = clean_text(user_name, "userName")?;
        let user_name = crate::identity::clean_user_name(&user_name)?;
        let mut doc = Map::new();
        doc.insert("schemas".into(), json!([USER_SCHEMA]));
        doc.insert("userName".into(), Value::String(user_name.clone()));
        if let Some(d) = display_name {
            set_or_remove(&mut doc, "displayName", clean_text(d, "displayName")?);
        }
        if let Some(e) = email.map(str::trim).filter(|e| !e.is_empty()) {
            doc.insert("emails".into(), emails_value(&[clean_email(e)?]));
        }
        doc.insert("active".into(), Value::Bool(true));
        let now = self.clock.now();
        let mut user = UserRecord {
            id: UserId::new_random(),
            org_id: org,
            user_name: String::new(),
            external_id: None,
            display_name: None,
            active: true,
            emails: Vec::new(),
            doc: crate::identity::clean_user_document(Value::Object(doc))?,
            managed_by: ManagedBy::Local,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        user.reindex();
        self.store.insert_user(&user).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::conflict(format!(
                "the userName '{user_name}' is already taken in this organization (userNames are compared without regard to case)"
            )),
            other => Error::from(other),
        })?;
        self.record(
            org,
            actor,
            "console.user.create",
            user.id,
            format!("local user {}", user.user_name),
        )
        .await;
        Ok(user)
    }

    /// Changes a local user; an Externally Managed one is refused with [`MANAGED_BY_IDP`].
    /// Deactivating ends the user's sessions, as a SCIM deactivation does.
    pub async fn update(
        &self,
        org: OrgId,
        id: &str,
        edit: &UserEdit,
        actor: &Actor,
    ) -> Result<UserRecord, Error> {
        let uid = parse_user_id(id)?;
        let edit = clean_edit(edit)?;
        let now = self.clock.now();
        let change = edit.clone();
        let next = self
            .store
            .modify_user(
                org,
                uid,
                Box::new(move |current: &UserRecord| {
                    if current.managed_by == ManagedBy::Scim {
                        return Err(Error::conflict(MANAGED_BY_IDP));
                    }
                    let mut next = current.clone();
                    next.doc =
                        crate::identity::clean_user_document(apply_edit(&current.doc, &change))?;
                    next.reindex();
                    next.version = current.version + 1;
                    next.updated_at = now.max(current.updated_at);
                    Ok(next)
                }),
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found(id),
                other => Error::from(other),
            })?;
        let operation = match edit.active {
            Some(false) => "console.user.deactivate",
            Some(true) => "console.user.reactivate",
            None => "console.user.update",
        };
        if !next.active {
            self.end_all_sessions_quietly(org, uid).await;
        }
        self.record(
            org,
            actor,
            operation,
            uid,
            format!("user {}", next.user_name),
        )
        .await;
        Ok(next)
    }

    /// A deactivated user is signed out at once. Should this fail, session lookup still
    /// refuses an inactive user, so it is logged, not returned.
    async fn end_all_sessions_quietly(&self, org: OrgId, user: UserId) {
        if let Err(e) = self.store.delete_user_sessions(org, user).await {
            tracing::error!(error = %e, %user, "could not end the sessions of a deactivated user");
        }
    }

    /// Ends one of the user's sessions, named by its stored hash; another user's is a 404.
    pub async fn end_session(
        &self,
        org: OrgId,
        id: &str,
        session: &str,
        actor: &Actor,
    ) -> Result<(), Error> {
        let user = self.get(org, id).await?;
        let sessions = self.store.user_sessions(org, user.id).await?;
        if !sessions.iter().any(|s| s.id_hash == session) {
            return Err(Error::not_found(
                "this user has no such session; it may have ended already",
            ));
        }
        self.store.delete_session(session).await?;
        self.record(
            org,
            actor,
            "console.user.end_session",
            user.id,
            "one session ended".into(),
        )
        .await;
        Ok(())
    }

    /// Ends every session of the user; returns how many there were.
    pub async fn end_all_sessions(
        &self,
        org: OrgId,
        id: &str,
        actor: &Actor,
    ) -> Result<u64, Error> {
        let user = self.get(org, id).await?;
        let n = self.store.delete_user_sessions(org, user.id).await?;
        self.record(
            org,
            actor,
            "console.user.end_sessions",
            user.id,
            format!("{n} sessions ended"),
        )
        .await;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str, status: &str, source: &str) -> ListParams {
        ListParams {
            q: Some(q.into()),
            status: Some(status.into()),
            source: Some(source.into()),
            ..Default::default()
        }
    }

    #[test]
    fn list_parameters() {
        let q = params(" Ann ", "active", "scim").to_query().unwrap();
        assert_eq!(q.prefix.as_deref(), Some("ann"));
        assert_eq!(q.active, Some(true));
        assert_eq!(q.managed_by, Some(ManagedBy::Scim));
        assert_eq!(q.limit, DEFAULT_PAGE);
        let q = params("", "all", "").to_query().unwrap();
        assert_eq!((q.prefix, q.active, q.managed_by), (None, None, None));
        assert!(params("", "gone", "").to_query().is_err());
        assert!(params("a\u{0}b", "", "").to_query().is_err());
        assert!(params("", "", "ldap").to_query().is_err());
        assert!(params(&"x".repeat(MAX_SEARCH_CHARS + 1), "", "")
            .to_query()
            .is_err());
        for bad in ["-1", "x", "1e9"] {
            let p = ListParams {
                after: Some(bad.into()),
                ..Default::default()
            };
            assert!(p.to_query().is_err(), "{bad}");
        }
        let p = ListParams {
            limit: Some("500".into()),
            ..Default::default()
        };
        assert!(p.to_query().is_err());
    }

    #[test]
    fn edits_keep_the_rest_of_the_document() {
        let doc =
            json!({"userName": "a", "name": {"givenName": "A", "formatted": "A B"}, "title": "x"});
        let edit = clean_edit(&UserEdit {
            display_name: Some(" Ann ".into()),
            family_name: Some("Bee".into()),
            emails: Some(vec!["a@x.com".into(), "A@X.com".into(), " ".into()]),
            ..Default::default()
        })
        .unwrap();
        let out = apply_edit(&doc, &edit);
        assert_eq!(out["displayName"], "Ann");
        assert_eq!(out["name"], json!({"givenName": "A", "familyName": "Bee"}));
        assert_eq!(out["emails"].as_array().unwrap().len(), 1);
        assert_eq!(out["title"], "x");
        assert!(clean_edit(&UserEdit {
            emails: Some(vec!["not-an-email".into()]),
            ..Default::default()
        })
        .is_err());
    }
}
