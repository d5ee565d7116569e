//! The records the directory keeps.

use crate::ids::{AdminKeyId, GroupId, OrgId, TokenId, UserId};
use crate::token::DomainList;
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

/// Who manages a user or group: SCIM (Externally Managed) or the console (local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedBy {
    Scim,
    Local,
}

impl ManagedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Scim => "scim",
            ManagedBy::Local => "local",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scim" => Some(ManagedBy::Scim),
            "local" => Some(ManagedBy::Local),
            _ => None,
        }
    }
}

/// A SCIM token as stored: never the token itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimTokenRecord {
    pub id: TokenId,
    pub org_id: OrgId,
    pub name: String,
    /// The first characters of the token, so an admin can tell tokens apart.
    pub prefix: String,
    pub hash: String,
    pub domains: DomainList,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// An operator API key for `/api/v1/` (stored as SHA-256, like SCIM tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct AdminKeyRecord {
    pub id: AdminKeyId,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub created_at: OffsetDateTime,
}

/// A user. `doc` is the SCIM resource without `id`, `meta` and `groups`; the other fields are
/// what the store indexes, derived from `doc` by [`UserRecord::reindex`].
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: UserId,
    pub org_id: OrgId,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// Email values, lower-cased, for `emails.value eq` lookups.
    pub emails: Vec<String>,
    pub doc: Value,
    pub managed_by: ManagedBy,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

impl UserRecord {
    /// Refresh the indexed fields from `doc`.
    pub fn reindex(&mut self) {
        let ix = scim::resource::user_index(&self.doc);
        self.user_name = ix.user_name;
        self.external_id = ix.external_id;
        self.display_name = ix.display_name;
        self.active = ix.active;
        let mut emails: Vec<String> = ix
            .emails
            .iter()
            .map(|e| crate::identity::email_key(e))
            .collect();
        emails.sort();
        emails.dedup();
        self.emails = emails;
    }
}

/// A group. `doc` is the SCIM resource without `id`, `meta` and `members`: members live in
/// their own table so a change costs O(changed members), never O(group size).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    pub id: GroupId,
    pub org_id: OrgId,
    pub display_name: String,
    pub external_id: Option<String>,
    pub doc: Value,
    pub managed_by: ManagedBy,
    /// Whether SCIM sees this group: SCIM-created, or a local group handed over to the IdP.
    pub scim_visible: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
}

impl GroupRecord {
    pub fn reindex(&mut self) {
        let ix = scim::resource::group_index(&self.doc);
        self.display_name = ix.display_name;
        self.external_id = ix.external_id;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
}

impl MemberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::User => "User",
            MemberKind::Group => "Group",
        }
    }
}

/// A member as listed in a group: its id, kind and a display name.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: String,
    pub kind: MemberKind,
    pub display: Option<String>,
}

/// A membership change, in the order the PATCH gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum MembershipChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
}

/// Who did something.
#[derive(Debug, Clone, PartialEq)]
pub enum Actor {
    ScimToken(TokenId),
    AdminKey(AdminKeyId),
    /// An IT admin signed in to the console.
    ConsoleAdmin(crate::ids::AdminId),
    Cli,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::ScimToken(_) => "scim_token",
            Actor::AdminKey(_) => "admin_key",
            Actor::ConsoleAdmin(_) => "console_admin",
            Actor::Cli => "cli",
        }
    }
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::ScimToken(id) => Some(id.to_string()),
            Actor::AdminKey(id) => Some(id.to_string()),
            Actor::ConsoleAdmin(id) => Some(id.to_string()),
            Actor::Cli => None,
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub org_id: OrgId,
    pub at: OffsetDateTime,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// e.g. `scim.user.create`, `token.revoke`.
    pub operation: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// HTTP-like status of the outcome: 2xx success, 4xx refusal.
    pub status: u16,
    /// Why it was refused, or a short summary.
    pub detail: Option<String>,
    pub request_id: Option<String>,
}

/// A page of results and the total across pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// An organization's SAML connection: what its IdP told us (the uploaded metadata) and what
/// we generated for it (Client ID, SP key pair). One per organization. Debug leaves out the
/// private key and the metadata text.
#[derive(Clone, PartialEq)]
pub struct SamlConnection {
    pub org_id: OrgId,
    /// The public, unguessable name of the connection in every SAML URL.
    pub client_id: String,
    /// The IdP metadata exactly as uploaded (parsed again when used).
    pub idp_metadata_xml: Option<String>,
    pub idp_entity_id: Option<String>,
    /// When the metadata was uploaded: certificate expiry is judged at that instant, not at
    /// each sign-in (an IdP rolls its certificate by uploading new metadata).
    pub idp_metadata_uploaded_at: Option<OffsetDateTime>,
    /// The SP's private key (PKCS#8 PEM), for encrypted assertions and signed requests.
    pub sp_key_pem: String,
    pub sp_cert_pem: String,
    /// Create unknown users on their first sign-in.
    pub jit: bool,
    /// Accept unsolicited responses (an Okta tile).
    pub idp_initiated: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for SamlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlConnection")
            .field("org_id", &self.org_id)
            .field("client_id", &self.client_id)
            .field("idp_entity_id", &self.idp_entity_id)
            .field("idp_metadata_uploaded_at", &self.idp_metadata_uploaded_at)
            .field("sp_key_pem", &"<redacted>")
            .field("jit", &self.jit)
            .field("idp_initiated", &self.idp_initiated)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// How a login-domain claim was proved (see `crate::login_domains`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainProof {
    /// The organization published our TXT record in the domain's DNS.
    Dns,
    /// An operator approved it (`portcullis domain approve`, or the operator API).
    Operator,
    /// The domain was a login domain before claims had to be proved, and was kept at upgrade.
    Upgrade,
}

impl DomainProof {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainProof::Dns => "dns",
            DomainProof::Operator => "operator",
            DomainProof::Upgrade => "upgrade",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dns" => Some(DomainProof::Dns),
            "operator" => Some(DomainProof::Operator),
            "upgrade" => Some(DomainProof::Upgrade),
            _ => None,
        }
    }
}

/// An organization's claim on a login domain. Unverified claims are kept (several
/// organizations may hold one on the same domain) but route nothing; at most one claim per
/// domain is verified, and only that one sends the domain's people to its organization.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainClaim {
    pub org_id: OrgId,
    /// Lower-case ASCII (A-label) form, no trailing dot.
    pub domain: String,
    /// What this claim's TXT record must say; random per claim, public (it is published).
    pub verification_value: String,
    /// How it was proved; `None` while unverified.
    pub proof: Option<DomainProof>,
    pub verified_at: Option<OffsetDateTime>,
    /// The last DNS check, from "Check now" or the periodic re-check.
    pub last_checked_at: Option<OffsetDateTime>,
    /// DNS checks that failed in a row since the last one that succeeded.
    pub failed_checks: u32,
    /// Why the claim is as it is, for its admins (a failed check, a lost verification).
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
    /// Read back, never written: another organization holds the verified claim on the domain.
    pub verified_elsewhere: bool,
}

impl DomainClaim {
    pub fn is_verified(&self) -> bool {
        self.proof.is_some()
    }
}

/// A signed-in browser. Only the SHA-256 of the cookie secret is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
}

/// A person who may sign in to an organization's admin console. The email is lower-cased and
/// unique per organization.
#[derive(Clone, PartialEq)]
pub struct AdminAccount {
    pub id: crate::ids::AdminId,
    pub org_id: OrgId,
    pub email: String,
    /// Argon2id PHC string; `None` until the invite is accepted.
    pub password_hash: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_sign_in_at: Option<OffsetDateTime>,
    /// The directory user this admin signs in as through the organization's SAML SSO, once
    /// they have.
    pub user_id: Option<UserId>,
}

// The hash stays out of logs.
impl std::fmt::Debug for AdminAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAccount")
            .field("id", &self.id)
            .field("org_id", &self.org_id)
            .field("email", &self.email)
            .field("has_password", &self.password_hash.is_some())
            .field("created_at", &self.created_at)
            .field("last_sign_in_at", &self.last_sign_in_at)
            .field("user_id", &self.user_id)
            .finish()
    }
}

/// A one-time invitation to set a console password. Only the SHA-256 of the link's secret is
/// stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminInvite {
    pub token_hash: String,
    pub org_id: OrgId,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// A signed-in console administrator. Only the SHA-256 of the cookie secret is stored; the
/// CSRF token is the one every signed-in form carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    pub id_hash: String,
    pub org_id: OrgId,
    pub admin_id: crate::ids::AdminId,
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
    /// Opened through SAML as this directory user: lives only while the user holds the
    /// admin role.
    pub sso_user_id: Option<UserId>,
}
