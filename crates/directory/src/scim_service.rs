//! SCIM operations on the directory: what the `/scim/v2` handlers call.
//!
//! The organization comes from the bearer token; every rule of the directory that SCIM is
//! subject to is applied here (email domains, Externally Managed marking and take-over,
//! SCIM seeing only SCIM-managed groups, version checks) so handlers stay thin.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::{Error, ErrorKind};
use crate::identity;
use crate::ids::{GroupId, OrgId, UserId};
use crate::model::{
    AuditEvent, GroupRecord, ManagedBy, Member, MembershipChange, Page, ScimTokenRecord, UserRecord,
};
use crate::query::{Cmp, IndexKey, ScanQuery, SortKey, StoreQuery, TextColumn, TextOp};
use crate::scan::{ScanGate, ScanLimits, ScanStats, Selection, SortScalar, SortSemantics};
use crate::store::{Store, StoreError};
use crate::token;
use crate::token_cache::TokenCache;
use crate::write_turns::WriteTurns;
use scim::filter::{CompValue, CompareOp, Filter};
use scim::path::AttrPath;
use scim::projection::Projection;
use scim::schema::ResourceKind;
use scim::{urn, ScimError, ScimType};
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Limits the service enforces and advertises in `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_results: u64,
    pub bulk_max_operations: usize,
    pub bulk_max_payload_bytes: usize,
    /// Lists and searches that no index answers alone (see [`crate::scan`]).
    pub scan: ScanLimits,
    /// Write requests larger than [`crate::scan::LARGE_REQUEST_BYTES`] one organization may
    /// have running at once.
    pub large_requests_per_org: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_results: 1000,
            bulk_max_operations: 1000,
            bulk_max_payload_bytes: 1_048_576,
            scan: ScanLimits::default(),
            large_requests_per_org: crate::scan::MAX_CONCURRENT_LARGE_REQUESTS_PER_ORG,
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
    /// This process's writes of one resource take turns (see [`WriteTurns`]).
    turns: Arc<WriteTurns>,
    gate: Arc<WriteGate>,
    scans: Arc<ScanGate>,
    scan_stats: Arc<ScanStats>,
    large_requests: Arc<ScanGate>,
}

/// How many times a write reads the resource, applies the change and tries to store it
/// before giving up because the resource keeps changing under it. Writes of one resource take
/// turns within a process, so only writes from elsewhere (another node, the console) make an
/// attempt fail; the answer after the last is a 409 asking the client to retry.
pub const MAX_WRITE_ATTEMPTS: usize = 10;

/// PATCHes with more operations than this, or with a value list longer than
/// [`INLINE_PATCH_VALUES`], are applied on a blocking thread rather than an async worker: up
/// to here applying one takes microseconds, past it up to milliseconds.
const INLINE_PATCH_OPERATIONS: usize = 16;
const INLINE_PATCH_VALUES: usize = 64;

/// A pause point for tests, between reading a resource and applying a change to it. While a
/// test holds it for an organization, that organization's SCIM PUTs and PATCHes wait there,
/// which lets a test show that nothing else waits for a change being applied (in particular
/// not other organizations' writes: the change is applied outside the store's writer). Costs
/// one atomic load per write while nothing is held.
#[derive(Default)]
pub struct WriteGate {
    any_held: AtomicBool,
    held: std::sync::Mutex<HashMap<OrgId, Arc<tokio::sync::RwLock<()>>>>,
    waiting: AtomicUsize,
}

/// Holds a [`WriteGate`] for one organization until dropped.
pub struct GateHold {
    gate: Arc<WriteGate>,
    org: OrgId,
    _held: tokio::sync::OwnedRwLockWriteGuard<()>,
}

impl WriteGate {
    /// Makes the organization's SCIM writes wait, once they have read the resource.
    pub async fn hold(self: &Arc<Self>, org: OrgId) -> GateHold {
        let lock = Arc::new(tokio::sync::RwLock::new(()));
        let held = Arc::clone(&lock).write_owned().await;
        if let Ok(mut map) = self.held.lock() {
            map.insert(org, lock);
        }
        self.any_held.store(true, Ordering::SeqCst);
        GateHold {
            gate: Arc::clone(self),
            org,
            _held: held,
        }
    }

    /// How many writes wait at the gate now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    async fn pass(&self, org: OrgId) {
        if !self.any_held.load(Ordering::Relaxed) {
            return;
        }
        let lock = self.held.lock().ok().and_then(|m| m.get(&org).cloned());
        if let Some(lock) = lock {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            drop(lock.read().await);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for GateHold {
    fn drop(&mut self) {
        if let Ok(mut map) = self.gate.held.lock() {
            map.remove(&self.org);
            self.gate.any_held.store(!map.is_empty(), Ordering::SeqCst);
        }
    }
}

/// Runs `work` (applying a change) where its cost does no harm: right here when it is small,
/// on a blocking thread when it may take milliseconds, never inside the store's writer.
async fn run_apply<T: Send + 'static>(
    heavy: bool,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    if !heavy {
        return work();
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::internal(format!("applying a change failed: {e}")))?
}

/// Whether a PATCH is big enough to be applied on a blocking thread.
fn patch_is_heavy(ops: &[scim::patch::PatchOp]) -> bool {
    ops.len() > INLINE_PATCH_OPERATIONS
        || ops.iter().any(|op| match &op.value {
            Some(Value::Array(items)) => items.len() > INLINE_PATCH_VALUES,
            Some(Value::Object(fields)) => fields.values().any(|v| {
                v.as_array()
                    .is_some_and(|items| items.len() > INLINE_PATCH_VALUES)
            }),
            _ => false,
        })
}

fn still_changing(kind: &str, id: &str) -> Error {
    Error::conflict(format!(
        "the {kind} {id} was changed by other requests {MAX_WRITE_ATTEMPTS} times while this change was being applied; nothing was changed by this request: send it again"
    ))
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
            turns: Arc::new(WriteTurns::default()),
            gate: Arc::new(WriteGate::default()),
            scans: Arc::new(ScanGate::new(&limits.scan)),
            large_requests: Arc::new(ScanGate::for_large_requests(
                limits.large_requests_per_org,
                limits.scan.wait,
            )),
            scan_stats: Arc::default(),
        }
    }

    /// The pause point tests use to hold this service's writes (see [`WriteGate`]).
    pub fn write_gate(&self) -> &Arc<WriteGate> {
        &self.gate
    }

    /// The per-resource turns of this service's writes (tests check none are left behind).
    pub fn write_turns(&self) -> &WriteTurns {
        &self.turns
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
            None => self.store.token_by_hash(&hash).await?,
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
            Some(self.store.user_groups(org, user.id).await?)
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
            Some(self.store.group_members(org, group.id).await?)
        } else {
            None
        };
        let mut v = self.render_group(group, members.as_deref());
        projection.apply(ResourceKind::Group, &mut v);
        Ok(v)
    }

    // ---------------------------------------------------------------- rules

    /// The email-domain rule: the user's identity email (userName when it is an email,
    /// else the primary email) must be in one of the token's domains. Applied to every user
    /// a token writes: the identity it has now and the one a change gives it.
    fn check_domains(token: &ScimTokenRecord, doc: &Value) -> Result<(), Error> {
        if token.domains.allows_any() {
            return Ok(());
        }
        let ix = scim::resource::user_index(doc);
        let identity = match identity::user_name_email(&ix.user_name) {
            Some(email) => Some(email),
            None => ix
                .primary_email
                .as_deref()
                .and_then(|e| identity::EmailAddress::parse(e).ok()),
        };
        let forbidden = |detail: String| Error::new(ErrorKind::Forbidden, detail);
        match identity {
            Some(email) if token.domains.allows_email(email.as_str()) => Ok(()),
            Some(email) => Err(forbidden(format!(
                "email domain {} is not allowed for token {}: it may provision only {}. Add the domain to the token (`portcullis token domains`) or use another token",
                email.domain(),
                token.name,
                token.domains
            ))),
            None => Err(forbidden(format!(
                "userName '{}' is not an email address and the user has no email, so its domain cannot be checked; token {} may provision only {}",
                ix.user_name, token.name, token.domains
            ))),
        }
    }

    /// The domain rule for members a change adds to a group: each user among them must be
    /// inside the token's domains (a token never puts a user it does not provision into a
    /// group). Groups and ids that name nothing are left to the membership rules. One batch
    /// read of the added users: O(added members), whatever the size of the group.
    async fn check_added_members(&self, caller: &ScimCaller, ids: &[String]) -> Result<(), Error> {
        if caller.token.domains.allows_any() || ids.is_empty() {
            return Ok(());
        }
        let users: Vec<UserId> = ids.iter().filter_map(|id| id.parse().ok()).collect();
        let found = self.store.users_by_ids(caller.org, &users).await?;
        for user in &found {
            Self::check_domains(&caller.token, &user.doc).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "member {} ({}) cannot be added: {}",
                        user.id, user.user_name, e.detail
                    ),
                )
            })?;
        }
        Ok(())
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
            .await?
            .ok_or_else(|| Error::not_found(format!("no User with id {id}")))
    }

    /// SCIM sees only SCIM-visible groups: any other group answers 404, as if absent.
    async fn load_group(&self, org: OrgId, id: &str) -> Result<GroupRecord, Error> {
        let gid = Self::parse_group_id(id)?;
        self.store
            .get_group(org, gid)
            .await?
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
            other => Error::from(other),
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
        let mut doc =
            identity::clean_user_document(scim::resource::normalize(ResourceKind::User, body)?)?;
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
            .await?
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
            .await?
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
            let doc = identity::clean_user_document(scim::resource::normalize(
                ResourceKind::User,
                body,
            )?)?;
            self.write_user(caller, id, if_match, projection, false, move |_| {
                Ok(doc.clone())
            })
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
            let heavy = patch_is_heavy(&ops);
            self.write_user(caller, id, if_match, projection, heavy, move |current| {
                let mut doc = current.clone();
                scim::patch::apply(ResourceKind::User, &mut doc, &ops)?;
                identity::clean_user_document(revalidate(ResourceKind::User, doc)?)
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
    ///
    /// The change is applied to a copy read outside any transaction, and the result is
    /// written only if the user is still at the version read (else read again, at most
    /// [`MAX_WRITE_ATTEMPTS`] times): the store's writer sees one finished row, never the
    /// PATCH, so a costly change of one organization's user holds up nobody else's writes.
    async fn write_user(
        &self,
        caller: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
        projection: &Projection,
        heavy: bool,
        change: impl Fn(&Value) -> Result<Value, Error> + Send + Sync + 'static,
    ) -> Result<Written, Error> {
        let uid = Self::parse_user_id(id)?;
        let change = Arc::new(change);
        let not_found = || Error::not_found(format!("no User with id {id}"));
        let _turn = self.turns.take(uid.0).await;
        let mut next = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self
                .store
                .get_user(caller.org, uid)
                .await?
                .ok_or_else(not_found)?;
            Self::check_if_match(if_match, current.version)?;
            self.gate.pass(caller.org).await;
            let expected = current.version;
            let now = self.clock.now();
            let change = Arc::clone(&change);
            let token = caller.token.clone();
            let candidate = run_apply(heavy, move || {
                // The token's domains guard who the user is now (so no user of another
                // domain, local or provisioned by another token, is changed or taken over)
                // and who the change makes them. The version check of the write below makes
                // the first hold for the row that is replaced.
                Self::check_domains(&token, &current.doc)?;
                let mut next = current.clone();
                next.doc = change(&current.doc)?;
                Self::check_domains(&token, &next.doc)?;
                next.reindex();
                next.managed_by = ManagedBy::Scim;
                next.version = current.version + 1;
                next.updated_at = now.max(current.updated_at);
                Ok(next)
            })
            .await?;
            match self.store.update_user(&candidate, expected).await {
                Ok(()) => {
                    next = Some(candidate);
                    break;
                }
                Err(StoreError::VersionMismatch) => continue,
                Err(StoreError::NotFound) => return Err(not_found()),
                Err(StoreError::Conflict(_)) => {
                    return Err(Self::user_conflict(&candidate.user_name))
                }
                Err(other) => return Err(Error::from(other)),
            }
        }
        let next = next.ok_or_else(|| still_changing("User", id))?;
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
            Self::check_domains(&caller.token, &user.doc)?;
            Self::check_if_match(if_match, user.version)?;
            self.store
                .delete_user(caller.org, user.id)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => Error::not_found(format!("no User with id {id}")),
                    other => Error::from(other),
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
        let mut doc =
            identity::clean_group_document(scim::resource::normalize(ResourceKind::Group, body)?)?;
        let members = take_member_ids(&mut doc)?;
        self.check_added_members(caller, &members).await?;
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
        // A long list is looked up first, so the writer never adds most of it only to undo
        // that at an unknown id near the end.
        if members.len() > INLINE_PATCH_VALUES {
            let known = self.store.known_members(caller.org, &members).await?;
            members.retain(|m| known.contains(m));
        }
        loop {
            match self.store.insert_group(&group, &members).await {
                Ok(()) => break,
                // Members that name no user or group of the organization are left out, as a
                // PATCH or PUT does: all of them at once, then (should one vanish meanwhile)
                // one per retry, so this ends.
                Err(StoreError::UnknownMember(m)) if members.contains(&m) => {
                    tracing::info!(member = %m, "leaving out members that are no user or group of the organization");
                    let known = self.store.known_members(caller.org, &members).await?;
                    members.retain(|x| *x != m && known.contains(x));
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::conflict(format!(
                        "a group named '{}' already exists in this organization",
                        group.display_name
                    ))
                    .with_scim_type(ScimType::Uniqueness))
                }
                Err(other) => return Err(Error::from(other)),
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
            let mut doc = identity::clean_group_document(scim::resource::normalize(
                ResourceKind::Group,
                body,
            )?)?;
            let members = take_member_ids(&mut doc)?;
            let heavy = members.len() > INLINE_PATCH_VALUES;
            self.check_added_members(caller, &members).await?;
            let changes = vec![MembershipChange::RemoveAll, MembershipChange::Add(members)];
            self.write_group(caller, id, if_match, heavy, move |_| {
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
            let heavy = patch_is_heavy(&ops);
            // A token held to some domains may add only users inside them: the members the
            // PATCH adds (they come from its values, not from the stored group) are checked
            // before the write, and the write adds no other.
            let checked_adds: Option<std::collections::HashSet<String>> =
                if caller.token.domains.allows_any() {
                    None
                } else {
                    let current = self.load_group(caller.org, id).await?;
                    let mut doc = current.doc.clone();
                    let adds = added_member_ids(&scim::patch::apply(
                        ResourceKind::Group,
                        &mut doc,
                        &ops,
                    )?);
                    self.check_added_members(caller, &adds).await?;
                    Some(adds.into_iter().collect())
                };
            let group = self
                .write_group(caller, id, if_match, heavy, move |current| {
                    let mut doc = current.clone();
                    let changes = scim::patch::apply(ResourceKind::Group, &mut doc, &ops)?;
                    if let Some(checked) = &checked_adds {
                        if added_member_ids(&changes).iter().any(|m| !checked.contains(m)) {
                            return Err(Error::conflict(
                                "the group changed while its new members were checked; send the PATCH again",
                            ));
                        }
                    }
                    let doc = identity::clean_group_document(revalidate(ResourceKind::Group, doc)?)?;
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

    /// Read-modify-write of a group, as [`Self::write_user`] does it: the change is applied
    /// outside the store's writer, which gets the finished row and the membership changes
    /// (O(changed members)), version-checked.
    ///
    /// Member ids that name no user or group of the organization are left out, as if absent:
    /// the first write that meets one fails at once, then every id the request adds is looked
    /// up in one go and the unknown ones are left out of the next attempt.
    async fn write_group(
        &self,
        caller: &ScimCaller,
        id: &str,
        if_match: Option<&str>,
        heavy: bool,
        change: impl Fn(&Value) -> Result<(Value, Vec<MembershipChange>), Error> + Send + Sync + 'static,
    ) -> Result<GroupRecord, Error> {
        let gid = Self::parse_group_id(id)?;
        let change = Arc::new(change);
        let not_found = || Error::not_found(format!("no Group with id {id}"));
        let _turn = self.turns.take(gid.0).await;
        // A group is never its own member.
        let mut unknown: HashSet<String> = HashSet::from([gid.to_string()]);
        let mut looked_up = false;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self
                .store
                .get_group(caller.org, gid)
                .await?
                .filter(|g| g.scim_visible)
                .ok_or_else(not_found)?;
            Self::check_if_match(if_match, current.version)?;
            self.gate.pass(caller.org).await;
            let expected = current.version;
            let now = self.clock.now();
            let change = Arc::clone(&change);
            let (next, mut changes) = run_apply(heavy, move || {
                let (doc, changes) = change(&current.doc)?;
                let mut next = current.clone();
                next.doc = doc;
                next.reindex();
                next.managed_by = ManagedBy::Scim;
                next.version = current.version + 1;
                next.updated_at = now.max(current.updated_at);
                Ok((next, changes))
            })
            .await?;
            // An id that is not even well formed cannot name a member: adding it is a no-op,
            // like removing it.
            let leave_out = |m: &str, unknown: &HashSet<String>| {
                m.parse::<uuid::Uuid>().is_err() || unknown.contains(m)
            };
            drop_members(&mut changes, |m| leave_out(m, &unknown));
            // A long list is looked up before the write, so the writer never does its
            // lookups twice (once up to the unknown id, once more without it).
            if !looked_up && added_count(&changes) > INLINE_PATCH_VALUES {
                looked_up = true;
                self.leave_out_unknown(caller.org, &changes, &mut unknown)
                    .await?;
                drop_members(&mut changes, |m| leave_out(m, &unknown));
            }
            match self.store.update_group(&next, expected, &changes).await {
                Ok(()) => return Ok(next),
                Err(StoreError::VersionMismatch) => {}
                Err(StoreError::UnknownMember(m)) => {
                    tracing::info!(group = %id, member = %m, "leaving out members that are no user or group of the organization");
                    if !looked_up {
                        looked_up = true;
                        self.leave_out_unknown(caller.org, &changes, &mut unknown)
                            .await?;
                    }
                    // Also when it was known a moment ago: it has been deleted since.
                    unknown.insert(m);
                }
                Err(StoreError::NotFound) => return Err(not_found()),
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::conflict(
                        "a group with that displayName already exists in this organization",
                    )
                    .with_scim_type(ScimType::Uniqueness))
                }
                Err(e) => return Err(Error::from(e)),
            }
        }
        Err(still_changing("Group", id))
    }

    /// Adds to `unknown` every id `changes` add that names no user or group of the
    /// organization: one store call for all of them.
    async fn leave_out_unknown(
        &self,
        org: OrgId,
        changes: &[MembershipChange],
        unknown: &mut HashSet<String>,
    ) -> Result<(), Error> {
        let added = added_members(changes);
        if added.is_empty() {
            return Ok(());
        }
        let known = self.store.known_members(org, &added).await?;
        unknown.extend(added.into_iter().filter(|a| !known.contains(a)));
        Ok(())
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
                    other => Error::from(other),
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
        let (total, start_index, resources) = self.list_page(caller, kind, params).await?;
        Ok(list_response(total, start_index, resources))
    }

    /// What the scan statistics say (tests and benchmarks check the bound on rows held).
    /// One of the organization's large-request slots, for a write body of more than
    /// [`crate::scan::LARGE_REQUEST_BYTES`]: hold it until the request is answered. `Busy`
    /// after a short wait when the organization's slots are all taken.
    pub async fn large_request_slot(
        &self,
        caller: &ScimCaller,
    ) -> Result<crate::scan::ScanSlot, Error> {
        self.large_requests.enter(caller.org).await
    }

    /// What of a group's members a filter check needs: none, the members among a few ids
    /// (one indexed lookup each) and whether there is any, or the whole list.
    async fn members_for(
        &self,
        org: OrgId,
        group: GroupId,
        need: &MemberNeed,
    ) -> Result<Option<Vec<Member>>, Error> {
        match need {
            MemberNeed::Nothing => Ok(None),
            MemberNeed::All => Ok(Some(self.store.group_members(org, group).await?)),
            MemberNeed::Probe { ids, any } => {
                let mut found = self.store.group_members_among(org, group, ids).await?;
                if *any && found.is_empty() {
                    found = self.store.group_members_after(org, group, None, 1).await?;
                }
                Ok(Some(found))
            }
        }
    }

    pub fn scan_stats(&self) -> crate::scan::ScanStatsSnapshot {
        self.scan_stats.snapshot()
    }

    /// The gate of scans per organization (tests hold its slots).
    pub fn scan_gate(&self) -> &ScanGate {
        &self.scans
    }

    /// The matches' total, the startIndex answered and the page of one resource type.
    async fn list_page(
        &self,
        caller: &ScimCaller,
        kind: ResourceKind,
        params: &ListParams,
    ) -> Result<(u64, u64, Vec<Value>), Error> {
        let projection = Projection::parse(
            kind,
            params.attributes.as_deref(),
            params.excluded_attributes.as_deref(),
        )?;
        let mut filter = match params.filter.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => Some(scim::filter::parse_filter_for(kind, f)?),
            _ => None,
        };
        // Compared with stored identity strings as they were cleaned (NFC, trimmed).
        if let Some(f) = filter.as_mut() {
            identity::clean_filter_values(f);
        }
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
        let order = sort.map(|path| match sort_column(kind, &path) {
            Some(column) => ScanOrder::Column(column),
            None => ScanOrder::Json(path),
        });
        // The store answers alone when the filter is one indexed term (or none) and any sort
        // is on a column whose index also serves the filter (or there is no filter): it then
        // walks one index and holds one page.
        let store_pages = plan.exact
            && match &order {
                None => true,
                Some(ScanOrder::Column(column)) => plan
                    .key
                    .as_ref()
                    .is_none_or(|k| key_serves_sort(k, *column)),
                Some(ScanOrder::Json(_)) => false,
            };
        // Work that may visit every user of the organization takes one of its scan slots:
        // a scan whose candidates no index narrows, and a store page of `co`/`ew`, which
        // the database checks row by row.
        let scans_organization = if store_pages {
            matches!(
                plan.key,
                Some(IndexKey::Text(_, TextOp::Contains | TextOp::Suffix, _))
            )
        } else {
            plan.key.as_ref().is_none_or(|k| !k.is_seek())
        };
        let _slot = if scans_organization {
            Some(self.scans.enter(caller.org).await?)
        } else {
            None
        };

        let resources = if store_pages {
            let q = StoreQuery {
                key: plan.key.clone(),
                sort: match &order {
                    Some(ScanOrder::Column(column)) => *column,
                    _ => SortKey::Seq,
                },
                descending,
                offset: start_index - 1,
                limit: Some(count),
            };
            self.fetch_page(caller.org, kind, &q, &projection).await?
        } else {
            let max_start = self.limits.scan.max_sorted_start_index;
            if order.is_some() && start_index > max_start {
                return Err(Error::invalid(format!(
                    "startIndex {start_index} is past {max_start}, the furthest a sort by an attribute that does not index the filter can page; narrow the filter (for example by meta.lastModified) or leave out sortBy"
                ))
                .with_scim_type(ScimType::InvalidValue));
            }
            let scan = ScanRequest {
                org: caller.org,
                kind,
                key: plan.key.clone(),
                filter: filter.map(Arc::new),
                order: order.map(Arc::new),
                descending,
                start_index,
                count,
            };
            self.scan_page(&scan, &projection).await?
        };
        Ok((resources.0, start_index, resources.1))
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
                    .await?;
                out.reserve(items.len());
                for (u, groups) in &items {
                    let mut v = self.render_user(u, with_groups.then_some(groups.as_slice()));
                    projection.apply(ResourceKind::User, &mut v);
                    out.push(v);
                }
                Ok((total, out))
            }
            ResourceKind::Group => {
                let Page { total, items } = self.store.query_groups(org, true, q).await?;
                out.reserve(items.len());
                for g in &items {
                    out.push(self.group_json(org, g, projection).await?);
                }
                Ok((total, out))
            }
        }
    }

    /// Reads the candidates (those of the best indexed term, if any) chunk by chunk in
    /// insertion order, checks the whole filter on each, and keeps only the page's positions
    /// (or the best `startIndex + count − 1` for a sort); then reads the page back. Holds
    /// O(chunk + page) rows, whatever the size of the organization.
    async fn scan_page(
        &self,
        scan: &ScanRequest,
        projection: &Projection,
    ) -> Result<(u64, Vec<Value>), Error> {
        let mut selection = match scan.order.as_deref() {
            None => Selection::window(scan.start_index, scan.count),
            Some(order) => Selection::top_k(
                scan.start_index,
                scan.count,
                scan.descending,
                order.semantics(),
            ),
        };
        let chunk = self.limits.scan.chunk.max(1);
        let mut most_kept = 0;
        let mut after_seq = 0;
        loop {
            let q = ScanQuery {
                key: scan.key.clone(),
                after_seq,
                limit: chunk,
            };
            let (read, last_seq, matches) = self.scan_chunk(scan, &q).await?;
            self.scan_stats.record_chunk(read);
            for (seq, value) in matches {
                selection.offer(seq, value);
            }
            most_kept = most_kept.max(selection.kept());
            match last_seq {
                Some(last) if read as u64 >= u64::from(chunk) => after_seq = last,
                _ => break,
            }
        }
        self.scan_stats.record_scan(most_kept);
        let (total, page) = selection.finish();
        let resources = self.read_back(scan, &page, projection).await?;
        Ok((total, resources))
    }

    /// One chunk: the rows read, the last seq, and the matches with what they sort by. The
    /// documents are rendered and matched on a blocking thread, not an async worker.
    async fn scan_chunk(
        &self,
        scan: &ScanRequest,
        q: &ScanQuery,
    ) -> Result<(usize, Option<i64>, Vec<(i64, Option<SortScalar>)>), Error> {
        let filter = scan.filter.clone();
        let order = scan.order.clone();
        let this = self.clone();
        match scan.kind {
            ResourceKind::User => {
                let with_groups = filter_mentions_opt(filter.as_deref(), "groups");
                let rows = self.store.scan_users(scan.org, q, with_groups).await?;
                let (read, last) = (rows.len(), rows.last().map(|r| r.0));
                let matches = tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    for (seq, user, groups) in &rows {
                        let v = this.render_user(user, with_groups.then_some(groups.as_slice()));
                        if resource_matches(ResourceKind::User, filter.as_deref(), &v) {
                            let key = order.as_deref().and_then(|o| o.user_value(user, &v));
                            out.push((*seq, key));
                        }
                    }
                    out
                })
                .await
                .map_err(|e| Error::internal(format!("a scan failed: {e}")))?;
                Ok((read, last, matches))
            }
            ResourceKind::Group => {
                let rows = self.store.scan_groups(scan.org, true, q).await?;
                let (read, last) = (rows.len(), rows.last().map(|r| r.0));
                // Members only as far as the filter asks about them (see `MemberNeed`).
                let need = MemberNeed::of(filter.as_deref());
                let mut members = Vec::with_capacity(rows.len());
                for (_, g) in &rows {
                    members.push(self.members_for(scan.org, g.id, &need).await?);
                }
                let matches = tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    for ((seq, group), members) in rows.iter().zip(&members) {
                        let v = this.render_group(group, members.as_deref());
                        if resource_matches(ResourceKind::Group, filter.as_deref(), &v) {
                            let key = order.as_deref().and_then(|o| o.group_value(group, &v));
                            out.push((*seq, key));
                        }
                    }
                    out
                })
                .await
                .map_err(|e| Error::internal(format!("a scan failed: {e}")))?;
                Ok((read, last, matches))
            }
        }
    }

    /// The page a scan chose, read again by seq and rendered. A row that changed since the
    /// scan so that it no longer matches (or was deleted) is left out.
    async fn read_back(
        &self,
        scan: &ScanRequest,
        page: &[i64],
        projection: &Projection,
    ) -> Result<Vec<Value>, Error> {
        if page.is_empty() {
            return Ok(Vec::new());
        }
        let q = ScanQuery {
            key: Some(IndexKey::Seqs(page.to_vec())),
            after_seq: 0,
            limit: u32::try_from(page.len()).unwrap_or(u32::MAX),
        };
        let filter = scan.filter.as_deref();
        let mut out = Vec::with_capacity(page.len());
        match scan.kind {
            ResourceKind::User => {
                let with_groups = projection.wants(ResourceKind::User, "groups")
                    || filter_mentions_opt(filter, "groups");
                let mut rows: HashMap<i64, (UserRecord, Vec<crate::store::UserGroup>)> = self
                    .store
                    .scan_users(scan.org, &q, with_groups)
                    .await?
                    .into_iter()
                    .map(|(seq, u, g)| (seq, (u, g)))
                    .collect();
                for seq in page {
                    let Some((user, groups)) = rows.remove(seq) else {
                        continue;
                    };
                    let mut v = self.render_user(&user, with_groups.then_some(groups.as_slice()));
                    if resource_matches(ResourceKind::User, filter, &v) {
                        projection.apply(ResourceKind::User, &mut v);
                        out.push(v);
                    }
                }
            }
            ResourceKind::Group => {
                // The answer lists every member when it shows members at all; otherwise the
                // filter's check needs only what it asks.
                let need = if projection.wants(ResourceKind::Group, "members") {
                    MemberNeed::All
                } else {
                    MemberNeed::of(filter)
                };
                let mut rows: HashMap<i64, GroupRecord> = self
                    .store
                    .scan_groups(scan.org, true, &q)
                    .await?
                    .into_iter()
                    .collect();
                for seq in page {
                    let Some(group) = rows.remove(seq) else {
                        continue;
                    };
                    let members = self.members_for(scan.org, group.id, &need).await?;
                    let mut v = self.render_group(&group, members.as_deref());
                    if resource_matches(ResourceKind::Group, filter, &v) {
                        projection.apply(ResourceKind::Group, &mut v);
                        out.push(v);
                    }
                }
            }
        }
        Ok(out)
    }

    /// `/.search` at the root: both resource types, users first, as one list: totalResults
    /// counts both, and the window runs over users then groups. Each type is one list of its
    /// own (its own scan, if any), so memory stays O(page).
    pub async fn search_root(
        &self,
        caller: &ScimCaller,
        params: &ListParams,
    ) -> Result<Value, Error> {
        let start_index = params.start_index.unwrap_or(1).max(1) as u64;
        let count = params
            .count
            .unwrap_or(self.limits.max_results as i64)
            .clamp(0, self.limits.max_results as i64) as u64;
        let users_params = ListParams {
            start_index: Some(start_index as i64),
            count: Some(count as i64),
            ..params.clone()
        };
        let (users_total, _, mut resources) = self
            .list_page(caller, ResourceKind::User, &users_params)
            .await?;
        // Positions past the users continue among the groups.
        let groups_params = ListParams {
            start_index: Some(start_index.saturating_sub(users_total).max(1) as i64),
            count: Some(count.saturating_sub(resources.len() as u64) as i64),
            ..params.clone()
        };
        let (groups_total, _, groups) = self
            .list_page(caller, ResourceKind::Group, &groups_params)
            .await?;
        resources.extend(groups);
        Ok(list_response(
            users_total + groups_total,
            start_index,
            resources,
        ))
    }
}

/// A ListResponse body.
fn list_response(total: u64, start_index: u64, resources: Vec<Value>) -> Value {
    let mut body = json!({
        "schemas": [urn::LIST_RESPONSE],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
    });
    body["Resources"] = Value::Array(resources);
    body
}

/// A list the store cannot answer alone, as [`ScimService::scan_page`] runs it.
struct ScanRequest {
    org: OrgId,
    kind: ResourceKind,
    /// Narrows the candidates; the whole filter is checked on each.
    key: Option<IndexKey>,
    filter: Option<Arc<Filter>>,
    order: Option<Arc<ScanOrder>>,
    descending: bool,
    start_index: u64,
    count: u64,
}

/// What a scan sorts by.
#[derive(Debug)]
enum ScanOrder {
    /// A column the stores also sort by: the value is taken from the record, as stored.
    Column(SortKey),
    /// Any other attribute: the value is taken from the resource's JSON.
    Json(AttrPath),
}

impl ScanOrder {
    fn semantics(&self) -> SortSemantics {
        match self {
            ScanOrder::Column(_) => SortSemantics::Column,
            ScanOrder::Json(_) => SortSemantics::Reversible,
        }
    }

    fn json_value(kind: ResourceKind, path: &AttrPath, v: &Value) -> Option<SortScalar> {
        sort_value(v, path, scim::schema::case_exact(kind, path)).map(SortScalar::Text)
    }

    fn user_value(&self, user: &UserRecord, v: &Value) -> Option<SortScalar> {
        match self {
            ScanOrder::Json(path) => Self::json_value(ResourceKind::User, path, v),
            ScanOrder::Column(column) => match column {
                SortKey::Seq => None,
                SortKey::UserName => Some(SortScalar::Text(user.user_name.to_lowercase())),
                SortKey::DisplayName => user
                    .display_name
                    .as_ref()
                    .map(|d| SortScalar::Text(d.to_lowercase())),
                SortKey::ExternalId => user.external_id.clone().map(SortScalar::Text),
                SortKey::Created => Some(SortScalar::Int(millis(user.created_at))),
                SortKey::LastModified => Some(SortScalar::Int(millis(user.updated_at))),
            },
        }
    }

    fn group_value(&self, group: &GroupRecord, v: &Value) -> Option<SortScalar> {
        match self {
            ScanOrder::Json(path) => Self::json_value(ResourceKind::Group, path, v),
            ScanOrder::Column(column) => match column {
                SortKey::Seq => None,
                // Groups have no userName: the stores sort them by displayName.
                SortKey::UserName | SortKey::DisplayName => {
                    Some(SortScalar::Text(group.display_name.to_lowercase()))
                }
                SortKey::ExternalId => group.external_id.clone().map(SortScalar::Text),
                SortKey::Created => Some(SortScalar::Int(millis(group.created_at))),
                SortKey::LastModified => Some(SortScalar::Int(millis(group.updated_at))),
            },
        }
    }
}

/// Milliseconds since the epoch: what the stores keep and sort by.
fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn resource_matches(kind: ResourceKind, filter: Option<&Filter>, v: &Value) -> bool {
    let case_exact = |p: &AttrPath| scim::schema::case_exact(kind, p);
    filter.is_none_or(|f| scim::filter::matches(f, v, &case_exact))
}

fn filter_mentions_opt(filter: Option<&Filter>, name: &str) -> bool {
    filter.is_some_and(|f| filter_mentions(f, name))
}

/// Whether the index that answers `key` also keeps its rows in the order of `sort`, so the
/// store walks one index for both.
fn key_serves_sort(key: &IndexKey, sort: SortKey) -> bool {
    match (key, sort) {
        (IndexKey::UserNameLower(_), SortKey::UserName)
        | (IndexKey::DisplayNameLower(_), SortKey::DisplayName)
        | (IndexKey::ExternalId(_), SortKey::ExternalId)
        | (IndexKey::LastModified(..), SortKey::LastModified)
        | (IndexKey::Created(..), SortKey::Created) => true,
        (IndexKey::Text(column, TextOp::Prefix, _), _) => matches!(
            (column, sort),
            (TextColumn::UserNameLower, SortKey::UserName)
                | (TextColumn::DisplayNameLower, SortKey::DisplayName)
                | (TextColumn::ExternalId, SortKey::ExternalId)
        ),
        _ => false,
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

/// The member ids a PATCH's changes add, in order.
fn added_member_ids(changes: &[scim::patch::MemberChange]) -> Vec<String> {
    changes
        .iter()
        .flat_map(|c| match c {
            scim::patch::MemberChange::Add(ids) | scim::patch::MemberChange::ReplaceAll(ids) => {
                ids.as_slice()
            }
            _ => &[],
        })
        .cloned()
        .collect()
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

/// How many member ids the changes add.
fn added_count(changes: &[MembershipChange]) -> usize {
    changes
        .iter()
        .map(|c| match c {
            MembershipChange::Add(ids) => ids.len(),
            _ => 0,
        })
        .sum()
}

/// Every member id the changes add, each once.
fn added_members(changes: &[MembershipChange]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in changes {
        if let MembershipChange::Add(ids) = c {
            for id in ids {
                if seen.insert(id.as_str()) {
                    out.push(id.clone());
                }
            }
        }
    }
    out
}

/// Removes the member ids `gone` says cannot be members from every add and remove.
fn drop_members(changes: &mut [MembershipChange], gone: impl Fn(&str) -> bool) {
    for c in changes.iter_mut() {
        if let MembershipChange::Add(ids) | MembershipChange::Remove(ids) = c {
            ids.retain(|m| !gone(m));
        }
    }
}

/// What a group filter needs to know of a group's members to be checked. `members[value eq
/// "…"]` and `members.value eq "…"` ask only whether those ids are members, and `members pr`
/// whether there is any: a group rendered with just those members answers them exactly as the
/// whole list would, so a filter an IdP sends to check one membership costs O(ids), not
/// O(group). Any other question about members (another operator or sub-attribute, a `not`
/// inside the brackets) needs the whole list.
#[derive(Debug, Clone, PartialEq)]
enum MemberNeed {
    Nothing,
    Probe { ids: Vec<String>, any: bool },
    All,
}

impl MemberNeed {
    fn of(filter: Option<&Filter>) -> MemberNeed {
        filter.map_or(MemberNeed::Nothing, Self::of_filter)
    }

    fn of_filter(f: &Filter) -> MemberNeed {
        let members = |p: &AttrPath| p.attr.eq_ignore_ascii_case("members");
        let value = |p: &AttrPath| {
            p.sub_attr
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("value"))
        };
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => Self::of_filter(a).merge(Self::of_filter(b)),
            Filter::Not(a) => Self::of_filter(a),
            Filter::Present(p) if members(p) => {
                if p.sub_attr.is_none() || value(p) {
                    MemberNeed::Probe {
                        ids: Vec::new(),
                        any: true,
                    }
                } else {
                    MemberNeed::All
                }
            }
            Filter::Compare(p, CompareOp::Eq, CompValue::String(v)) if members(p) && value(p) => {
                MemberNeed::Probe {
                    ids: vec![v.clone()],
                    any: false,
                }
            }
            Filter::Present(p) | Filter::Compare(p, _, _) if members(p) => MemberNeed::All,
            Filter::ValuePath(p, inner) if members(p) => Self::of_member_filter(inner),
            _ => MemberNeed::Nothing,
        }
    }

    /// Inside `members[…]`: paths are relative to one member.
    fn of_member_filter(f: &Filter) -> MemberNeed {
        let value = |p: &AttrPath| p.sub_attr.is_none() && p.attr.eq_ignore_ascii_case("value");
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                Self::of_member_filter(a).merge(Self::of_member_filter(b))
            }
            Filter::Compare(p, CompareOp::Eq, CompValue::String(v)) if value(p) => {
                MemberNeed::Probe {
                    ids: vec![v.clone()],
                    any: false,
                }
            }
            Filter::Present(p) if value(p) => MemberNeed::Probe {
                ids: Vec::new(),
                any: true,
            },
            _ => MemberNeed::All,
        }
    }

    fn merge(self, other: MemberNeed) -> MemberNeed {
        match (self, other) {
            (MemberNeed::All, _) | (_, MemberNeed::All) => MemberNeed::All,
            (MemberNeed::Nothing, x) | (x, MemberNeed::Nothing) => x,
            (MemberNeed::Probe { ids: mut a, any: x }, MemberNeed::Probe { ids: b, any: y }) => {
                a.extend(b);
                MemberNeed::Probe {
                    ids: a,
                    any: x || y,
                }
            }
        }
    }
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
            (ResourceKind::User, "username") => {
                Some(IndexKey::UserNameLower(identity::user_name_key(s)))
            }
            (_, "displayname") => Some(IndexKey::DisplayNameLower(s.to_lowercase())),
            (ResourceKind::User, "emails.value") | (ResourceKind::User, "emails") => {
                Some(IndexKey::EmailLower(identity::email_key(s)))
            }
            _ => None,
        },
        (CompareOp::Sw | CompareOp::Co | CompareOp::Ew, CompValue::String(s)) => {
            let op = match op {
                CompareOp::Sw => TextOp::Prefix,
                CompareOp::Co => TextOp::Contains,
                _ => TextOp::Suffix,
            };
            // The columns keep what the filter compares: lower-cased where the attribute is
            // case-insensitive (the filter folds both sides with `to_lowercase`), as given
            // for externalId, which is case-exact.
            let (column, value) = match (kind, name.as_str()) {
                (_, "externalid") => (TextColumn::ExternalId, s.clone()),
                (ResourceKind::User, "username") => (TextColumn::UserNameLower, s.to_lowercase()),
                (_, "displayname") => (TextColumn::DisplayNameLower, s.to_lowercase()),
                (ResourceKind::User, "emails.value") | (ResourceKind::User, "emails") => {
                    (TextColumn::EmailLower, s.to_lowercase())
                }
                _ => return None,
            };
            Some(IndexKey::Text(column, op, value))
        }
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

    /// A filter that checks one membership asks for those ids only, never the whole list.
    #[test]
    fn membership_checks_need_only_the_ids_they_name() {
        let need = |f: &str| MemberNeed::of(Some(&scim::filter::parse_filter(f).unwrap()));
        let probe = |ids: &[&str], any: bool| MemberNeed::Probe {
            ids: ids.iter().map(|s| s.to_string()).collect(),
            any,
        };
        assert_eq!(need("displayName eq \"a\""), MemberNeed::Nothing);
        assert_eq!(need("members[value eq \"u1\"]"), probe(&["u1"], false));
        assert_eq!(
            need("id eq \"g\" and members.value eq \"u1\""),
            probe(&["u1"], false)
        );
        assert_eq!(
            need("members[value eq \"u1\" or value eq \"u2\"] or not (members.value eq \"u3\")"),
            probe(&["u1", "u2", "u3"], false)
        );
        assert_eq!(need("members pr"), probe(&[], true));
        assert_eq!(need("members[value pr]"), probe(&[], true));
        for whole in [
            "members.display eq \"Jane\"",
            "members.value co \"u\"",
            "members.value ne \"u1\"",
            "members[not (value eq \"u1\")]",
            "members[type eq \"User\"]",
            "members[value eq \"u1\"] and members.display pr",
        ] {
            assert_eq!(need(whole), MemberNeed::All, "{whole}");
        }
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
        // sw / co / ew on the indexed text columns: folded where the attribute is
        // case-insensitive, as given for externalId (case-exact).
        for (filter, kind, key) in [
            (
                "userName sw \"Jane\"",
                ResourceKind::User,
                IndexKey::Text(TextColumn::UserNameLower, TextOp::Prefix, "jane".into()),
            ),
            (
                "emails.value co \"@Acme\"",
                ResourceKind::User,
                IndexKey::Text(TextColumn::EmailLower, TextOp::Contains, "@acme".into()),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:emails ew \".COM\"",
                ResourceKind::User,
                IndexKey::Text(TextColumn::EmailLower, TextOp::Suffix, ".com".into()),
            ),
            (
                "externalId sw \"00U\"",
                ResourceKind::Group,
                IndexKey::Text(TextColumn::ExternalId, TextOp::Prefix, "00U".into()),
            ),
            (
                "displayName ew \"Ops\"",
                ResourceKind::Group,
                IndexKey::Text(TextColumn::DisplayNameLower, TextOp::Suffix, "ops".into()),
            ),
        ] {
            let f = scim::filter::parse_filter(filter).unwrap();
            assert_eq!(
                plan_query(kind, Some(&f)),
                QueryPlan {
                    key: Some(key),
                    exact: true
                },
                "{filter}"
            );
        }
        // Attributes without a column are no key: groups have no userName, title no index.
        for filter in ["title sw \"a\"", "name.givenName co \"a\""] {
            let f = scim::filter::parse_filter(filter).unwrap();
            assert_eq!(
                plan_query(ResourceKind::User, Some(&f)).key,
                None,
                "{filter}"
            );
        }
        let f = scim::filter::parse_filter("userName sw \"a\"").unwrap();
        assert_eq!(plan_query(ResourceKind::Group, Some(&f)).key, None);
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
