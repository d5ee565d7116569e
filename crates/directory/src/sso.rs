//! SAML single sign-on: per-organization connections (Client ID, SP key pair, uploaded IdP
//! metadata, settings), the sign-in flows, and browser sessions.
//!
//! The checks on a SAML Response are the `saml` crate's; what lives here is what needs the
//! store: which connection a URL names, the single use of our AuthnRequest IDs, the assertion
//! replay cache, matching the person to the directory, and sessions.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::{Error, ErrorKind};
use crate::ids::{OrgId, UserId};
use crate::login_domains::{
    normalize_login_domain, normalize_login_domains, DomainService, MAX_LOGIN_DOMAINS,
};
use crate::model::{
    Actor, AuditEvent, DomainClaim, ManagedBy, Organization, SamlConnection, SessionRecord,
    UserRecord,
};
use crate::query::{IndexKey, StoreQuery};
use crate::store::{Store, StoreError};
use crate::token::{self, EmailDomain};
use rand::RngCore;
use saml::{IdpMetadata, SpKeyPair};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A session ends after this long without a request…
pub const SESSION_IDLE_TIMEOUT: Duration = Duration::hours(8);
/// …and at the latest this long after sign-in, however active.
pub const SESSION_ABSOLUTE_TIMEOUT: Duration = Duration::hours(24);
/// How long we wait for the IdP to answer an AuthnRequest.
pub const AUTHN_REQUEST_LIFETIME: Duration = Duration::minutes(10);
/// Tolerated clock difference with the IdP.
pub const CLOCK_SKEW: Duration = Duration::minutes(3);
/// Where a signed-in person lands when no (safe) destination was asked for.
pub const DEFAULT_RETURN_PATH: &str = "/me";
/// The SP certificate's lifetime: IdPs pin it, so a rotation is an admin's decision.
const SP_CERT_VALIDITY: Duration = Duration::days(3650);
const CLIENT_ID_LEN: usize = 24;

/// The five URLs an IT admin copies into the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoUrls {
    pub client_id: String,
    pub entity_id: String,
    pub acs_url: String,
    pub login_url: String,
    pub metadata_url: String,
}

/// A Client ID: 24 characters of lower-case base32 (120 random bits), safe in any URL.
pub fn generate_client_id() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; CLIENT_ID_LEN];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect()
}

/// Whether a string has the shape of a Client ID (checked before any lookup).
pub fn is_client_id(s: &str) -> bool {
    s.len() == CLIENT_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// The path to send a browser to after sign-in: `candidate` when it is a path inside
/// Portcullis, else [`DEFAULT_RETURN_PATH`]. Refused: anything not starting with exactly one
/// `/` (`//host` and `/\host` are other hosts to a browser), schemes, backslashes, and
/// whitespace or control characters (browsers drop tabs and newlines, turning `/\t/host`
/// into `//host`).
pub fn safe_return_path(candidate: Option<&str>) -> String {
    let Some(path) = candidate else {
        return DEFAULT_RETURN_PATH.into();
    };
    let ok = path.len() <= 1024
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\u{feff}');
    if ok {
        path.to_string()
    } else {
        DEFAULT_RETURN_PATH.into()
    }
}

/// A sign-in that did not happen. `detail` is for the admin (audit log); the browser is
/// shown `message` and `reference` (the request id that finds the audit record).
#[derive(Debug, Clone, PartialEq)]
pub struct SignInRefusal {
    pub status: u16,
    pub message: String,
    pub detail: String,
    pub reference: String,
}

/// A successful sign-in: the cookie secret (shown once, to the browser) and where to go.
#[derive(Clone)]
pub struct SignedIn {
    pub cookie_secret: String,
    pub session: SessionRecord,
    pub user: UserRecord,
    pub return_to: String,
    /// The user did not exist and was created just in time.
    pub created: bool,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("cookie_secret", &"<redacted>")
            .field("session", &self.session)
            .field("user", &self.user.id)
            .field("return_to", &self.return_to)
            .field("created", &self.created)
            .finish()
    }
}

/// The signed-in person behind a session cookie.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub session: SessionRecord,
    pub user: UserRecord,
    pub organization: Organization,
    /// Display names of the groups the user belongs to.
    pub groups: Vec<String>,
}

/// What sign-in needs of a connection, parsed once per change of the connection.
struct Prepared {
    updated_at: OffsetDateTime,
    idp: Option<IdpMetadata>,
    sp_key: SpKeyPair,
}

#[derive(Clone)]
pub struct SsoService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    base_url: String,
    prepared: Arc<Mutex<HashMap<String, Arc<Prepared>>>>,
    domains: DomainService,
}

/// How many parsed connections are kept; beyond it the cache starts over (cheap to rebuild).
const PREPARED_CACHE_MAX: usize = 4096;

impl SsoService {
    /// `base_url`: the public base URL, e.g. `https://id.example.com`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        base_url: &str,
        domains: DomainService,
    ) -> Self {
        SsoService {
            store,
            clock,
            audit,
            base_url: base_url.trim_end_matches('/').to_string(),
            prepared: Arc::default(),
            domains,
        }
    }

    /// The login domains' service (claims and their proofs).
    pub fn domains(&self) -> &DomainService {
        &self.domains
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn urls(&self, client_id: &str) -> SsoUrls {
        let entity_id = format!("{}/saml/{client_id}", self.base_url);
        SsoUrls {
            client_id: client_id.to_string(),
            acs_url: format!("{entity_id}/acs"),
            login_url: format!("{entity_id}/login"),
            metadata_url: format!("{entity_id}/metadata"),
            entity_id,
        }
    }

    // ------------------------------------------------------------ administration

    pub async fn connection(&self, org: &Organization) -> Result<Option<SamlConnection>, Error> {
        self.store
            .saml_connection(org.id)
            .await
            .map_err(Error::from)
    }

    /// The connection, or an error telling the admin to run setup.
    pub async fn require_connection(&self, org: &Organization) -> Result<SamlConnection, Error> {
        self.connection(org).await?.ok_or_else(|| {
            Error::not_found(format!(
                "organization '{}' has no SAML connection yet; run `portcullis saml setup --org {}` first",
                org.slug, org.slug
            ))
        })
    }

    /// Creates the connection if there is none (Client ID, SP key pair) and returns it; an
    /// existing connection keeps its Client ID. `domains`, when non-empty, become its login
    /// domain claims; when empty and the organization claims none, the domains of its SCIM
    /// tokens that could be login domains and that no other organization routes are claimed.
    /// Claims route nobody until verified (see [`crate::login_domains`]).
    pub async fn setup(
        &self,
        org: &Organization,
        domains: &[String],
        actor: &Actor,
    ) -> Result<SamlConnection, Error> {
        let now = self.clock.now();
        let existing = self.connection(org).await?;
        let created = existing.is_none();
        let mut conn = match existing {
            Some(c) => c,
            None => {
                let client_id = generate_client_id();
                let keys = SpKeyPair::generate(
                    &format!("Portcullis SP {}", org.slug),
                    now,
                    SP_CERT_VALIDITY,
                )
                .map_err(|e| Error::internal(format!("SP key generation failed: {e}")))?;
                SamlConnection {
                    org_id: org.id,
                    client_id,
                    idp_metadata_xml: None,
                    idp_entity_id: None,
                    idp_metadata_uploaded_at: None,
                    sp_key_pem: keys
                        .private_key_pem()
                        .map_err(|e| Error::internal(e.to_string()))?,
                    sp_cert_pem: keys
                        .certificate_pem()
                        .map_err(|e| Error::internal(e.to_string()))?,
                    jit: false,
                    idp_initiated: true,
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        // Refused domains are refused before anything is written.
        let wanted = if !domains.is_empty() {
            Some(normalize_login_domains(domains)?)
        } else if self.domains.claims(org).await?.is_empty() {
            Some(self.unclaimed_token_domains(org).await?)
        } else {
            None
        };
        conn.updated_at = next_change(conn.updated_at, now);
        self.put(&conn).await?;
        let claimed = match wanted {
            Some(w) => self.domains.set_domains(org, &w, actor).await?,
            None => self.domains.claims(org).await?,
        };
        // A concurrent setup may have created the connection first: its Client ID stands.
        let conn = self.require_connection(org).await?;
        self.record_admin(
            org.id,
            actor,
            if created {
                "saml.setup"
            } else {
                "saml.setup.again"
            },
            format!(
                "client id {}, login domains {}",
                conn.client_id,
                domain_names(&claimed)
            ),
        )
        .await;
        Ok(conn)
    }

    async fn unclaimed_token_domains(&self, org: &Organization) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for t in self.store.list_tokens(org.id).await? {
            if t.revoked_at.is_some() {
                continue;
            }
            for d in t.domains.domains() {
                let EmailDomain::Exact(d) = d else { continue };
                // Token domains that cannot be login domains (a public mail domain) are skipped.
                let Ok(d) = normalize_login_domain(d) else {
                    continue;
                };
                if out.contains(&d) || out.len() >= MAX_LOGIN_DOMAINS {
                    continue;
                }
                match self.store.org_for_login_domain(&d).await? {
                    Some(other) if other != org.id => {}
                    _ => out.push(d),
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn put(&self, conn: &SamlConnection) -> Result<(), Error> {
        self.store
            .put_saml_connection(conn)
            .await
            .map_err(Error::from)
    }

    /// Uploads (or replaces) the IdP metadata. The parse errors of the `saml` crate say what
    /// is wrong and what to do; they reach the admin as they are.
    pub async fn upload_metadata(
        &self,
        org: &Organization,
        xml: &str,
        actor: &Actor,
    ) -> Result<(SamlConnection, IdpMetadata), Error> {
        let now = self.clock.now();
        let idp = IdpMetadata::parse(xml, now).map_err(|e| Error::invalid(e.to_string()))?;
        let mut conn = match self.connection(org).await? {
            Some(c) => c,
            None => self.setup(org, &[], actor).await?,
        };
        conn.idp_metadata_xml = Some(xml.to_string());
        conn.idp_entity_id = Some(idp.entity_id.clone());
        conn.idp_metadata_uploaded_at = Some(now);
        conn.updated_at = next_change(conn.updated_at, now);
        self.put(&conn).await?;
        self.record_admin(
            org.id,
            actor,
            "saml.metadata",
            format!(
                "IdP {}, {} signing certificate(s)",
                idp.entity_id,
                idp.signing_certificates.len()
            ),
        )
        .await;
        Ok((conn, idp))
    }

    /// Changes the settings given; the others stay.
    pub async fn update_settings(
        &self,
        org: &Organization,
        jit: Option<bool>,
        idp_initiated: Option<bool>,
        domains: Option<&[String]>,
        actor: &Actor,
    ) -> Result<SamlConnection, Error> {
        let mut conn = self.require_connection(org).await?;
        // Refused domains are refused before anything is written.
        let domains = domains.map(normalize_login_domains).transpose()?;
        if let Some(j) = jit {
            conn.jit = j;
        }
        if let Some(i) = idp_initiated {
            conn.idp_initiated = i;
        }
        conn.updated_at = next_change(conn.updated_at, self.clock.now());
        self.put(&conn).await?;
        let claimed = match domains {
            Some(d) => self.domains.set_domains(org, &d, actor).await?,
            None => self.domains.claims(org).await?,
        };
        self.record_admin(
            org.id,
            actor,
            "saml.settings",
            format!(
                "jit {}, idp_initiated {}, login domains {}",
                conn.jit,
                conn.idp_initiated,
                domain_names(&claimed)
            ),
        )
        .await;
        Ok(conn)
    }

    /// The uploaded metadata, parsed as it was judged at upload time.
    pub fn idp_metadata(conn: &SamlConnection) -> Result<Option<IdpMetadata>, Error> {
        let (Some(xml), Some(at)) = (&conn.idp_metadata_xml, conn.idp_metadata_uploaded_at) else {
            return Ok(None);
        };
        IdpMetadata::parse(xml, at)
            .map(Some)
            .map_err(|e| Error::internal(format!("stored IdP metadata no longer parses: {e}")))
    }

    async fn record_admin(&self, org: OrgId, actor: &Actor, operation: &str, detail: String) {
        self.audit
            .record(AuditEvent {
                org_id: org,
                at: self.clock.now(),
                actor_kind: actor.kind().into(),
                actor_id: actor.id(),
                operation: operation.into(),
                resource_type: Some("saml_connection".into()),
                resource_id: None,
                status: 200,
                detail: Some(detail),
                request_id: None,
            })
            .await;
    }

    // ------------------------------------------------------------ the browser side

    /// The connection a Client ID in a URL names; `NotFound` for anything else.
    pub async fn connection_by_client_id(&self, client_id: &str) -> Result<SamlConnection, Error> {
        let unknown = || {
            Error::not_found(
                "there is no sign-in with this address; check the link your IT admin gave you",
            )
        };
        if !is_client_id(client_id) {
            return Err(unknown());
        }
        self.store
            .saml_connection_by_client_id(client_id)
            .await?
            .ok_or_else(unknown)
    }

    fn prepare(&self, conn: &SamlConnection) -> Result<Arc<Prepared>, Error> {
        if let Ok(cache) = self.prepared.lock() {
            if let Some(p) = cache.get(&conn.client_id) {
                if p.updated_at == conn.updated_at {
                    return Ok(Arc::clone(p));
                }
            }
        }
        let sp_key = SpKeyPair::from_pem(&conn.sp_key_pem, &conn.sp_cert_pem)
            .map_err(|e| Error::internal(format!("stored SP key pair: {e}")))?;
        let prepared = Arc::new(Prepared {
            updated_at: conn.updated_at,
            idp: Self::idp_metadata(conn)?,
            sp_key,
        });
        if let Ok(mut cache) = self.prepared.lock() {
            if cache.len() >= PREPARED_CACHE_MAX {
                cache.clear();
            }
            cache.insert(conn.client_id.clone(), Arc::clone(&prepared));
        }
        Ok(prepared)
    }

    /// The SP metadata XML of a connection.
    pub async fn sp_metadata(&self, client_id: &str) -> Result<String, Error> {
        let conn = self.connection_by_client_id(client_id).await?;
        let prepared = self.prepare(&conn)?;
        let urls = self.urls(&conn.client_id);
        Ok(saml::sp_metadata_xml(&saml::SpMetadataParams {
            entity_id: &urls.entity_id,
            acs_url: &urls.acs_url,
            name_id_formats: &[
                "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
            ],
            key_pair: Some(&prepared.sp_key),
            authn_requests_signed: prepared
                .idp
                .as_ref()
                .is_some_and(|i| i.want_authn_requests_signed),
        }))
    }

    /// SP-initiated sign-in: the URL of the IdP to send the browser to. The request ID is
    /// remembered (single use) with where to go afterwards.
    pub async fn begin_login(
        &self,
        client_id: &str,
        return_to: Option<&str>,
    ) -> Result<String, Error> {
        let conn = self.connection_by_client_id(client_id).await?;
        let prepared = self.prepare(&conn)?;
        let idp = prepared.idp.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::Conflict,
                "sign-in is not set up yet for this organization: its IT admin has not uploaded the identity provider's metadata",
            )
        })?;
        let urls = self.urls(&conn.client_id);
        let now = self.clock.now();
        let request = saml::login_redirect(
            idp,
            &urls.entity_id,
            &urls.acs_url,
            None,
            now,
            Some(&prepared.sp_key),
        )
        .map_err(|e| Error::new(ErrorKind::Conflict, format!("sign-in cannot start: {e}")))?;
        let return_to = safe_return_path(return_to);
        self.store
            .remember_authn_request(
                conn.org_id,
                &request.id,
                &return_to,
                now + AUTHN_REQUEST_LIFETIME,
            )
            .await?;
        Ok(request.url)
    }

    /// The ACS: validates a posted `SAMLResponse` for the connection `client_id` names, and
    /// signs the person in. Every attempt on a known connection is audited; refusals of the
    /// same reason from the same `client` (the caller's name for the client address) fold
    /// into one audit row with a count (see [`AuditLog::record_folded`]), since anyone can
    /// post garbage to an ACS.
    ///
    /// `conn` is what [`SsoService::connection_by_client_id`] found for the URL's Client ID:
    /// the ACS routes by it before reading the body.
    pub async fn finish_login(
        &self,
        conn: &SamlConnection,
        saml_response: &str,
        relay_state: Option<&str>,
        request_id: &str,
        client: Option<&str>,
    ) -> Result<SignedIn, SignInRefusal> {
        let attempt = self.sign_in(conn, saml_response, relay_state).await;
        let (status, detail, user_id) = match &attempt {
            Ok(s) => (
                200,
                format!(
                    "signed in as {}{}",
                    s.user.user_name,
                    if s.created {
                        " (created just in time)"
                    } else {
                        ""
                    }
                ),
                Some(s.user.id.to_string()),
            ),
            Err(r) => (
                r.status,
                match client {
                    Some(c) => format!("{} (from {c})", r.detail),
                    None => r.detail.clone(),
                },
                r.user.map(|u| u.to_string()),
            ),
        };
        let event = AuditEvent {
            org_id: conn.org_id,
            at: self.clock.now(),
            actor_kind: "saml_idp".into(),
            actor_id: conn.idp_entity_id.clone(),
            operation: "saml.signin".into(),
            resource_type: Some("User".into()),
            resource_id: user_id,
            status,
            detail: Some(detail),
            request_id: Some(request_id.to_string()),
        };
        match (&attempt, client) {
            (Err(r), Some(client)) => {
                let key = format!("saml.signin {} {} {client}", r.status, r.reason);
                self.audit.record_folded(event, key, 1).await;
            }
            _ => self.audit.record(event).await,
        }
        attempt.map_err(|r| SignInRefusal {
            status: r.status,
            message: r.message.to_string(),
            detail: r.detail,
            reference: request_id.to_string(),
        })
    }

    /// Audits posts to the ACS that its rate limiter refused before reading them: `count`
    /// posts from `client` since its last report. Reports of one client fold into one row.
    pub async fn record_acs_throttled(
        &self,
        conn: &SamlConnection,
        client: &str,
        count: u64,
        limit: &str,
        request_id: &str,
    ) {
        let event = AuditEvent {
            org_id: conn.org_id,
            at: self.clock.now(),
            actor_kind: "saml_idp".into(),
            actor_id: conn.idp_entity_id.clone(),
            operation: "saml.signin".into(),
            resource_type: Some("User".into()),
            resource_id: None,
            status: 429,
            detail: Some(format!(
                "sign-in posts from {client} refused unread: more than the ACS rate limit ({limit})"
            )),
            request_id: Some(request_id.to_string()),
        };
        let key = format!("saml.signin 429 throttled {client}");
        self.audit.record_folded(event, key, count).await;
    }

    async fn sign_in(
        &self,
        conn: &SamlConnection,
        saml_response: &str,
        relay_state: Option<&str>,
    ) -> Result<SignedIn, Refused> {
        const FAILED: &str = "Sign-in did not succeed. Try again from your company's sign-in page; if it keeps failing, give your IT admin the reference below.";
        const ASK_ADMIN: &str = "You cannot sign in to this organization with this account. Ask your IT admin to assign you the application.";
        const INACTIVE: &str =
            "Your account in this organization is deactivated. Ask your IT admin to reactivate it.";
        let prepared = self
            .prepare(conn)
            .map_err(|e| Refused::new(500, FAILED, e.detail).because("connection_unusable"))?;
        let Some(idp) = prepared.idp.as_ref() else {
            return Err(Refused::new(
                409,
                "Sign-in is not set up yet for this organization. Ask your IT admin to finish the SAML setup.",
                "no IdP metadata uploaded".into(),
            )
            .because("no_idp_metadata"));
        };
        let urls = self.urls(&conn.client_id);
        let now = self.clock.now();

        // The InResponseTo the response claims is only a hint to find our pending request;
        // the expected value passed to validation is the one we stored.
        let (expected, return_to) = match saml::peek_in_response_to(saml_response) {
            Some(claimed) => {
                let taken = self
                    .store
                    .take_authn_request(conn.org_id, &claimed, now)
                    .await
                    .map_err(|e| Refused::new(500, FAILED, format!("store: {e}")).because("store"))?;
                match taken {
                    Some(return_to) => (Some(claimed), return_to),
                    None => {
                        return Err(Refused::new(
                            400,
                            FAILED,
                            format!("InResponseTo {claimed:?} names no pending request of ours (unknown, already used, or expired)"),
                        )
                        .because("unknown_in_response_to"))
                    }
                }
            }
            None if conn.idp_initiated => (None, self.relay_state_path(relay_state)),
            None => {
                return Err(Refused::new(
                    400,
                    FAILED,
                    "unsolicited (IdP-initiated) response refused: idp_initiated is off for this connection".into(),
                )
                .because("unsolicited"))
            }
        };

        let ctx = saml::ValidationContext {
            idp,
            sp_entity_id: &urls.entity_id,
            acs_url: &urls.acs_url,
            now,
            max_clock_skew: CLOCK_SKEW,
            expected_in_response_to: expected.as_deref(),
            sp_key: Some(&prepared.sp_key),
        };
        let verified = saml::validate_response(saml_response, &ctx).map_err(|e| {
            Refused::new(400, FAILED, format!("{}: {e}", e.code())).because(e.code())
        })?;

        let fresh = self
            .store
            .remember_assertion(
                conn.org_id,
                &verified.assertion_id,
                verified.remember_until,
                now,
            )
            .await
            .map_err(|e| Refused::new(500, FAILED, format!("store: {e}")).because("store"))?;
        if !fresh {
            return Err(Refused::new(
                400,
                FAILED,
                format!(
                    "replayed assertion: {} was already used",
                    verified.assertion_id
                ),
            )
            .because("replayed"));
        }

        let (user, created) = match self.match_user(conn.org_id, &verified).await? {
            Some(u) => (u, false),
            None if conn.jit => (
                self.create_jit_user(conn.org_id, &verified, now).await?,
                true,
            ),
            None => {
                return Err(Refused::new(
                    403,
                    ASK_ADMIN,
                    format!(
                        "unknown user: NameID {:?} (email attribute {:?}) matches no user of this organization and jit is off",
                        verified.name_id,
                        verified.email_attribute()
                    ),
                )
                .because("unknown_user"))
            }
        };
        if !user.active {
            return Err(Refused {
                user: Some(user.id),
                ..Refused::new(
                    403,
                    INACTIVE,
                    format!("user {} is deactivated", user.user_name),
                )
                .because("deactivated")
            });
        }
        let (cookie_secret, session) = self
            .new_session(conn.org_id, user.id, now)
            .await
            .map_err(|e| Refused::new(500, FAILED, e.detail).because("session"))?;
        Ok(SignedIn {
            cookie_secret,
            session,
            user,
            return_to,
            created,
        })
    }

    /// An IdP's Default RelayState may be a path or a full URL of this Portcullis (both are
    /// what admins type into Okta); only a path inside Portcullis survives.
    fn relay_state_path(&self, relay_state: Option<&str>) -> String {
        let relay_state = relay_state.map(str::trim);
        let own = relay_state.and_then(|r| {
            r.strip_prefix(self.base_url.as_str())
                .filter(|rest| rest.starts_with('/'))
        });
        safe_return_path(own.or(relay_state))
    }

    async fn match_user(
        &self,
        org: OrgId,
        verified: &saml::VerifiedAssertion,
    ) -> Result<Option<UserRecord>, Refused> {
        let by_name = IndexKey::UserNameLower(crate::identity::user_name_key(&verified.name_id));
        if let Some(u) = self.find_one(org, by_name).await? {
            return Ok(Some(u));
        }
        if let Some(email) = verified.email_attribute() {
            let by_email = IndexKey::EmailLower(crate::identity::email_key(email));
            return self.find_one(org, by_email).await;
        }
        Ok(None)
    }

    /// The user a key names, when exactly one does (an email two users share names nobody).
    async fn find_one(&self, org: OrgId, key: IndexKey) -> Result<Option<UserRecord>, Refused> {
        let mut query = StoreQuery::all(Some(key));
        query.limit = Some(2);
        let page = self.store.query_users(org, &query).await.map_err(|e| {
            Refused::new(
                500,
                "Sign-in did not succeed; try again.",
                format!("store: {e}"),
            )
            .because("store")
        })?;
        Ok(if page.items.len() == 1 {
            page.items.into_iter().next()
        } else {
            None
        })
    }

    /// Just-in-time provisioning: a local user whose userName is the NameID.
    async fn create_jit_user(
        &self,
        org: OrgId,
        verified: &saml::VerifiedAssertion,
        now: OffsetDateTime,
    ) -> Result<UserRecord, Refused> {
        let failed = |detail: String| {
            Refused::new(
                500,
                "Your account could not be created; give your IT admin the reference below.",
                detail,
            )
            .because("jit_failed")
        };
        let mut doc = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": verified.name_id.trim(),
            "active": true,
        });
        let email = verified.email_attribute().map(str::to_owned).or_else(|| {
            token::email_domain(&verified.name_id).map(|_| verified.name_id.trim().to_string())
        });
        if let Some(email) = email {
            doc["emails"] = json!([{"value": email, "primary": true, "type": "work"}]);
        }
        let given = first_attribute(
            verified,
            &[
                "firstName",
                "givenName",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
            ],
        );
        let family = first_attribute(
            verified,
            &[
                "lastName",
                "familyName",
                "surname",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
            ],
        );
        if given.is_some() || family.is_some() {
            doc["name"] = json!({"givenName": given, "familyName": family});
            let display = [given, family]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            doc["displayName"] = Value::from(display);
        }
        let doc = scim::resource::normalize(scim::schema::ResourceKind::User, &doc)
            .map_err(|e| failed(format!("jit user document: {}", e.detail)))?;
        let doc = crate::identity::clean_user_document(doc)
            .map_err(|e| failed(format!("jit user document: {}", e.detail)))?;
        let mut user = UserRecord {
            id: UserId::new_random(),
            org_id: org,
            user_name: String::new(),
            external_id: None,
            display_name: None,
            active: true,
            emails: Vec::new(),
            doc,
            managed_by: ManagedBy::Local,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        user.reindex();
        match self.store.insert_user(&user).await {
            Ok(()) => Ok(user),
            // Created meanwhile by a concurrent sign-in or SCIM: use that one.
            Err(StoreError::Conflict(_)) => self
                .find_one(
                    org,
                    IndexKey::UserNameLower(crate::identity::user_name_key(&user.user_name)),
                )
                .await?
                .ok_or_else(|| failed("jit user vanished after a conflict".into())),
            Err(e) => Err(failed(format!("store: {e}"))),
        }
    }

    // ------------------------------------------------------------ sessions

    async fn new_session(
        &self,
        org: OrgId,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<(String, SessionRecord), Error> {
        let secret = session_secret();
        let session = SessionRecord {
            id_hash: token::hash_secret(&secret),
            org_id: org,
            user_id: user,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + SESSION_IDLE_TIMEOUT,
            absolute_expires_at: now + SESSION_ABSOLUTE_TIMEOUT,
        };
        self.store.create_session(&session).await?;
        Ok((secret, session))
    }

    /// The person behind a session cookie, if the session is live and the user still
    /// exists and is active. Records activity (the idle timeout restarts).
    pub async fn session_user(&self, cookie_secret: &str) -> Result<Option<SessionUser>, Error> {
        if cookie_secret.is_empty() || cookie_secret.len() > 128 {
            return Ok(None);
        }
        let hash = token::hash_secret(cookie_secret);
        let Some(session) = self.store.session_by_hash(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= session.idle_expires_at || now >= session.absolute_expires_at {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        }
        let found = self
            .store
            .get_user_with_groups(session.org_id, session.user_id, true)
            .await?;
        let Some((user, groups)) = found.filter(|(u, _)| u.active) else {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        };
        let Some(organization) = self.store.org_by_id(session.org_id).await? else {
            return Ok(None);
        };
        // Touch at most once a minute: a page load is not worth a write each time.
        let mut session = session;
        if now - session.last_seen_at >= Duration::minutes(1) {
            let idle = (now + SESSION_IDLE_TIMEOUT).min(session.absolute_expires_at);
            match self.store.touch_session(&hash, now, idle).await {
                Ok(()) => {
                    session.last_seen_at = now;
                    session.idle_expires_at = idle;
                }
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(Error::from(e)),
            }
        }
        let mut names: Vec<String> = groups.into_iter().map(|(_, name, _)| name).collect();
        names.sort();
        Ok(Some(SessionUser {
            session,
            user,
            organization,
            groups: names,
        }))
    }

    pub async fn logout(&self, cookie_secret: &str) -> Result<(), Error> {
        if cookie_secret.is_empty() || cookie_secret.len() > 128 {
            return Ok(());
        }
        self.store
            .delete_session(&token::hash_secret(cookie_secret))
            .await
            .map_err(Error::from)
    }

    /// `/login`: the login URL of the organization an email's domain routes to.
    pub async fn login_url_for_email(&self, email: &str) -> Result<String, Error> {
        let not_routed = || {
            Error::not_found(
                "no organization signs in with this email address here; check it, or ask your IT admin for your company's sign-in link",
            )
        };
        let domain = token::email_domain(email.trim()).ok_or_else(|| {
            Error::invalid("enter your work email address, such as jane@acme.com")
        })?;
        // The stored form (lower-case ASCII, no trailing dot); a domain that could never be a
        // login domain routes nowhere.
        let Ok(domain) = normalize_login_domain(&domain) else {
            return Err(not_routed());
        };
        let org = self
            .store
            .org_for_login_domain(&domain)
            .await?
            .ok_or_else(not_routed)?;
        let conn = self
            .store
            .saml_connection(org)
            .await?
            .ok_or_else(not_routed)?;
        Ok(self.urls(&conn.client_id).login_url)
    }
}

/// Every change moves `updated_at` forward, even within one millisecond: it is what tells a
/// node that its parsed copy of the connection is stale.
fn next_change(previous: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    now.max(previous + Duration::milliseconds(1))
}

/// Why a sign-in was refused, before it is audited and turned into a [`SignInRefusal`].
struct Refused {
    status: u16,
    /// A stable name of the refusal's kind, without the attacker's input `detail` may quote:
    /// identical refusals fold into one audit row by it.
    reason: &'static str,
    message: &'static str,
    detail: String,
    user: Option<UserId>,
}

impl Refused {
    fn new(status: u16, message: &'static str, detail: String) -> Self {
        Refused {
            status,
            reason: "refused",
            message,
            detail,
            user: None,
        }
    }
    fn because(self, reason: &'static str) -> Self {
        Refused { reason, ..self }
    }
}

fn first_attribute<'a>(v: &'a saml::VerifiedAssertion, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| v.attribute(n))
        .map(str::trim)
        .find(|s| !s.is_empty())
}

/// 256 random bits for a session cookie.
fn session_secret() -> String {
    token::generate_secret("pcs_session")
}

/// The claims' domains, for an audit line.
fn domain_names(claims: &[DomainClaim]) -> String {
    if claims.is_empty() {
        return "none".into();
    }
    claims
        .iter()
        .map(|c| c.domain.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_url_safe_and_distinct() {
        let a = generate_client_id();
        let b = generate_client_id();
        assert_eq!(a.len(), 24);
        assert!(is_client_id(&a) && is_client_id(&b));
        assert_ne!(a, b);
        assert!(!a.contains('_'));
        assert!(!is_client_id("ABCDEFGHIJKLMNOPQRSTUVWX"));
        assert!(!is_client_id("short"));
    }

    #[test]
    fn return_paths_stay_inside() {
        for bad in [
            "//evil.com",
            "https://evil.com",
            "/\\evil.com",
            "javascript:alert(1)",
            "/\t/evil.com",
            "/\n/evil.com",
            "",
            "evil.com",
            "\\\\evil.com",
        ] {
            assert_eq!(safe_return_path(Some(bad)), "/me", "{bad:?}");
        }
        assert_eq!(safe_return_path(None), "/me");
        assert_eq!(safe_return_path(Some("/app/x?y=1#z")), "/app/x?y=1#z");
        assert_eq!(safe_return_path(Some("/")), "/");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let conn = SamlConnection {
            org_id: OrgId::new_random(),
            client_id: generate_client_id(),
            idp_metadata_xml: None,
            idp_entity_id: None,
            idp_metadata_uploaded_at: None,
            sp_key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
            sp_cert_pem: String::new(),
            jit: false,
            idp_initiated: true,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{conn:?}").contains("secret"));
    }
}
