//! SCIM operations on the directory: what the `/scim/v2` handlers call.
//!
//! The organization comes from the bearer token; every rule of the directory that SCIM is
//! subject to is applied here (email domains, Externally Managed marking and take-over,
//! SCIM seeing only SCIM-managed groups, version checks) so handlers stay thin.

use crate::admin::store_err;
use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::{Error, ErrorKind};
use crate::ids::{GroupId, OrgId, UserId};
use crate::model::{
    AuditEvent, GroupRecord, ManagedBy, Member, MembershipChange, Page, ScimTokenRecord, UserRecord,
};
use crate::query::{Cmp, IndexKey, SortKey, StoreQuery};
use crate::store::{Store, StoreError};
use crate::token::{self, email_domain};
use crate::token_cache::TokenCache;
use scim::filter::{CompValue, CompareOp, Filter};
use scim::path::AttrPath;
use scim::projection::Projection;
use scim::schema::ResourceKind;
use scim::{urn, ScimError, ScimType};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Limits the service enforces and advertises in `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_results: u64,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_results: 1000,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1_048_576,
        }
    }
}

/// The authenticated caller of a SCIM request.
#[derive(Debug, Clone)]
pub struct ScimCaller {
    pub org: OrgId,
    pub token: ScimTokenRecord,
    pub request_id: Option<String>,
}

/// Query parameters of a list or search request, already read from the URL or body.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// What a write answers: the resource body (when wanted) and its ETag.
#[derive(Debug, Clone)]
pub struct Written {
    pub body: Option<Value>,
    pub etag: String,
    pub location: String,
}

impl Written {
    /// The id of the written resource: the last segment of its location.
    pub fn id(&self) -> String {
        self.location
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// How often `last_used_at` is written for a busy token: a write per request would double
/// the write load for nothing an admin can see.
const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(Clone)]
pub struct ScimService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    /// The SCIM root URL, e.g. `https://id.example.com/scim/v2`.
    base_url: Arc<str>,
    limits: Limits,
    tokens: Arc<TokenCache>,
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl ScimService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        base_url: &str,
        limits: Limits,
        tokens: Arc<TokenCache>,
    ) -> Self {
        ScimService {
            store,
            clock,
            audit,
            base_url: base_url.trim_end_matches('/').into(),
            limits,
            tokens,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Finds the live token a bearer secret names. Revocation is seen on the next request:
    /// the token row is read every time.
    pub async fn authenticate(&self, bearer: &str) -> Result<ScimTokenRecord, Error> {
        let unauthenticated = |detail: &str| Error::new(ErrorKind::Unauthenticated, detail);
        let hash = token::hash_secret(bearer);
        let cached = self.tokens.get(&hash);
        let fresh = cached.is_none();
        let found = match cached {
            Some(t) => Some(t),
            None => self.store.token_by_hash(&hash).await.map_err(store_err)?,
        };
        let found = found
            .filter(|t| token::hash_matches(&t.hash, bearer))
            .ok_or_else(|| {
                unauthenticated("the bearer token is not a Portcullis SCIM token; generate one with `portcullis token create` and paste it into your IdP")
            })?;
        if found.revoked_at.is_some() {
            return Err(unauthenticated(
                "this SCIM token was revoked; generate a new one and update your IdP",
            ));
        }
        let now = self.clock.now();
        // Only a token just read from the store carries a current last_used_at.
        if fresh && found.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            let store = self.store.clone();
            let (org, id) = (found.org_id, found.id);
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(org, id, now).await {
                    tracing::warn!(error = %e, "could not record token use");
                }
            });
        }
        if fresh {
            let mut cached = found.clone();
            cached.last_used_at = Some(now);
            self.tokens.put(cached);
        }
        Ok(found)
    }

    async fn audit(
        &self,
        caller: &ScimCaller,
        operation: &str,
        resource_type: &str,
        resource_id: Option<String>,
        outcome: &Result<(), &Error>,
    ) {
        let (status, detail) = match outcome {
            Ok(()) => (200, None),
            Err(e) => (e.status(), Some(e.detail.clone())),
        };
        self.audit
            .record(AuditEvent {
                org_id: caller.org,
                at: self.clock.now(),
                actor_kind: "scim_token".into(),
                actor_id: Some(caller.token.id.to_string()),
                operation: operation.into(),
                resource_type: Some(resource_type.into()),
                resource_id,
                status,
                detail,
                request_id: caller.request_id.clone(),
            })
            .await;
    }

    async fn audited<T>(
        &self,
        caller: &ScimCaller,
        operation: &str,
        resource_type: &str,
        resource_id: Option<String>,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        self.audit(
            caller,
            operation,
            resource_type,
            resource_id,
            &result.as_ref().map(|_| ()),
        )
        .await;
        result
    }

    // ---------------------------------------------------------------- rendering

    fn user_location(&self, id: UserId) -> String {
        format!("{}/Users/{id}", self.base_url)
    }

    fn group_location(&self, id: GroupId) -> String {
        format!("{}/Groups/{id}", self.base_url)
    }

    fn meta(
        &self,
        kind: &str,
        location: String,
        created: OffsetDateTime,
        updated: OffsetDateTime,
        version: i64,
    ) -> Value {
        json!({
            "resourceType": kind,
            "created": rfc3339(created),
            "lastModified": rfc3339(updated),
            "location": location,
            "version": etag(version),
        })
    }

    /// The full SCIM JSON of a user, before projection. `groups` is filled when given.
    fn render_user(&self, user: &UserRecord, groups: Option<&[(GroupId, String, bool)]>) -> Value {
        let mut out = Map::new();
        let mut schemas = vec![Value::from(urn::USER)];
        if user.doc.get(urn::ENTERPRISE_USER).is_some() {
            schemas.push(Value::from(urn::ENTERPRISE_USER));
        }
        out.insert("schemas".into(), Value::Array(schemas));
        out.insert("id".into(), Value::from(user.id.to_string()));
        if let Value::Object(doc) = &user.doc {
            for (k, v) in doc {
                if k != "schemas" {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        // `active` is shown as stored: a client that removed it sees it unassigned (RFC 7644
        // §3.5.2.2), which counts as active. A user locked out some other way still shows false.
        if !out.contains_key("active") && !user.active {
            out.insert("active".into(), Value::Bool(false));
        }
        if let Some(groups) = groups {
            let list: Vec<Value> = groups
                .iter()
                .filter(|(_, _, visible)| *visible)
                .map(|(id, name, _)| {
                    json!({"value": id.to_string(), "$ref": self.group_location(*id), "display": name, "type": "direct"})
                })
                .collect();
            if !list.is_empty() {
                out.insert("groups".into(), Value::Array(list));
            }
        }
        out.insert(
            "meta".into(),
            self.meta(
                "User",
                self.user_location(user.id),
                user.created_at,
                user.updated_at,
                user.version,
            ),
        );
        Value::Object(out)
    }

    fn render_group(&self, group: &GroupRecord, members: Option<&[Member]>) -> Value {
        let mut out = Map::new();
        out.insert("schemas".into(), json!([urn::GROUP]));
        out.insert("id".into(), Value::from(group.id.to_string()));
        if let Value::Object(doc) = &group.doc {
            for (k, v) in doc {
                if k != "schemas" && k != "members" {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(members) = members {
            let list: Vec<Value> = members
                .iter()
                .map(|m| {
                    let reference = match m.kind {
                        crate::model::MemberKind::User => {
                            format!("{}/Users/{}", self.base_url, m.id)
                        }
                        crate::model::MemberKind::Group => {
                            format!("{}/Groups/{}", self.base_url, m.id)
                        }
                    };
                    let mut o = json!({"value": m.id, "$ref": reference, "type": m.kind.as_str()});
                    if let Some(d) = &m.display {
                        o["display"] = Value::from(d.as_str());
                    }
                    o
                })
                .collect();
            out.insert("members".into(), Value::Array(list));
        }
        out.insert(
            "meta".into(),
            self.meta(
                "Group",
                self.group_location(group.id),
                group.created_at,
                group.updated_at,
                group.version,
            ),
        );
        Value::Object(out)
    }

    async fn user_json(
        &self,
        org: OrgId,
        user: &UserRecord,
        projection: &Projection,
    ) -> Result<Value, Error> {
        let groups = if projection.wants(ResourceKind::User, "groups") {
            Some(
                self.store
                    .user_groups(org, user.id)
                    .await
                    .map_err(store_err)?,
            )
        } else {
            None
        };
        let mut v = self.render_user(user, groups.as_deref());
        projection.apply(ResourceKind::User, &mut v);
        Ok(v)
    }

    async fn group_json(
        &self,
        org: OrgId,
        group: &GroupRecord,
        projection: &Projection,
    ) -> Result<Value, Error> {
        let members = if projection.wants(ResourceKind::Group, "members") {
            Some(
                self.store
                    .group_members(org, group.id)
                    .await
                    .map_err(store_err)?,
            )
        } else {
            None
        };
        let mut v = self.render_group(group, members.as_deref());
        projection.apply(ResourceKind::Group, &mut v);
        Ok(v)
    }

    // ---------------------------------------------------------------- rules

    /// The email-domain rule: the user's identity email (userName when it is an email,
    /// else the primary email) must be in one of the token's domains.
    fn check_domains(token: &ScimTokenRecord, doc: &Value) -> Result<(), Error> {
        if token.domains.allows_any() {
            return Ok(());
        }
        let ix = scim::resource::user_index(doc);
        let identity = if email_domain(&ix.user_name).is_some() {
            Some(ix.user_name.clone())
        } else {
            ix.primary_email
                .clone()
                .or_else(|| ix.emails.first().cloned())
        };
        let forbidden = |detail: String| Error::new(ErrorKind::Forbidden, detail);
        match identity {
            Some(email) if token.domains.allows_email(&email) => Ok(()),
            Some(email) => Err(forbidden(format!(
                "email domain {} is not allowed for token {}: it may provision only {}. Add the domain to the token (`portcullis token domains`) or use another token",
                email_domain(&email).unwrap_or_else(|| email.clone()),
                token.name,
                token.domains
            ))),
            None => Err(forbidden(format!(
                "userName '{}' is not an email address and the user has no email, so its domain cannot be checked; token {} may provision only {}",
                ix.user_name, token.name, token.domains
            ))),
        }
    }

    fn parse_user_id(id: &str) -> Result<UserId, Error> {
        id.parse()
            .map_err(|_| Error::not_found(format!("no User with id {id}")))
    }

    fn parse_group_id(id: &str) -> Result<GroupId, Error> {
        id.parse()
            .map_err(|_| Error::not_found(format!("no Group with id {id}")))
    }

    async fn load_user(&self, org: OrgId, id: &str) -> Result<UserRecord, Error> {
        let uid = Self::parse_user_id(id)?;
        self.store
            .get_user(org, uid)
            .await
            .map_err(store_err)?
            .ok_or_else(|| Error::not_found(format!("no User with id {id}")))
    }

    /// SCIM sees only SCIM-visible groups: any other group answers 404, as if absent.
    async fn load_group(&self, org: OrgId, id: &str) -> Result<GroupRecord, Error> {
        let gid = Self::parse_group_id(id)?;
        self.store
            .get_group(org, gid)
            .await
            .map_err(store_err)?
            .filter(|g| g.scim_visible)
            .ok_or_else(|| Error::not_found(format!("no Group with id {id}")))
    }

    fn user_conflict(user_name: &str) -> Error {
        Error::conflict(format!(
            "a user with userName '{user_name}' already exists in this organization (userName is unique, ignoring case); find it with filter userName eq \"{user_name}\""
        ))
        .with_scim_type(ScimType::Uniqueness)
    }

    fn write_err(e: StoreError, what: &str) -> Error {
        match e {
            StoreError::Conflict(_) => Self::user_conflict(what),
            other => store_err(other),
        }
    }

    fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), Error> {
        if let Some(expected) = if_match {
            let current = etag(version);
            let ok = expected.split(',').map(str::trim).any(|t| {
                t == "*"
                    || t == current
                    || t.trim_start_matches("W/") == current.trim_start_matches("W/")
            });
            if !ok {
                return Err(Error::new(
                    ErrorKind::PreconditionFailed,
                    format!("the resource is at version {current}, not {expected}; read it again and retry"),
                ));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- users

    pub async fn create_user(
        &self,
        caller: &ScimCaller,
        body: &Value,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let result = self.create_user_inner(caller, body, projection).await;
        let id = result.as_ref().ok().map(Written::id);
        self.audited(caller, "scim.user.create", "User", id, result)
            .await
    }

    async fn create_user_inner(
        &self,
        caller: &ScimCaller,
        body: &Value,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let mut doc = scim::resource::normalize(ResourceKind::User, body)?;
        Self::check_domains(&caller.token, &doc)?;
        // A new user is active unless the client says otherwise; the default is written down
        // so that it is returned like any other value.
        if let Value::Object(map) = &mut doc {
            map.entry("active").or_insert(Value::Bool(true));
        }
        let now = self.clock.now();
        let mut user = UserRecord {
            id: UserId::new_random(),
            org_id: caller.org,
            user_name: String::new(),
            external_id: None,
            display_name: None,
            active: true,
            emails: Vec::new(),
            doc,
            managed_by: ManagedBy::Scim,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        user.reindex();
        self.store
            .insert_user(&user)
            .await
            .map_err(|e| Self::write_err(e, &user.user_name))?;
        // A new user belongs to no group yet: no need to ask the store.
        let mut body = self.render_user(&user, None);
        projection.apply(ResourceKind::User, &mut body);
        Ok(Written {
            body: Some(body),
            etag: etag(user.version),
            location: self.user_location(user.id),
        })
    }

    pub async fn get_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        projection: &Projection,
    ) -> Result<(Value, String), Error> {
        let uid = Self::parse_user_id(id)?;
        let (user, groups) = self
            .store
            .get_user_with_groups(
                caller.org,
                uid,
                projection.wants(ResourceKind::User, "groups"),
            )
            .await
            .map_err(store_err)?
            .ok_or_else(|| Error::not_found(format!("no User with id {id}")))?;
        let mut body = self.render_user(&user, Some(&groups));
        projection.apply(ResourceKind::User, &mut body);
        Ok((body, etag(user.version)))
    }

    /// The SCIM resource of a signed-in user (`/Me` with a session): their organization's
    /// view of them, groups included.
    pub async fn user_for_session(&self, org: OrgId, id: UserId) -> Result<(Value, String), Error> {
        let (user, groups) = self
            .store
            .get_user_with_groups(org, id, true)
            .await
            .map_err(store_err)?
            .ok_or_else(|| Error::not_found("the signed-in user no longer exists"))?;
        Ok((self.render_user(&user, Some(&groups)), etag(user.version)))
    }

    /// Current ETag of a user (for If-None-Match without building the body).
    pub async fn user_etag(&self, caller: &ScimCaller, id: &str) -> Result<String, Error> {
        Ok(etag(self.load_user(caller.org, id).await?.version))
    }

    pub async fn group_etag(&self, caller: &ScimCaller, id: &str) -> Result<String, Error> {
        Ok(etag(self.load_group(caller.org, id).await?.version))
    }

    pub async fn replace_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let result = async {
            let doc = scim::resource::normalize(ResourceKind::User, body)?;
            Self::check_domains(&caller.token, &doc)?;
            self.write_user(caller, id, if_match, projection, move |_| Ok(doc))
                .await
        }
        .await;
        self.audited(
            caller,
            "scim.user.replace",
            "User",
            Some(id.to_string()),
            result,
        )
        .await
    }

    pub async fn patch_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let result = async {
            let ops = scim::patch::parse_patch_request(body)?;
            let token = caller.token.clone();
            self.write_user(caller, id, if_match, projection, move |current| {
                let mut doc = current.clone();
                scim::patch::apply(ResourceKind::User, &mut doc, &ops)?;
                let doc = revalidate(ResourceKind::User, doc)?;
                let before = scim::resource::user_index(current);
                let after = scim::resource::user_index(&doc);
                // The domain rule applies on every change of userName or email.
                if before.user_name != after.user_name
                    || before.emails != after.emails
                    || before.primary_email != after.primary_email
                {
                    Self::check_domains(&token, &doc)?;
                }
                Ok(doc)
            })
            .await
        }
        .await;
        self.audited(
            caller,
            "scim.user.patch",
            "User",
            Some(id.to_string()),
            result,
        )
        .await
    }

    /// Read-modify-write of a user with optimistic concurrency. The first SCIM write to a
    /// local user takes it over (it becomes Externally Managed).
    async fn write_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
        projection: &Projection,
        change: impl FnOnce(&Value) -> Result<Value, Error> + Send + 'static,
    ) -> Result<Written, Error> {
        let uid = Self::parse_user_id(id)?;
        let now = self.clock.now();
        let if_match = if_match.map(str::to_owned);
        // The userName the change tried, to name it if it collides.
        let attempted = Arc::new(std::sync::Mutex::new(String::new()));
        let attempted_in = Arc::clone(&attempted);
        // The store runs this with the row held, so concurrent writes queue, never fail.
        let next = self
            .store
            .modify_user(
                caller.org,
                uid,
                Box::new(move |current: &UserRecord| {
                    Self::check_if_match(if_match.as_deref(), current.version)?;
                    let mut next = current.clone();
                    next.doc = change(&current.doc)?;
                    next.reindex();
                    next.managed_by = ManagedBy::Scim;
                    next.version = current.version + 1;
                    next.updated_at = now.max(current.updated_at);
                    if let Ok(mut name) = attempted_in.lock() {
                        name.clone_from(&next.user_name);
                    }
                    Ok(next)
                }),
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::not_found(format!("no User with id {id}")),
                StoreError::Conflict(_) => {
                    Self::user_conflict(&attempted.lock().map(|n| n.clone()).unwrap_or_default())
                }
                other => store_err(other),
            })?;
        if !next.active {
            self.end_sessions(caller.org, next.id).await;
        }
        let body = self.user_json(caller.org, &next, projection).await?;
        Ok(Written {
            body: Some(body),
            etag: etag(next.version),
            location: self.user_location(next.id),
        })
    }

    /// A deactivated or deleted user is signed out at once. Should this fail, session lookup
    /// still refuses an inactive or missing user, so it is logged, not returned.
    async fn end_sessions(&self, org: OrgId, user: UserId) {
        if let Err(e) = self.store.delete_user_sessions(org, user).await {
            tracing::error!(error = %e, %user, "could not end the sessions of a deactivated user");
        }
        // Console sessions opened through SAML too (the session lookup checks the admin
        // role as well, so a failure here is logged, not returned, for the same reason).
        if let Err(e) = self.store.delete_user_console_sessions(org, user).await {
            tracing::error!(error = %e, %user, "could not end the console sessions of a deactivated user");
        }
    }

    pub async fn delete_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let result = async {
            let user = self.load_user(caller.org, id).await?;
            Self::check_if_match(if_match, user.version)?;
            self.store
                .delete_user(caller.org, user.id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => Error::not_found(format!("no User with id {id}")),
                    other => store_err(other),
                })?;
            self.end_sessions(caller.org, user.id).await;
            Ok(())
        }
        .await;
        self.audited(
            caller,
            "scim.user.delete",
            "User",
            Some(id.to_string()),
            result,
        )
        .await
    }

    // ---------------------------------------------------------------- groups

    pub async fn create_group(
        &self,
        caller: &ScimCaller,
        body: &Value,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let result = self.create_group_inner(caller, body, projection).await;
        let id = result.as_ref().ok().map(Written::id);
        self.audited(caller, "scim.group.create", "Group", id, result)
            .await
    }

    async fn create_group_inner(
        &self,
        caller: &ScimCaller,
        body: &Value,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let mut doc = scim::resource::normalize(ResourceKind::Group, body)?;
        let members = take_member_ids(&mut doc)?;
        let now = self.clock.now();
        let mut group = GroupRecord {
            id: GroupId::new_random(),
            org_id: caller.org,
            display_name: String::new(),
            external_id: None,
            doc,
            managed_by: ManagedBy::Scim,
            scim_visible: true,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        group.reindex();
        let mut members = members;
        loop {
            match self.store.insert_group(&group, &members).await {
                Ok(()) => break,
                // Members that name no user or group of the organization are left out, as a
                // PATCH or PUT does: all of them at once, then (should one vanish meanwhile)
                // one per retry, so this ends.
                Err(StoreError::UnknownMember(m)) if members.contains(&m) => {
                    tracing::info!(member = %m, "leaving out members that are no user or group of the organization");
                    let known = self
                        .store
                        .known_members(caller.org, &members)
                        .await
                        .map_err(store_err)?;
                    members.retain(|x| *x != m && known.contains(x));
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::conflict(format!(
                        "a group named '{}' already exists in this organization",
                        group.display_name
                    ))
                    .with_scim_type(ScimType::Uniqueness))
                }
                Err(other) => return Err(store_err(other)),
            }
        }
        let body = self.group_json(caller.org, &group, projection).await?;
        Ok(Written {
            body: Some(body),
            etag: etag(group.version),
            location: self.group_location(group.id),
        })
    }

    pub async fn get_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        projection: &Projection,
    ) -> Result<(Value, String), Error> {
        let group = self.load_group(caller.org, id).await?;
        let body = self.group_json(caller.org, &group, projection).await?;
        Ok((body, etag(group.version)))
    }

    pub async fn replace_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
    ) -> Result<Written, Error> {
        let result = async {
            let mut doc = scim::resource::normalize(ResourceKind::Group, body)?;
            let members = take_member_ids(&mut doc)?;
            let changes = vec![MembershipChange::RemoveAll, MembershipChange::Add(members)];
            self.write_group(caller, id, if_match, move |_| {
                Ok((doc.clone(), changes.clone()))
            })
            .await
        }
        .await;
        let result = match result {
            Ok(group) => self
                .group_json(caller.org, &group, projection)
                .await
                .map(|body| Written {
                    body: Some(body),
                    etag: etag(group.version),
                    location: self.group_location(group.id),
                }),
            Err(e) => Err(e),
        };
        self.audited(
            caller,
            "scim.group.replace",
            "Group",
            Some(id.to_string()),
            result,
        )
        .await
    }

    /// PATCH a group. Membership changes go straight to the member table, so the cost is
    /// O(changed members). The body is only built when `want_body` (the client asked for
    /// attributes): serializing a large group on every PATCH is what other servers get wrong.
    pub async fn patch_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: &Projection,
        want_body: bool,
    ) -> Result<Written, Error> {
        let result = async {
            let ops = scim::patch::parse_patch_request(body)?;
            let group = self
                .write_group(caller, id, if_match, move |current| {
                    let mut doc = current.clone();
                    let changes = scim::patch::apply(ResourceKind::Group, &mut doc, &ops)?;
                    let doc = revalidate(ResourceKind::Group, doc)?;
                    let mut out = Vec::with_capacity(changes.len());
                    for c in changes {
                        match c {
                            scim::patch::MemberChange::Add(ids) => {
                                out.push(MembershipChange::Add(ids))
                            }
                            scim::patch::MemberChange::Remove(ids) => {
                                out.push(MembershipChange::Remove(ids))
                            }
                            scim::patch::MemberChange::RemoveAll => {
                                out.push(MembershipChange::RemoveAll)
                            }
                            scim::patch::MemberChange::ReplaceAll(ids) => {
                                out.push(MembershipChange::RemoveAll);
                                out.push(MembershipChange::Add(ids));
                            }
                        }
                    }
                    Ok((doc, out))
                })
                .await?;
            let body = if want_body {
                Some(self.group_json(caller.org, &group, projection).await?)
            } else {
                None
            };
            Ok(Written {
                body,
                etag: etag(group.version),
                location: self.group_location(group.id),
            })
        }
        .await;
        self.audited(
            caller,
            "scim.group.patch",
            "Group",
            Some(id.to_string()),
            result,
        )
        .await
    }

    async fn write_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
        change: impl Fn(&Value) -> Result<(Value, Vec<MembershipChange>), Error> + Send + Sync + 'static,
    ) -> Result<GroupRecord, Error> {
        let gid = Self::parse_group_id(id)?;
        let now = self.clock.now();
        let change = Arc::new(change);
        let if_match = if_match.map(str::to_owned);
        let mut unknown: Vec<String> = Vec::new();
        // The member ids the last attempt tried to add, to look them all up at once.
        let added = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        // Each round drops the member ids that name nothing; the store holds the group row
        // during a round, so concurrent changes queue instead of failing.
        loop {
            let (change, if_match, added_in, gone) = (
                Arc::clone(&change),
                if_match.clone(),
                Arc::clone(&added),
                unknown.clone(),
            );
            let id_in = id.to_string();
            let result = self
                .store
                .modify_group(
                    caller.org,
                    gid,
                    Box::new(move |current: &GroupRecord| {
                        if !current.scim_visible {
                            return Err(Error::not_found(format!("no Group with id {id_in}")));
                        }
                        Self::check_if_match(if_match.as_deref(), current.version)?;
                        let (doc, mut changes) = change(&current.doc)?;
                        // A member id that names no user or group of the organization (not
                        // even a well-formed id) cannot be a member: adding it is a no-op,
                        // like removing it.
                        drop_members(&mut changes, |m| {
                            m.parse::<uuid::Uuid>().is_err() || gone.iter().any(|u| u == m)
                        });
                        if let Ok(mut added) = added_in.lock() {
                            added.clear();
                            for c in &changes {
                                if let MembershipChange::Add(ids) = c {
                                    added.extend(ids.iter().cloned());
                                }
                            }
                        }
                        let mut next = current.clone();
                        next.doc = doc;
                        next.reindex();
                        next.managed_by = ManagedBy::Scim;
                        next.version = current.version + 1;
                        next.updated_at = now.max(current.updated_at);
                        Ok((next, changes))
                    }),
                )
                .await;
            match result {
                Ok(next) => return Ok(next),
                Err(StoreError::NotFound) => {
                    return Err(Error::not_found(format!("no Group with id {id}")))
                }
                Err(StoreError::UnknownMember(m)) if !unknown.contains(&m) => {
                    tracing::info!(group = %id, member = %m, "leaving out members that are no user or group of the organization");
                    let tried = added.lock().map(|a| a.clone()).unwrap_or_default();
                    let known = self
                        .store
                        .known_members(caller.org, &tried)
                        .await
                        .map_err(store_err)?;
                    unknown.extend(tried.into_iter().filter(|t| !known.contains(t)));
                    if !unknown.contains(&m) {
                        unknown.push(m);
                    }
                }
                Err(StoreError::UnknownMember(m)) => {
                    return Err(Error::invalid(format!(
                        "member {m} is not a user of this organization"
                    ))
                    .with_scim_type(ScimType::InvalidValue))
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::conflict(
                        "a group with that displayName already exists in this organization",
                    )
                    .with_scim_type(ScimType::Uniqueness))
                }
                Err(e) => return Err(store_err(e)),
            }
        }
    }

    pub async fn delete_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), Error> {
        let result = async {
            let group = self.load_group(caller.org, id).await?;
            Self::check_if_match(if_match, group.version)?;
            self.store
                .delete_group(caller.org, group.id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => Error::not_found(format!("no Group with id {id}")),
                    other => store_err(other),
                })
        }
        .await;
        self.audited(
            caller,
            "scim.group.delete",
            "Group",
            Some(id.to_string()),
            result,
        )
        .await
    }

    // ---------------------------------------------------------------- lists

    pub async fn list(
        &self,
        caller: &ScimCaller,
        kind: ResourceKind,
        params: &ListParams,
    ) -> Result<Value, Error> {
        let projection = Projection::parse(
            kind,
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        )?;
        let filter = match params.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => Some(scim::filter::parse_filter_for(kind, f)?),
            _ => None,
        };
        let start_index = params.start_index.unwrap_or(1).max(1) as u64;
        let count = params
            .count
            .unwrap_or(self.limits.max_results as i64)
            .clamp(0, self.limits.max_results as i64) as u64;
        let sort = match params.sort_by.as_deref() {
            Some(s) if !s.trim().is_empty() => {
                Some(scim::path::parse_attr_path(s.trim()).map_err(|e| {
                    Error::invalid(format!("sortBy: {}", e.detail))
                        .with_scim_type(ScimType::InvalidValue)
                })?)
            }
            _ => None,
        };
        let descending = match params
            .sort_order
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "sortOrder must be ascending or descending, not '{other}'"
                ))
                .with_scim_type(ScimType::InvalidValue))
            }
        };

        let plan = plan_query(kind, filter.as_ref());
        let sort_key = sort.as_ref().map(|p| sort_column(kind, p));
        // The whole request can be answered by the store when the filter is one indexed
        // term (or none) and the sort is on a column.
        let store_pages = plan.exact && sort_key.as_ref().is_none_or(|s| s.is_some());
        let sort_col = sort_key.flatten().unwrap_or(SortKey::Seq);

        let (total, resources) = if store_pages {
            let q = StoreQuery {
                key: plan.key.clone(),
                sort: sort_col,
                descending,
                offset: start_index - 1,
                limit: Some(count),
            };
            self.fetch_page(caller.org, kind, &q, &projection).await?
        } else {
            let q = StoreQuery {
                key: plan.key.clone(),
                sort: sort_col,
                descending,
                offset: 0,
                limit: None,
            };
            self.fetch_filtered(
                caller.org,
                kind,
                &q,
                filter.as_ref(),
                sort.as_ref().filter(|_| sort_col == SortKey::Seq),
                descending,
                start_index,
                count,
                &projection,
            )
            .await?
        };
        let mut body = json!({
            "schemas": [urn::LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": resources.len(),
            "startIndex": start_index,
        });
        body["Resources"] = Value::Array(resources);
        Ok(body)
    }

    async fn fetch_page(
        &self,
        org: OrgId,
        kind: ResourceKind,
        q: &StoreQuery,
        projection: &Projection,
    ) -> Result<(u64, Vec<Value>), Error> {
        let mut out = Vec::new();
        match kind {
            ResourceKind::User => {
                let with_groups = projection.wants(ResourceKind::User, "groups");
                // The page's groups come with it, not one query per user.
                let Page { total, items } = self
                    .store
                    .query_users_with_groups(org, q, with_groups)
                    .await
                    .map_err(store_err)?;
                out.reserve(items.len());
                for (u, groups) in &items {
                    let mut v = self.render_user(u, with_groups.then_some(groups.as_slice()));
                    projection.apply(ResourceKind::User, &mut v);
                    out.push(v);
                }
                Ok((total, out))
            }
            ResourceKind::Group => {
                let Page { total, items } = self
                    .store
                    .query_groups(org, true, q)
                    .await
                    .map_err(store_err)?;
                out.reserve(items.len());
                for g in &items {
                    out.push(self.group_json(org, g, projection).await?);
                }
                Ok((total, out))
            }
        }
    }

    /// Candidates from the store (by the best indexed term, if any), then the whole filter
    /// checked in memory on the full resource, then the window.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_filtered(
        &self,
        org: OrgId,
        kind: ResourceKind,
        q: &StoreQuery,
        filter: Option<&Filter>,
        json_sort: Option<&AttrPath>,
        descending: bool,
        start_index: u64,
        count: u64,
        projection: &Projection,
    ) -> Result<(u64, Vec<Value>), Error> {
        let case_exact = |p: &AttrPath| scim::schema::case_exact(kind, p);
        // Each match keeps the index of its group record, so a page's members are loaded
        // from the record already read, not read again.
        let mut matched: Vec<(Value, usize)> = Vec::new();
        let mut groups: Vec<GroupRecord> = Vec::new();
        match kind {
            ResourceKind::User => {
                // Groups come with the users in one query when the filter or the answer needs them.
                let with_groups = filter.is_some_and(mentions_attr_filter("groups"))
                    || projection.wants(kind, "groups");
                let page = self
                    .store
                    .query_users_with_groups(org, q, with_groups)
                    .await
                    .map_err(store_err)?;
                for (u, user_groups) in &page.items {
                    let v = self.render_user(u, with_groups.then_some(user_groups.as_slice()));
                    if filter.is_none_or(|f| scim::filter::matches(f, &v, &case_exact)) {
                        matched.push((v, 0));
                    }
                }
            }
            ResourceKind::Group => {
                let full = Projection::parse(kind, None, None)?;
                groups = self
                    .store
                    .query_groups(org, true, q)
                    .await
                    .map_err(store_err)?
                    .items;
                let needs_members = filter.is_some_and(mentions_attr_filter("members"));
                for (i, g) in groups.iter().enumerate() {
                    let v = if needs_members {
                        self.group_json(org, g, &full).await?
                    } else {
                        self.render_group(g, None)
                    };
                    if filter.is_none_or(|f| scim::filter::matches(f, &v, &case_exact)) {
                        matched.push((v, i));
                    }
                }
            }
        }
        if let Some(path) = json_sort {
            let exact = case_exact(path);
            matched.sort_by(|(a, _), (b, _)| {
                let ka = sort_value(a, path, exact);
                let kb = sort_value(b, path, exact);
                // Resources without the attribute sort last in ascending order (RFC 7644 §3.4.2.3).
                match (ka, kb) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            });
            if descending {
                matched.reverse();
            }
        }
        let total = matched.len() as u64;
        let mut out = Vec::new();
        for (mut v, i) in matched
            .into_iter()
            .skip((start_index - 1) as usize)
            .take(count as usize)
        {
            let wants_members = kind == ResourceKind::Group
                && projection.wants(kind, "members")
                && v.get("members").is_none();
            match groups.get(i).filter(|_| wants_members) {
                Some(g) => v = self.group_json(org, g, projection).await?,
                None => projection.apply(kind, &mut v),
            }
            out.push(v);
        }
        Ok((total, out))
    }

    /// `/.search` at the root: both resource types, users first.
    pub async fn search_root(
        &self,
        caller: &ScimCaller,
        params: &ListParams,
    ) -> Result<Value, Error> {
        let mut all = ListParams {
            start_index: Some(1),
            count: Some(self.limits.max_results as i64),
            ..params.clone()
        };
        all.attributes = params.attributes.clone();
        let users = self.list(caller, ResourceKind::User, &all).await?;
        let groups = self.list(caller, ResourceKind::Group, &all).await?;
        let mut resources: Vec<Value> = Vec::new();
        for body in [users, groups] {
            if let Some(Value::Array(items)) = body.get("Resources") {
                resources.extend(items.iter().cloned());
            }
        }
        let start_index = params.start_index.unwrap_or(1).max(1) as usize;
        let count = params
            .count
            .unwrap_or(self.limits.max_results as i64)
            .clamp(0, self.limits.max_results as i64) as usize;
        let total = resources.len();
        let page: Vec<Value> = resources
            .into_iter()
            .skip(start_index - 1)
            .take(count)
            .collect();
        Ok(json!({
            "schemas": [urn::LIST_RESPONSE],
            "totalResults": total,
            "itemsPerPage": page.len(),
            "startIndex": start_index,
            "Resources": page,
        }))
    }
}

/// Re-checks a patched document as if it had been PUT (required attributes, types).
fn revalidate(kind: ResourceKind, mut doc: Value) -> Result<Value, ScimError> {
    let core = match kind {
        ResourceKind::User => urn::USER,
        ResourceKind::Group => urn::GROUP,
    };
    if let Value::Object(map) = &mut doc {
        let mut schemas = vec![Value::from(core)];
        if map.contains_key(urn::ENTERPRISE_USER) {
            schemas.push(Value::from(urn::ENTERPRISE_USER));
        }
        map.insert("schemas".into(), Value::Array(schemas));
    }
    let mut out = scim::resource::normalize(kind, &doc)?;
    if let Value::Object(map) = &mut out {
        map.remove("members");
    }
    Ok(out)
}

/// Takes `members` out of a normalized group document: they live in their own table.
fn take_member_ids(doc: &mut Value) -> Result<Vec<String>, Error> {
    let members = doc.as_object_mut().and_then(|m| m.remove("members"));
    let mut ids = Vec::new();
    if let Some(Value::Array(items)) = members {
        for item in items {
            match item.get("value").and_then(Value::as_str) {
                // Not an id this server gives out, so no member: ignored, as in a PATCH.
                Some(id) if id.parse::<uuid::Uuid>().is_ok() => ids.push(id.to_string()),
                Some(_) => {}
                None => {
                    return Err(Error::invalid(
                        "each member needs a \"value\" with the member's id",
                    )
                    .with_scim_type(ScimType::InvalidValue))
                }
            }
        }
    }
    Ok(ids)
}

/// Removes the member ids `gone` says cannot be members from every add and remove.
fn drop_members(changes: &mut [MembershipChange], gone: impl Fn(&str) -> bool) {
    for c in changes.iter_mut() {
        if let MembershipChange::Add(ids) | MembershipChange::Remove(ids) = c {
            ids.retain(|m| !gone(m));
        }
    }
}

fn mentions_attr_filter(name: &'static str) -> impl Fn(&Filter) -> bool {
    move |f| filter_mentions(f, name)
}

fn filter_mentions(f: &Filter, name: &str) -> bool {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            filter_mentions(a, name) || filter_mentions(b, name)
        }
        Filter::Not(a) => filter_mentions(a, name),
        Filter::Present(p) | Filter::Compare(p, _, _) | Filter::ValuePath(p, _) => {
            p.attr.eq_ignore_ascii_case(name)
        }
    }
}

/// A comparable sort key taken from a resource's JSON.
fn sort_value(v: &Value, path: &AttrPath, case_exact: bool) -> Option<String> {
    let mut cur = v
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(&path.attr))
        .map(|(_, v)| v)?;
    // Multi-valued: the primary value, else the first (RFC 7644 §3.4.2.3).
    if let Value::Array(items) = cur {
        cur = items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or(items.first())?;
    }
    let sub = path
        .sub_attr
        .as_deref()
        .or(if cur.is_object() { Some("value") } else { None });
    if let Some(sub) = sub {
        cur = cur
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sub))
            .map(|(_, v)| v)?;
    }
    let s = match cur {
        Value::String(s) => s.clone(),
        Value::Number(n) => format!("{:020}", n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    Some(if case_exact { s } else { s.to_lowercase() })
}

/// How the store should be asked: by which indexed key, and whether that key alone is the
/// whole filter (so the store can count and page by itself).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub key: Option<IndexKey>,
    pub exact: bool,
}

/// Picks an indexed term out of a filter: the filter itself, or one side of a top-level `and`.
pub fn plan_query(kind: ResourceKind, filter: Option<&Filter>) -> QueryPlan {
    let Some(filter) = filter else {
        return QueryPlan {
            key: None,
            exact: true,
        };
    };
    if let Some(key) = index_key(kind, filter) {
        return QueryPlan {
            key: Some(key),
            exact: true,
        };
    }
    let mut terms = Vec::new();
    conjuncts(filter, &mut terms);
    let key = terms.iter().find_map(|t| index_key(kind, t));
    QueryPlan { key, exact: false }
}

fn conjuncts<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
    if let Filter::And(a, b) = f {
        conjuncts(a, out);
        conjuncts(b, out);
    } else {
        out.push(f);
    }
}

/// Names the attribute a path refers to, ignoring a core-schema URN prefix.
fn plain_name(kind: ResourceKind, p: &AttrPath) -> Option<String> {
    let core = match kind {
        ResourceKind::User => urn::USER,
        ResourceKind::Group => urn::GROUP,
    };
    if let Some(s) = &p.schema {
        if !s.eq_ignore_ascii_case(core) {
            return None;
        }
    }
    Some(match &p.sub_attr {
        Some(sub) => format!("{}.{}", p.attr, sub).to_ascii_lowercase(),
        None => p.attr.to_ascii_lowercase(),
    })
}

fn index_key(kind: ResourceKind, f: &Filter) -> Option<IndexKey> {
    let Filter::Compare(path, op, value) = f else {
        return None;
    };
    let name = plain_name(kind, path)?;
    match (op, value) {
        (CompareOp::Eq, CompValue::String(s)) => match (kind, name.as_str()) {
            (_, "id") => Some(IndexKey::Id(s.clone())),
            (_, "externalid") => Some(IndexKey::ExternalId(s.clone())),
            (ResourceKind::User, "username") => Some(IndexKey::UserNameLower(s.to_lowercase())),
            (_, "displayname") => Some(IndexKey::DisplayNameLower(s.to_lowercase())),
            (ResourceKind::User, "emails.value") | (ResourceKind::User, "emails") => {
                Some(IndexKey::EmailLower(s.to_lowercase()))
            }
            _ => None,
        },
        (CompareOp::Eq, CompValue::Bool(b)) if kind == ResourceKind::User && name == "active" => {
            Some(IndexKey::Active(*b))
        }
        (CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le, CompValue::String(s))
            if name == "meta.lastmodified" || name == "meta.created" =>
        {
            let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
            let cmp = match op {
                CompareOp::Gt => Cmp::Gt,
                CompareOp::Ge => Cmp::Ge,
                CompareOp::Lt => Cmp::Lt,
                _ => Cmp::Le,
            };
            if name == "meta.created" {
                Some(IndexKey::Created(cmp, t))
            } else {
                Some(IndexKey::LastModified(cmp, t))
            }
        }
        _ => None,
    }
}

/// The store column for a sortBy, `Some(None)` when it must be sorted in memory.
fn sort_column(kind: ResourceKind, p: &AttrPath) -> Option<SortKey> {
    let name = plain_name(kind, p)?;
    match (kind, name.as_str()) {
        (ResourceKind::User, "username") => Some(SortKey::UserName),
        (_, "displayname") => Some(SortKey::DisplayName),
        (_, "externalid") => Some(SortKey::ExternalId),
        (_, "meta.created") => Some(SortKey::Created),
        (_, "meta.lastmodified") => Some(SortKey::LastModified),
        (_, "id") => None,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ids_that_name_nothing_are_left_out() {
        let real = "6c82c4de-becb-42c2-b315-eb5c0ec6a0a0";
        let mut doc = json!({"displayName": "G", "members": [
            {"value": "fake-member-id"}, {"value": real, "display": "Ada"}]});
        assert_eq!(take_member_ids(&mut doc).unwrap(), vec![real.to_string()]);
        assert!(doc.get("members").is_none());
        let mut doc = json!({"members": [{"display": "no value"}]});
        assert!(take_member_ids(&mut doc).is_err());

        let mut changes = vec![
            MembershipChange::RemoveAll,
            MembershipChange::Add(vec!["a".into(), real.into()]),
            MembershipChange::Remove(vec!["a".into()]),
        ];
        drop_members(&mut changes, |m| m == "a");
        assert_eq!(
            changes,
            vec![
                MembershipChange::RemoveAll,
                MembershipChange::Add(vec![real.into()]),
                MembershipChange::Remove(vec![]),
            ]
        );
    }

    #[test]
    fn idp_lookups_are_planned_on_indexes() {
        let f = scim::filter::parse_filter("userName eq \"Jane@Acme.com\"").unwrap();
        assert_eq!(
            plan_query(ResourceKind::User, Some(&f)),
            QueryPlan {
                key: Some(IndexKey::UserNameLower("jane@acme.com".into())),
                exact: true
            }
        );
        let f = scim::filter::parse_filter("externalId eq \"00u1\" and active eq true").unwrap();
        let plan = plan_query(ResourceKind::User, Some(&f));
        assert_eq!(plan.key, Some(IndexKey::ExternalId("00u1".into())));
        assert!(!plan.exact);
        let f = scim::filter::parse_filter("emails.value eq \"A@b.co\"").unwrap();
        assert_eq!(
            plan_query(ResourceKind::User, Some(&f)).key,
            Some(IndexKey::EmailLower("a@b.co".into()))
        );
        let f = scim::filter::parse_filter("displayName eq \"Eng\"").unwrap();
        assert_eq!(
            plan_query(ResourceKind::Group, Some(&f)).key,
            Some(IndexKey::DisplayNameLower("eng".into()))
        );
        let f =
            scim::filter::parse_filter("meta.lastModified gt \"2026-01-01T00:00:00Z\"").unwrap();
        assert!(matches!(
            plan_query(ResourceKind::User, Some(&f)).key,
            Some(IndexKey::LastModified(Cmp::Gt, _))
        ));
        let f = scim::filter::parse_filter("userName eq \"a\" or userName eq \"b\"").unwrap();
        assert_eq!(
            plan_query(ResourceKind::User, Some(&f)),
            QueryPlan {
                key: None,
                exact: false
            }
        );
    }
}
