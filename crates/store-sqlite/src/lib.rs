//! The directory's [`Store`] on embedded SQLite.
//!
//! WAL mode with `synchronous = NORMAL`: readers never block the writer and a commit does not
//! wait for fsync (a power cut may lose the last commits, never corrupt the file). SQLite has
//! one writer at a time: writes go to one writer thread that commits whatever is waiting as
//! one transaction; reads run on the caller's thread over a pool of read-only connections
//! (see [`engine`]).

use async_trait::async_trait;
use directory::ids::{AdminId, GroupId, OrgId, TokenId, UserId};
use directory::model::{
    AdminAccount, AdminInvite, AdminKeyRecord, AuditEvent, ConsoleSession, DomainClaim,
    DomainProof, GroupRecord, Member, MembershipChange, Organization, Page, SamlConnection,
    ScimTokenRecord, SessionRecord, UserRecord,
};
use directory::query::{AuditQuery, ScanQuery, StoreQuery, UserListPage, UserListQuery};
use directory::store::{
    FoldedAuditEvent, GroupChange, ScannedUser, Store, StoreError, StoreResult, StoredAuditEvent,
    UserChange, UserGroup,
};
use directory::store::{SignInLimit, SignInReservation};
use directory::token::DomainList;
use engine::{Engine, Location};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

mod audit;
mod console;
mod console_groups;
mod console_roles;
mod console_users;
mod cursors;
mod domains;
mod engine;
mod groups;
mod last_event;
mod migrate;
mod query;
mod rows;
mod sso;
mod tenancy;
mod users;

pub struct SqliteStore {
    engine: Engine,
    cursors: Arc<cursors::PageCursors>,
}

/// Reads `sqlite://path`, `sqlite:path` (relative or absolute) or `sqlite::memory:`.
fn location(url: &str) -> StoreResult<Location> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            StoreError::Backend(format!(
                "'{url}' is not a SQLite URL: write sqlite://path/to/file.db"
            ))
        })?;
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    if path == ":memory:" || options.split('&').any(|o| o == "mode=memory") {
        return Ok(Location::Memory);
    }
    if path.is_empty() {
        return Err(StoreError::Backend(format!(
            "'{url}' names no file: write sqlite://path/to/file.db"
        )));
    }
    Ok(Location::File(PathBuf::from(path)))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let location = location(url)?;
        let writer_location = location.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let mut conn = engine::open_writer(&writer_location)?;
            migrate::run(&mut conn)?;
            Ok::<_, StoreError>(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database failed: {e}")))??;
        Ok(SqliteStore {
            engine: Engine::start(&location, writer)?,
            cursors: Arc::default(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.engine
            .read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(engine::backend)
            })
            .await
    }

    async fn create_org(&self, org: &Organization) -> StoreResult<()> {
        let org = org.clone();
        self.engine
            .write(move |c| tenancy::create_org(c, &org))
            .await
    }

    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>> {
        let slug = slug.to_string();
        self.engine
            .read(move |c| tenancy::org_by_slug(c, &slug))
            .await
    }

    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>> {
        self.engine.read(move |c| tenancy::org_by_id(c, id)).await
    }

    async fn list_orgs(&self) -> StoreResult<Vec<Organization>> {
        self.engine.read_long(tenancy::list_orgs).await
    }

    async fn create_token(&self, t: &ScimTokenRecord) -> StoreResult<()> {
        let t = t.clone();
        self.engine
            .write(move |c| tenancy::create_token(c, &t))
            .await
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>> {
        let hash = hash.to_string();
        self.engine
            .read(move |c| tenancy::token_by_hash(c, &hash))
            .await
    }

    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>> {
        self.engine
            .read(move |c| tenancy::list_tokens(c, org))
            .await
    }

    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        self.engine
            .write(move |c| tenancy::revoke_token(c, org, id, at))
            .await
    }

    async fn set_token_domains(
        &self,
        org: OrgId,
        id: TokenId,
        domains: &DomainList,
    ) -> StoreResult<()> {
        let domains = domains.clone();
        self.engine
            .write(move |c| tenancy::set_token_domains(c, org, id, &domains))
            .await
    }

    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()> {
        self.engine
            .write(move |c| tenancy::touch_token(c, org, id, at))
            .await
    }

    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.engine
            .write(move |c| tenancy::create_admin_key(c, &key))
            .await
    }

    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>> {
        let hash = hash.to_string();
        self.engine
            .read(move |c| tenancy::admin_key_by_hash(c, &hash))
            .await
    }

    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        let u = u.clone();
        self.engine.write(move |c| users::insert(c, &u)).await
    }

    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<Option<UserRecord>> {
        let found = self
            .engine
            .read(move |c| users::get(c, org, id, false))
            .await?;
        Ok(found.map(|(u, _)| u))
    }

    async fn update_user(&self, u: &UserRecord, expected_version: i64) -> StoreResult<()> {
        let u = u.clone();
        self.engine
            .write(move |c| users::write_row(c, &u, expected_version))
            .await
    }

    async fn modify_user(
        &self,
        org: OrgId,
        id: UserId,
        change: UserChange,
    ) -> StoreResult<UserRecord> {
        self.engine
            .write(move |c| users::modify(c, org, id, change))
            .await
    }

    async fn get_user_with_groups(
        &self,
        org: OrgId,
        id: UserId,
        with_groups: bool,
    ) -> StoreResult<Option<(UserRecord, Vec<UserGroup>)>> {
        self.engine
            .read(move |c| users::get(c, org, id, with_groups))
            .await
    }

    async fn delete_user(&self, org: OrgId, id: UserId) -> StoreResult<()> {
        // Every later position of a page moves: what import cursors remember is void.
        let _deleting = self.cursors.deleting();
        self.engine.write(move |c| users::delete(c, org, id)).await
    }

    async fn query_users(&self, org: OrgId, q: &StoreQuery) -> StoreResult<Page<UserRecord>> {
        let page = self.query_users_with_groups(org, q, false).await?;
        Ok(Page {
            total: page.total,
            items: page.items.into_iter().map(|(u, _)| u).collect(),
        })
    }

    async fn query_users_with_groups(
        &self,
        org: OrgId,
        q: &StoreQuery,
        with_groups: bool,
    ) -> StoreResult<Page<(UserRecord, Vec<UserGroup>)>> {
        let point = query::is_point_lookup(q);
        let (q, cursors) = (q.clone(), Arc::clone(&self.cursors));
        let work = move |c: &rusqlite::Connection| users::query(c, org, &q, with_groups, &cursors);
        if point {
            self.engine.read(work).await
        } else {
            self.engine.read_long(work).await
        }
    }

    async fn scan_users(
        &self,
        org: OrgId,
        q: &ScanQuery,
        with_groups: bool,
    ) -> StoreResult<Vec<ScannedUser>> {
        let q = q.clone();
        // A chunk of a scan: a blocking thread, never an async worker or the writer.
        self.engine
            .read_long(move |c| users::scan(c, org, &q, with_groups))
            .await
    }

    async fn groups_of_users(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> StoreResult<HashMap<UserId, Vec<UserGroup>>> {
        let users = users.to_vec();
        self.engine
            .read_long(move |c| users::groups_of_many(c, org, &users))
            .await
    }

    async fn user_groups(&self, org: OrgId, user: UserId) -> StoreResult<Vec<UserGroup>> {
        self.engine
            .read(move |c| users::groups_of(c, org, user))
            .await
    }

    async fn list_users_page(&self, org: OrgId, q: &UserListQuery) -> StoreResult<UserListPage> {
        let q = q.clone();
        // With a search prefix the page reads every match: off the request's thread.
        if q.prefix.is_some() {
            self.engine
                .read_long(move |c| console_users::list_page(c, org, &q))
                .await
        } else {
            self.engine
                .read(move |c| console_users::list_page(c, org, &q))
                .await
        }
    }

    async fn user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<Vec<SessionRecord>> {
        self.engine
            .read(move |c| console_users::user_sessions(c, org, user))
            .await
    }

    async fn insert_group(&self, g: &GroupRecord, members: &[String]) -> StoreResult<()> {
        let (g, members) = (g.clone(), members.to_vec());
        self.engine
            .write(move |c| groups::insert(c, &g, &members))
            .await
    }

    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Option<GroupRecord>> {
        self.engine.read(move |c| groups::get(c, org, id)).await
    }

    async fn group_members(&self, org: OrgId, id: GroupId) -> StoreResult<Vec<Member>> {
        self.engine
            .read_long(move |c| groups::members(c, org, id))
            .await
    }

    async fn update_group(
        &self,
        g: &GroupRecord,
        expected_version: i64,
        changes: &[MembershipChange],
    ) -> StoreResult<()> {
        let (g, changes) = (g.clone(), changes.to_vec());
        self.engine
            .write(move |c| groups::write_row(c, &g, expected_version, &changes))
            .await
    }

    async fn modify_group(
        &self,
        org: OrgId,
        id: GroupId,
        change: GroupChange,
    ) -> StoreResult<GroupRecord> {
        self.engine
            .write(move |c| groups::modify(c, org, id, change))
            .await
    }

    async fn known_members(&self, org: OrgId, ids: &[String]) -> StoreResult<HashSet<String>> {
        let ids = ids.to_vec();
        self.engine
            .read_long(move |c| groups::known_members(c, org, &ids))
            .await
    }

    async fn delete_group(&self, org: OrgId, id: GroupId) -> StoreResult<()> {
        self.engine.write(move |c| groups::delete(c, org, id)).await
    }

    async fn query_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        q: &StoreQuery,
    ) -> StoreResult<Page<GroupRecord>> {
        let point = query::is_point_lookup(q);
        let q = q.clone();
        let work = move |c: &rusqlite::Connection| groups::query(c, org, scim_only, &q);
        if point {
            self.engine.read(work).await
        } else {
            self.engine.read_long(work).await
        }
    }

    async fn scan_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        q: &ScanQuery,
    ) -> StoreResult<Vec<(i64, GroupRecord)>> {
        let q = q.clone();
        self.engine
            .read_long(move |c| groups::scan(c, org, scim_only, &q))
            .await
    }

    async fn list_groups_after(
        &self,
        org: OrgId,
        name_prefix: Option<&str>,
        after: Option<&(String, GroupId)>,
        limit: u32,
    ) -> StoreResult<Vec<GroupRecord>> {
        let (prefix, after) = (name_prefix.map(str::to_string), after.cloned());
        self.engine
            .read(move |c| {
                console_groups::list_after(c, org, prefix.as_deref(), after.as_ref(), limit)
            })
            .await
    }

    async fn group_members_among(
        &self,
        org: OrgId,
        id: GroupId,
        ids: &[String],
    ) -> StoreResult<Vec<Member>> {
        let ids = ids.to_vec();
        self.engine
            .read(move |c| console_groups::members_among(c, org, id, &ids))
            .await
    }

    async fn group_members_after(
        &self,
        org: OrgId,
        id: GroupId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let after = after.map(str::to_string);
        self.engine
            .read(move |c| console_groups::members_after(c, org, id, after.as_deref(), limit))
            .await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        let events = events.to_vec();
        self.engine.write(move |c| audit::append(c, &events)).await
    }

    async fn append_audit_folded(&self, events: &[FoldedAuditEvent]) -> StoreResult<()> {
        let events = events.to_vec();
        self.engine
            .write(move |c| audit::append_folded(c, &events))
            .await
    }

    async fn list_audit(&self, org: OrgId, q: &AuditQuery) -> StoreResult<Vec<StoredAuditEvent>> {
        let q = q.clone();
        self.engine
            .read_long(move |c| audit::list(c, org, &q))
            .await
    }

    async fn put_saml_connection(&self, conn: &SamlConnection) -> StoreResult<()> {
        let conn = conn.clone();
        self.engine
            .write(move |c| sso::put_connection(c, &conn))
            .await
    }

    async fn saml_connection(&self, org: OrgId) -> StoreResult<Option<SamlConnection>> {
        self.engine.read(move |c| sso::connection(c, org)).await
    }

    async fn saml_connection_by_client_id(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<SamlConnection>> {
        let client_id = client_id.to_string();
        self.engine
            .read(move |c| sso::connection_by_client_id(c, &client_id))
            .await
    }

    async fn last_audit_event(
        &self,
        org: OrgId,
        operation_prefix: &str,
        succeeded_only: bool,
    ) -> StoreResult<Option<StoredAuditEvent>> {
        let upper = directory::query::prefix_upper_bound(operation_prefix).ok_or_else(|| {
            StoreError::Backend("the operation prefix must be non-empty ASCII".into())
        })?;
        let prefix = operation_prefix.to_string();
        self.engine
            .read(move |c| last_event::newest(c, org, &prefix, &upper, succeeded_only))
            .await
    }

    async fn org_for_login_domain(&self, domain: &str) -> StoreResult<Option<OrgId>> {
        let domain = domain.to_string();
        self.engine
            .read(move |c| domains::org_for_domain(c, &domain))
            .await
    }

    async fn login_domain_claims(&self, org: OrgId) -> StoreResult<Vec<DomainClaim>> {
        self.engine.read(move |c| domains::claims(c, org)).await
    }

    async fn replace_login_domain_claims(
        &self,
        org: OrgId,
        claims: &[DomainClaim],
    ) -> StoreResult<(Vec<String>, Vec<String>)> {
        let claims = claims.to_vec();
        self.engine
            .write(move |c| domains::replace_claims(c, org, &claims))
            .await
    }

    async fn add_login_domain_claim(&self, claim: &DomainClaim) -> StoreResult<bool> {
        let claim = claim.clone();
        self.engine
            .write(move |c| domains::add_claim(c, &claim))
            .await
    }

    async fn verify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        at: OffsetDateTime,
        displaced_note: &str,
    ) -> StoreResult<Vec<OrgId>> {
        let domain = domain.to_string();
        let note = displaced_note.to_string();
        self.engine
            .write(move |c| domains::verify(c, org, &domain, proof, at, &note))
            .await
    }

    async fn record_login_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        failure: Option<&str>,
        lapse_after: u32,
    ) -> StoreResult<DomainClaim> {
        let domain = domain.to_string();
        let failure = failure.map(str::to_string);
        self.engine
            .write(move |c| {
                domains::record_check(c, org, &domain, at, failure.as_deref(), lapse_after)
            })
            .await
    }

    async fn record_login_domain_unanswered(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<()> {
        let domain = domain.to_string();
        let note = note.to_string();
        self.engine
            .write(move |c| domains::record_unanswered(c, org, &domain, at, &note))
            .await
    }

    async fn unverify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        note: &str,
    ) -> StoreResult<bool> {
        let domain = domain.to_string();
        let note = note.to_string();
        self.engine
            .write(move |c| domains::unverify(c, org, &domain, &note))
            .await
    }

    async fn login_domains_due_for_check(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<DomainClaim>> {
        self.engine
            .read(move |c| domains::due_for_check(c, checked_before, limit))
            .await
    }

    async fn remember_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        return_to: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let (request_id, return_to) = (request_id.to_string(), return_to.to_string());
        self.engine
            .write(move |c| sso::remember_request(c, org, &request_id, &return_to, expires_at))
            .await
    }

    async fn take_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>> {
        let request_id = request_id.to_string();
        self.engine
            .write(move |c| sso::take_request(c, org, &request_id, now))
            .await
    }

    async fn remember_assertion(
        &self,
        org: OrgId,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let assertion_id = assertion_id.to_string();
        self.engine
            .write(move |c| sso::remember_assertion(c, org, &assertion_id, until, now))
            .await
    }

    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        let session = session.clone();
        self.engine
            .write(move |c| sso::create_session(c, &session))
            .await
    }

    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let id_hash = id_hash.to_string();
        self.engine
            .read(move |c| sso::session_by_hash(c, &id_hash))
            .await
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| sso::touch_session(c, &id_hash, now, idle_expires_at))
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| sso::delete_session(c, &id_hash))
            .await
    }

    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        self.engine
            .write(move |c| sso::delete_user_sessions(c, org, user))
            .await
    }

    async fn create_admin(&self, admin: &AdminAccount) -> StoreResult<()> {
        let admin = admin.clone();
        self.engine
            .write(move |c| console::create_admin(c, &admin))
            .await
    }

    async fn admin_by_email(&self, org: OrgId, email: &str) -> StoreResult<Option<AdminAccount>> {
        let email = email.to_string();
        self.engine
            .read(move |c| console::admin_by_email(c, org, &email))
            .await
    }

    async fn admin_by_id(&self, org: OrgId, id: AdminId) -> StoreResult<Option<AdminAccount>> {
        self.engine
            .read(move |c| console::admin_by_id(c, org, id))
            .await
    }

    async fn set_admin_password(&self, org: OrgId, id: AdminId, hash: &str) -> StoreResult<()> {
        let hash = hash.to_string();
        self.engine
            .write(move |c| console::set_admin_password(c, org, id, &hash))
            .await
    }

    async fn record_admin_sign_in(
        &self,
        org: OrgId,
        id: AdminId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.engine
            .write(move |c| console::record_admin_sign_in(c, org, id, at))
            .await
    }

    async fn create_admin_invite(&self, invite: &AdminInvite) -> StoreResult<()> {
        let invite = invite.clone();
        self.engine
            .write(move |c| console::create_invite(c, &invite))
            .await
    }

    async fn admin_invite_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminInvite>> {
        let token_hash = token_hash.to_string();
        self.engine
            .read(move |c| console::invite_by_hash(c, &token_hash))
            .await
    }

    async fn take_admin_invite(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AdminInvite>> {
        let token_hash = token_hash.to_string();
        self.engine
            .write(move |c| console::take_invite(c, &token_hash, now))
            .await
    }

    async fn list_admins(&self, org: OrgId) -> StoreResult<Vec<AdminAccount>> {
        self.engine
            .read(move |c| console_roles::list_admins(c, org))
            .await
    }

    async fn delete_admin(&self, org: OrgId, id: AdminId) -> StoreResult<()> {
        self.engine
            .write(move |c| console_roles::delete_admin(c, org, id))
            .await
    }

    async fn link_admin_user(&self, org: OrgId, id: AdminId, user: UserId) -> StoreResult<()> {
        self.engine
            .write(move |c| console_roles::link_admin_user(c, org, id, user))
            .await
    }

    async fn admin_by_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<AdminAccount>> {
        self.engine
            .read(move |c| console_roles::admin_by_user(c, org, user))
            .await
    }

    async fn admin_group(&self, org: OrgId) -> StoreResult<Option<GroupId>> {
        self.engine
            .read(move |c| console_roles::admin_group(c, org))
            .await
    }

    async fn set_admin_group(
        &self,
        org: OrgId,
        group: Option<GroupId>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.engine
            .write(move |c| console_roles::set_admin_group(c, org, group, at))
            .await
    }

    async fn grant_admin_role(
        &self,
        org: OrgId,
        user: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.engine
            .write(move |c| console_roles::grant_admin_role(c, org, user, at))
            .await
    }

    async fn revoke_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        self.engine
            .write(move |c| console_roles::revoke_admin_role(c, org, user))
            .await
    }

    async fn admin_role_users(&self, org: OrgId) -> StoreResult<Vec<UserId>> {
        self.engine
            .read(move |c| console_roles::admin_role_users(c, org))
            .await
    }

    async fn holds_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        self.engine
            .read(move |c| console_roles::holds_admin_role(c, org, user))
            .await
    }

    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        let session = session.clone();
        self.engine
            .write(move |c| console::create_session(c, &session))
            .await
    }

    async fn console_session_by_hash(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        let id_hash = id_hash.to_string();
        self.engine
            .read(move |c| console::session_by_hash(c, &id_hash))
            .await
    }

    async fn touch_console_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| console::touch_session(c, &id_hash, now, idle_expires_at))
            .await
    }

    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| console::delete_session(c, &id_hash))
            .await
    }

    async fn delete_admin_console_sessions(&self, org: OrgId, admin: AdminId) -> StoreResult<u64> {
        self.engine
            .write(move |c| console::delete_admin_sessions(c, org, admin))
            .await
    }

    async fn delete_user_console_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        self.engine
            .write(move |c| console_roles::delete_user_sessions(c, org, user))
            .await
    }

    async fn reserve_sign_in_attempt(
        &self,
        limits: &[SignInLimit],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<SignInReservation> {
        let limits = limits.to_vec();
        self.engine
            .write(move |c| console::reserve_sign_in_attempt(c, &limits, now, window))
            .await
    }

    async fn release_sign_in_attempt(&self, key: &str, at: OffsetDateTime) -> StoreResult<()> {
        let key = key.to_string();
        self.engine
            .write(move |c| console::release_sign_in_attempt(c, &key, at))
            .await
    }

    async fn failed_sign_ins(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<u32> {
        let key = key.to_string();
        self.engine
            .read(move |c| console::failed_sign_ins(c, &key, now, window))
            .await
    }

    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.engine
            .write(move |c| console::clear_failed_sign_ins(c, &key))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(location("sqlite::memory:"), Ok(Location::Memory)));
        assert!(matches!(
            location("sqlite://file:x?mode=memory&cache=shared"),
            Ok(Location::Memory)
        ));
        match location("sqlite://./portcullis-data/portcullis.db?mode=rwc") {
            Ok(Location::File(p)) => {
                assert_eq!(p, PathBuf::from("./portcullis-data/portcullis.db"))
            }
            other => panic!("{other:?}"),
        }
        match location("sqlite:///var/lib/p.db") {
            Ok(Location::File(p)) => assert_eq!(p, PathBuf::from("/var/lib/p.db")),
            other => panic!("{other:?}"),
        }
        assert!(location("postgres://x").is_err());
        assert!(location("sqlite://").is_err());
    }
}
