//! The Store trait: every backend (SQLite, PostgreSQL) implements it and passes the same suite.
//!
//! Every method that touches tenant data takes the organization id first; there is no finder
//! that skips it. Each method is one atomic unit: it commits wholly or not at all.

use crate::ids::{AdminId, GroupId, OrgId, TokenId, UserId};
use crate::model::{
    AdminAccount, AdminInvite, AdminKeyRecord, AuditEvent, ConsoleSession, DomainClaim,
    DomainProof, GroupRecord, Member, MembershipChange, Organization, Page, SamlConnection,
    ScimTokenRecord, SessionRecord, UserRecord,
};
use crate::query::{AuditQuery, ScanQuery, StoreQuery, UserListPage, UserListQuery};
use crate::token::DomainList;
use async_trait::async_trait;
use time::OffsetDateTime;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StoreError {
    /// A unique key is taken; the string names it (e.g. `userName`).
    #[error("unique key taken: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// The row changed since it was read (optimistic concurrency / If-Match).
    #[error("version mismatch")]
    VersionMismatch,
    /// A member id that is not a user or group of this organization.
    #[error("unknown member {0}")]
    UnknownMember(String),
    /// The change function refused the change (a rule of the directory, a stale If-Match…).
    #[error("refused: {0}")]
    Refused(Box<crate::Error>),
    /// The database failed; the text goes to the log, never to a client.
    #[error("database: {0}")]
    Backend(String),
}

/// A read-modify-write of a user, run by the store inside its write transaction with the
/// row held, so concurrent changes queue instead of failing. Returns the next record (the
/// function sets its version), or refuses with a domain error. Owned and `'static`: a store
/// may run it on another thread (SQLite's writer thread).
pub type UserChange =
    Box<dyn FnOnce(&UserRecord) -> Result<UserRecord, crate::Error> + Send + 'static>;

/// The same for a group: the next record and the membership changes to apply, in order.
pub type GroupChange = Box<
    dyn FnOnce(&GroupRecord) -> Result<(GroupRecord, Vec<MembershipChange>), crate::Error>
        + Send
        + 'static,
>;

/// A group a user belongs to: id, displayName, whether SCIM sees it.
pub type UserGroup = (GroupId, String, bool);

/// A user read by a scan: its insertion position (`seq`), the record, and its groups when
/// they were asked for.
pub type ScannedUser = (i64, UserRecord, Vec<UserGroup>);

pub type StoreResult<T> = Result<T, StoreError>;

/// One budget a sign-in attempt is counted against: a key (an organization and email, a
/// client address) and how many attempts its window allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLimit {
    pub key: String,
    pub limit: u32,
}

/// What [`Store::reserve_sign_in_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInReservation {
    /// Counted under every key: the password may be checked.
    Allowed,
    /// Nothing was counted: the limit at this index of the list given is reached.
    Throttled { full: usize },
}

/// An audit event as read back, with its position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAuditEvent {
    pub seq: i64,
    pub event: AuditEvent,
    /// How many identical events this row stands for (1 unless folded, see
    /// [`FoldedAuditEvent`]).
    pub repeated: u64,
    /// When the last of them happened, if more than one did.
    pub last_at: Option<time::OffsetDateTime>,
}

/// An audit event that folds into an earlier identical one instead of taking a row of its
/// own: the newest event of the same organization with the same `fold_key` at or after
/// `window_start` gets `count` added to its `repeated`. Only when there is none is a row
/// written. Anyone can make the ACS refuse them, so its refusals are written this way.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedAuditEvent {
    pub event: AuditEvent,
    /// What makes two events identical, the organization aside: for the ACS, the refusal's
    /// reason and the client address.
    pub fold_key: String,
    /// How many occurrences this event stands for (at least 1).
    pub count: u64,
    pub window_start: time::OffsetDateTime,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;

    // Organizations.
    async fn create_org(&self, org: &Organization) -> StoreResult<()>;
    async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Organization>>;
    async fn org_by_id(&self, id: OrgId) -> StoreResult<Option<Organization>>;
    async fn list_orgs(&self) -> StoreResult<Vec<Organization>>;

    // SCIM tokens.
    async fn create_token(&self, token: &ScimTokenRecord) -> StoreResult<()>;
    /// The one lookup not scoped by organization: the token hash is what names the organization.
    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<ScimTokenRecord>>;
    async fn list_tokens(&self, org: OrgId) -> StoreResult<Vec<ScimTokenRecord>>;
    async fn revoke_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()>;
    async fn set_token_domains(
        &self,
        org: OrgId,
        id: TokenId,
        domains: &DomainList,
    ) -> StoreResult<()>;
    async fn touch_token(&self, org: OrgId, id: TokenId, at: OffsetDateTime) -> StoreResult<()>;

    // Operator API keys.
    async fn create_admin_key(&self, key: &AdminKeyRecord) -> StoreResult<()>;
    async fn admin_key_by_hash(&self, hash: &str) -> StoreResult<Option<AdminKeyRecord>>;

    // Users.
    /// Fails with `Conflict("userName")` when the lower-cased userName is taken in the org.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<Option<UserRecord>>;
    /// Writes `user` if the stored version is still `expected_version`; the caller has
    /// already bumped `user.version`.
    async fn update_user(&self, user: &UserRecord, expected_version: i64) -> StoreResult<()>;
    /// Reads the user, applies `change`, and writes the result, as one transaction during
    /// which no other change to this user can interleave. `NotFound` if absent.
    async fn modify_user(
        &self,
        org: OrgId,
        id: UserId,
        change: UserChange,
    ) -> StoreResult<UserRecord>;
    /// A user and, when `with_groups`, the groups they belong to, in one round trip where the
    /// backend can.
    async fn get_user_with_groups(
        &self,
        org: OrgId,
        id: UserId,
        with_groups: bool,
    ) -> StoreResult<Option<(UserRecord, Vec<UserGroup>)>> {
        let Some(user) = self.get_user(org, id).await? else {
            return Ok(None);
        };
        let groups = if with_groups {
            self.user_groups(org, id).await?
        } else {
            Vec::new()
        };
        Ok(Some((user, groups)))
    }
    /// The users of the organization among `ids` (unknown ids are left out), in no
    /// particular order: one round trip where the backend can.
    async fn users_by_ids(&self, org: OrgId, ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = self.get_user(org, *id).await? {
                out.push(u);
            }
        }
        Ok(out)
    }
    /// Removes the user and their memberships.
    async fn delete_user(&self, org: OrgId, id: UserId) -> StoreResult<()>;
    async fn query_users(&self, org: OrgId, query: &StoreQuery) -> StoreResult<Page<UserRecord>>;
    /// The groups a user belongs to: (id, displayName, scim_visible).
    async fn user_groups(
        &self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<(GroupId, String, bool)>>;
    /// A page of the console's user list, ascending by seq, each user with its seq. With
    /// `before_seq` the rows are the `limit` just before it (still returned ascending). Every
    /// combination of filters is served by an index: a page costs O(limit) without a prefix,
    /// O(users matching the prefix) with a narrow one. A broad prefix (many matches) walks the
    /// users in seq order; with `scan_limit` it examines at most that many users past the
    /// cursor, and when it stops there before the page is full `searched_to` says where.
    async fn list_users_page(&self, org: OrgId, query: &UserListQuery)
        -> StoreResult<UserListPage>;
    /// The user's SAML sign-in sessions, newest first.
    async fn user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<Vec<SessionRecord>>;

    /// A page of users and, when `with_groups`, each one's groups: in one round trip where
    /// the backend can (every IdP lookup by userName is such a page).
    async fn query_users_with_groups(
        &self,
        org: OrgId,
        query: &StoreQuery,
        with_groups: bool,
    ) -> StoreResult<Page<(UserRecord, Vec<UserGroup>)>> {
        let page = self.query_users(org, query).await?;
        let mut groups = if with_groups && !page.items.is_empty() {
            let ids: Vec<UserId> = page.items.iter().map(|u| u.id).collect();
            self.groups_of_users(org, &ids).await?
        } else {
            std::collections::HashMap::new()
        };
        Ok(Page {
            total: page.total,
            items: page
                .items
                .into_iter()
                .map(|u| {
                    let g = groups.remove(&u.id).unwrap_or_default();
                    (u, g)
                })
                .collect(),
        })
    }

    /// One chunk of a keyset scan of the organization's users ([`ScanQuery`]): at most
    /// `limit` users after `after_seq` matching the key, ascending by seq, each with its seq
    /// and (when `with_groups`) its groups. Memory and work per call are O(limit) rows
    /// (plus, for a key no index serves in seq order, a walk of the seq index). Never on an
    /// async worker thread of the caller, never on a writer.
    async fn scan_users(
        &self,
        org: OrgId,
        query: &ScanQuery,
        with_groups: bool,
    ) -> StoreResult<Vec<ScannedUser>>;

    /// The groups of several users at once (a page of a list), keyed by user.
    async fn groups_of_users(
        &self,
        org: OrgId,
        users: &[UserId],
    ) -> StoreResult<std::collections::HashMap<UserId, Vec<UserGroup>>> {
        let mut out = std::collections::HashMap::with_capacity(users.len());
        for u in users {
            out.insert(*u, self.user_groups(org, *u).await?);
        }
        Ok(out)
    }

    // Groups.
    /// Inserts the group and its initial members (each must be a user or group of the org).
    async fn insert_group(&self, group: &GroupRecord, members: &[String]) -> StoreResult<()>;
    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Option<GroupRecord>>;
    async fn group_members(&self, org: OrgId, id: GroupId) -> StoreResult<Vec<Member>>;
    /// Writes the group row and applies membership changes in order, in one transaction,
    /// if the stored version is still `expected_version`. Cost: O(changed members).
    async fn update_group(
        &self,
        group: &GroupRecord,
        expected_version: i64,
        changes: &[MembershipChange],
    ) -> StoreResult<()>;
    /// Reads the group, applies `change`, writes the row and the membership changes, as one
    /// transaction during which no other change to this group can interleave. Members that
    /// name no user or group of the organization fail with `UnknownMember`.
    async fn modify_group(
        &self,
        org: OrgId,
        id: GroupId,
        change: GroupChange,
    ) -> StoreResult<GroupRecord>;
    /// Which of `ids` name a user or group of the organization: lets a caller leave out every
    /// unknown member of a request in one go instead of learning them one failed write at a time.
    async fn known_members(
        &self,
        org: OrgId,
        ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>> {
        let mut known = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let is_user = match id.parse::<UserId>() {
                Ok(uid) => self.get_user(org, uid).await?.is_some(),
                Err(_) => false,
            };
            let is_group = !is_user
                && match id.parse::<GroupId>() {
                    Ok(gid) => self.get_group(org, gid).await?.is_some(),
                    Err(_) => false,
                };
            if is_user || is_group {
                known.insert(id.clone());
            }
        }
        Ok(known)
    }
    async fn delete_group(&self, org: OrgId, id: GroupId) -> StoreResult<()>;
    /// Groups SCIM sees when `scim_only`, else all.
    async fn query_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        query: &StoreQuery,
    ) -> StoreResult<Page<GroupRecord>>;
    /// One chunk of a keyset scan of the organization's groups (SCIM-visible ones when
    /// `scim_only`), as [`Store::scan_users`]: each with its seq.
    async fn scan_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        query: &ScanQuery,
    ) -> StoreResult<Vec<(i64, GroupRecord)>>;
    /// A page of the organization's groups (SCIM-visible or not) in lower-cased displayName
    /// order, then id: those whose lower-cased name starts with `name_prefix`, after the
    /// (lower-cased name, id) `after`. One walk of the (org, name) index: O(page).
    async fn list_groups_after(
        &self,
        org: OrgId,
        name_prefix: Option<&str>,
        after: Option<&(String, GroupId)>,
        limit: u32,
    ) -> StoreResult<Vec<GroupRecord>>;
    /// Which of `ids` are members of the group, as members: one indexed lookup per id,
    /// whatever the group's size (a filter asking whether someone is a member). Ids that are
    /// no member id are simply not found.
    async fn group_members_among(
        &self,
        org: OrgId,
        id: GroupId,
        ids: &[String],
    ) -> StoreResult<Vec<Member>>;
    /// A page of a group's members in member-id order after the member id `after`: O(page)
    /// whatever the group's size. An unknown group has no members.
    async fn group_members_after(
        &self,
        org: OrgId,
        id: GroupId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Member>>;

    // Audit.
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Appends events that fold into earlier identical ones (see [`FoldedAuditEvent`]), in
    /// order: one of them can fold into another of the same call.
    async fn append_audit_folded(&self, events: &[FoldedAuditEvent]) -> StoreResult<()>;
    async fn list_audit(
        &self,
        org: OrgId,
        query: &AuditQuery,
    ) -> StoreResult<Vec<StoredAuditEvent>>;

    // SAML connections (one per organization).
    /// Inserts or replaces the organization's connection. An existing connection keeps its
    /// Client ID, SP key pair and `created_at` (what the IdP was told never changes under it,
    /// even when two setups race): read the connection back to learn them.
    /// `Conflict("client_id")` when the Client ID is taken. Login domains are claims of their
    /// own (below).
    async fn put_saml_connection(&self, conn: &SamlConnection) -> StoreResult<()>;
    async fn saml_connection(&self, org: OrgId) -> StoreResult<Option<SamlConnection>>;
    /// The one SAML lookup not scoped by organization: the Client ID in the URL names it.
    async fn saml_connection_by_client_id(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<SamlConnection>>;
    /// The organization's newest audit event whose operation starts with `operation_prefix`
    /// (non-empty ASCII, e.g. `scim.` or `saml.signin`), only a successful one (status 2xx)
    /// when `succeeded_only`. Served by an index on (org, operation, seq): a few index seeks
    /// per distinct operation under the prefix, whatever the size of the log.
    async fn last_audit_event(
        &self,
        org: OrgId,
        operation_prefix: &str,
        succeeded_only: bool,
    ) -> StoreResult<Option<StoredAuditEvent>>;
    /// The organization whose people sign in with this (lower-cased) email domain: the one
    /// holding the domain's verified claim. Unverified claims route nothing.
    async fn org_for_login_domain(&self, domain: &str) -> StoreResult<Option<OrgId>>;

    // Login-domain claims (see `crate::login_domains`).
    /// The organization's claims, by domain, each with `verified_elsewhere` filled in.
    async fn login_domain_claims(&self, org: OrgId) -> StoreResult<Vec<DomainClaim>>;
    /// Makes `claims` the organization's set of claims, atomically: a claim on a domain it
    /// already claims is kept as it is stored (its proof and value stand), the others are
    /// inserted as given, and claims on domains not listed are deleted. Returns the domains
    /// added and the domains removed.
    async fn replace_login_domain_claims(
        &self,
        org: OrgId,
        claims: &[DomainClaim],
    ) -> StoreResult<(Vec<String>, Vec<String>)>;
    /// Inserts the claim unless the organization already claims the domain; true if inserted.
    async fn add_login_domain_claim(&self, claim: &DomainClaim) -> StoreResult<bool>;
    /// Marks the organization's claim on `domain` verified by `proof` at `at` (checks reset),
    /// and, in the same transaction, turns any other organization's verified claim on the
    /// domain unverified with `displaced_note`; returns those organizations. `NotFound` when
    /// the organization has no claim on the domain; `Conflict("domain <d>")` when another
    /// organization holds it by an operator's approval (or the upgrade) and `proof` is not
    /// `Operator`: only an operator moves what an operator decided.
    async fn verify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        at: OffsetDateTime,
        displaced_note: &str,
    ) -> StoreResult<Vec<OrgId>>;
    /// Records a DNS check of the claim at `at`: `None` (the record was there) resets the
    /// failed-check count and the note; `Some(why)` counts one more failure and keeps `why`
    /// as the note, and a claim verified by DNS whose count reaches `lapse_after` becomes
    /// unverified. Returns the claim as it now is; `NotFound` without one.
    async fn record_login_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        failure: Option<&str>,
        lapse_after: u32,
    ) -> StoreResult<DomainClaim>;
    /// Records a DNS check at `at` that got no answer to trust (timeout, server failure):
    /// the check time and `note` change, the failed-check count and the proof do not, so the
    /// claim waits a full interval before the next try. `NotFound` without a claim.
    async fn record_login_domain_unanswered(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<()>;
    /// Turns the organization's claim unverified with `note`; false when it was not verified.
    /// `NotFound` without a claim.
    async fn unverify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        note: &str,
    ) -> StoreResult<bool>;
    /// Claims verified by DNS whose last check is older than `checked_before` (or that were
    /// never checked), oldest first, at most `limit`: the periodic re-check's work list.
    async fn login_domains_due_for_check(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<DomainClaim>>;

    // SP-initiated sign-in: the AuthnRequests we sent and are waiting on.
    async fn remember_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        return_to: &str,
        expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Single use: the request is deleted whether or not it had expired. Returns its
    /// `return_to` when it existed and had not expired at `now`.
    async fn take_authn_request(
        &self,
        org: OrgId,
        request_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<String>>;

    /// The assertion replay cache: records `assertion_id` until `until` and returns true, or
    /// returns false when it is already recorded and not expired at `now`. Expired entries
    /// are purged on the way.
    async fn remember_assertion(
        &self,
        org: OrgId,
        assertion_id: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool>;

    // Browser sessions.
    async fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The one session lookup not scoped by organization: the cookie names it.
    async fn session_by_hash(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// Records activity: `last_seen_at = now`, a new idle expiry. `NotFound` if gone.
    async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64>;

    // Console administrators.
    /// `Conflict("email")` when the organization already has an admin with that email.
    async fn create_admin(&self, admin: &AdminAccount) -> StoreResult<()>;
    async fn admin_by_email(&self, org: OrgId, email: &str) -> StoreResult<Option<AdminAccount>>;
    async fn admin_by_id(&self, org: OrgId, id: AdminId) -> StoreResult<Option<AdminAccount>>;
    /// `NotFound` if the admin is not in this organization.
    async fn set_admin_password(&self, org: OrgId, id: AdminId, hash: &str) -> StoreResult<()>;
    /// `NotFound` if the admin is not in this organization.
    async fn record_admin_sign_in(
        &self,
        org: OrgId,
        id: AdminId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn create_admin_invite(&self, invite: &AdminInvite) -> StoreResult<()>;
    /// The invite as stored, used or not (to show its form); not scoped: the link names it.
    async fn admin_invite_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminInvite>>;
    /// Marks the invite used and returns it, atomically: concurrent takes see it once. An
    /// unknown, used or expired invite gives `None`. Not scoped: the link names it.
    async fn take_admin_invite(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AdminInvite>>;

    /// The organization's admins, oldest first (a handful: the admins page lists them all).
    async fn list_admins(&self, org: OrgId) -> StoreResult<Vec<AdminAccount>>;
    /// Removes the admin with their console sessions and pending invitations, together.
    /// `NotFound` if the admin is not in this organization.
    async fn delete_admin(&self, org: OrgId, id: AdminId) -> StoreResult<()>;
    /// Links the admin to the directory user they sign in as through SAML. `NotFound` if the
    /// admin is not in this organization; `Conflict("user")` when another admin has the user.
    async fn link_admin_user(&self, org: OrgId, id: AdminId, user: UserId) -> StoreResult<()>;
    async fn admin_by_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<AdminAccount>>;
    /// The group whose direct members are admins, if one is chosen.
    async fn admin_group(&self, org: OrgId) -> StoreResult<Option<GroupId>>;
    /// Chooses the admin group, or with `None` clears it.
    async fn set_admin_group(
        &self,
        org: OrgId,
        group: Option<GroupId>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Grants the admin role to a user of the organization; granting twice is no error.
    async fn grant_admin_role(
        &self,
        org: OrgId,
        user: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Takes the role back; returns whether the user had it.
    async fn revoke_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool>;
    /// The users granted the role directly, oldest grant first.
    async fn admin_role_users(&self, org: OrgId) -> StoreResult<Vec<UserId>>;
    /// Whether the user exists, is active, and is granted the role or is a direct member of
    /// the admin group. Point lookups only: it runs on every request of an SSO console session.
    async fn holds_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool>;

    // Console sessions.
    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    /// Not scoped by organization: the cookie names it.
    async fn console_session_by_hash(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>>;
    /// `last_seen_at = now` and a new idle expiry, never moved back. `NotFound` if gone.
    async fn touch_console_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()>;
    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every console session of an admin; returns how many there were.
    async fn delete_admin_console_sessions(&self, org: OrgId, admin: AdminId) -> StoreResult<u64>;
    /// Ends the console sessions opened through SAML as this user; returns how many there were.
    async fn delete_user_console_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64>;

    // Sign-in throttle, shared by every node.
    /// Reserves one sign-in attempt under every key of `limits`, atomically: when each key
    /// has fewer than its limit of attempts within `window` of `now`, one attempt at `now` is
    /// counted under each and the answer is `Allowed`; otherwise nothing is counted and the
    /// answer names the first key that is full. Concurrent reservations, from any node, never
    /// count past a limit. Older attempts are forgotten on the way. The caller checks the
    /// password only when allowed, and on success clears or releases what it reserved.
    async fn reserve_sign_in_attempt(
        &self,
        limits: &[SignInLimit],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<SignInReservation>;
    /// Gives back one attempt reserved under `key` at `at` (a sign-in that succeeded, or
    /// whose password was never checked). Releasing what is not there is no error.
    async fn release_sign_in_attempt(&self, key: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Attempts counted under `key` within `window` of `now` (failed ones, and those whose
    /// check is still running), without counting one.
    async fn failed_sign_ins(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<u32>;
    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()>;
}
