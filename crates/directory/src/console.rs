//! The admin console's accounts: invitations, passwords (argon2id), sign-in with a shared
//! throttle, and console sessions. HTTP is the server's job; this is the policy.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::Error;
use crate::error::ErrorKind;
use crate::ids::AdminId;
use crate::model::{Actor, AdminAccount, AdminInvite, AuditEvent, ConsoleSession, Organization};
use crate::password::PasswordHashing;
use crate::store::{SignInLimit, SignInReservation, Store, StoreError};
use crate::token;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// A console session ends after this long without a request…
pub const CONSOLE_IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// …and at the latest this long after sign-in.
pub const CONSOLE_ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// How long an invitation link works.
pub const INVITE_LIFETIME: Duration = Duration::days(7);
/// Failed sign-ins are counted over this window…
pub const SIGN_IN_WINDOW: Duration = Duration::minutes(15);
/// …at most this many per organization and email…
pub const SIGN_IN_LIMIT_PER_EMAIL: u32 = 5;
/// …and this many per client address.
pub const SIGN_IN_LIMIT_PER_CLIENT: u32 = 20;
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Bounds the work one request can ask of argon2 and what a form may carry.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_EMAIL_BYTES: usize = crate::identity::MAX_EMAIL_BYTES;
const MAX_SLUG_BYTES: usize = 128;
/// Longer cookie or link secrets cannot be ours; refused before hashing.
const MAX_SECRET_BYTES: usize = 128;

/// A link secret's kind prefix (see [`token::generate_secret`]).
const INVITE_KIND: &str = "pci_invite";
const SESSION_KIND: &str = "pcc_session";

/// An invitation just made: the one-time link, shown once.
pub struct IssuedInvite {
    pub link: String,
    pub admin: AdminAccount,
    pub expires_at: OffsetDateTime,
}

/// A signed-in admin: the cookie secret to set, and who they are.
pub struct ConsoleSignIn {
    pub cookie_secret: String,
    pub context: ConsoleContext,
}

// The cookie secret stays out of logs.
impl std::fmt::Debug for ConsoleSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSignIn")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// The admin behind a console session.
#[derive(Debug, Clone)]
pub struct ConsoleContext {
    pub session: ConsoleSession,
    pub admin: AdminAccount,
    pub organization: Organization,
}

/// How a sign-in attempt ended, when the directory itself did not fail.
#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(Box<ConsoleSignIn>),
    /// Unknown organization, unknown admin, no password yet, or a wrong password: the caller
    /// is told the same thing in every case.
    Refused,
    /// Too many recent attempts; the password was not checked.
    Throttled,
    /// Every password slot is taken (see [`crate::password`]); the password was not checked
    /// and the attempt was not counted: the caller may try again in a few seconds.
    Busy,
}

/// What the invitation form needs to show.
#[derive(Debug, Clone)]
pub struct PendingInvite {
    pub email: String,
    pub organization: Organization,
}

#[derive(Clone)]
pub struct ConsoleService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: AuditLog,
    base_url: String,
    passwords: PasswordHashing,
}

impl ConsoleService {
    /// `base_url`: the public base URL, e.g. `https://id.example.com`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        base_url: &str,
    ) -> Self {
        ConsoleService {
            store,
            clock,
            audit,
            base_url: base_url.trim_end_matches('/').to_string(),
            passwords: PasswordHashing::default(),
        }
    }

    /// The same service with another bound on password computations (tests use a small one).
    pub fn with_password_hashing(mut self, passwords: PasswordHashing) -> Self {
        self.passwords = passwords;
        self
    }

    /// The bound on password computations this service uses.
    pub fn password_hashing(&self) -> &PasswordHashing {
        &self.passwords
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Invites `email` to administer `org`: makes the account if it is new and a one-time
    /// link to set its password. Inviting an existing admin again lets them set a new one.
    pub async fn invite(
        &self,
        org: &Organization,
        email: &str,
        actor: &Actor,
    ) -> Result<IssuedInvite, Error> {
        let email = normalize_email(email)?;
        let now = self.clock.now();
        let admin = match self.store.admin_by_email(org.id, &email).await? {
            Some(a) => a,
            None => {
                let fresh = AdminAccount {
                    id: AdminId::new_random(),
                    org_id: org.id,
                    email: email.clone(),
                    password_hash: None,
                    created_at: now,
                    last_sign_in_at: None,
                    user_id: None,
                };
                match self.store.create_admin(&fresh).await {
                    Ok(()) => fresh,
                    // Invited concurrently: use that account.
                    Err(StoreError::Conflict(_)) => self
                        .store
                        .admin_by_email(org.id, &email)
                        .await?
                        .ok_or_else(|| Error::internal("the admin vanished after a conflict"))?,
                    Err(e) => return Err(Error::from(e)),
                }
            }
        };
        let secret = token::generate_secret(INVITE_KIND);
        let invite = AdminInvite {
            token_hash: token::hash_secret(&secret),
            org_id: org.id,
            email: email.clone(),
            created_at: now,
            expires_at: now + INVITE_LIFETIME,
            used_at: None,
        };
        self.store.create_admin_invite(&invite).await?;
        self.record(
            org.id,
            actor.kind(),
            actor.id(),
            "console.invite",
            200,
            format!("invited {email}"),
        )
        .await;
        Ok(IssuedInvite {
            link: format!("{}/console/invite/{secret}", self.base_url),
            admin,
            expires_at: invite.expires_at,
        })
    }

    /// The invitation a link names, if it can still be accepted.
    pub async fn pending_invite(&self, secret: &str) -> Result<Option<PendingInvite>, Error> {
        if !plausible_secret(secret, INVITE_KIND) {
            return Ok(None);
        }
        let Some(invite) = self
            .store
            .admin_invite_by_hash(&token::hash_secret(secret))
            .await?
        else {
            return Ok(None);
        };
        if invite.used_at.is_some() || self.clock.now() >= invite.expires_at {
            return Ok(None);
        }
        let Some(organization) = self.store.org_by_id(invite.org_id).await? else {
            return Ok(None);
        };
        Ok(Some(PendingInvite {
            email: invite.email,
            organization,
        }))
    }

    /// Sets the password an invitation asks for and signs the admin in. `Ok(None)`: the link
    /// is unknown, used or expired. A password that does not qualify is refused (`Invalid`)
    /// before the invitation is used, so the admin can try again.
    pub async fn accept_invite(
        &self,
        secret: &str,
        password: &str,
        confirm: &str,
    ) -> Result<Option<ConsoleSignIn>, Error> {
        check_new_password(password, confirm)?;
        // Hashed before the link is used: should every password slot be taken (`Busy`), the
        // invitation still works when the admin tries again.
        if self.pending_invite(secret).await?.is_none() {
            return Ok(None);
        }
        let hash = self.passwords.hash(password.to_string()).await?;
        let now = self.clock.now();
        let Some(invite) = self
            .store
            .take_admin_invite(&token::hash_secret(secret), now)
            .await?
        else {
            return Ok(None);
        };
        let Some(organization) = self.store.org_by_id(invite.org_id).await? else {
            return Ok(None);
        };
        let Some(admin) = self
            .store
            .admin_by_email(invite.org_id, &invite.email)
            .await?
        else {
            return Ok(None);
        };
        self.store
            .set_admin_password(organization.id, admin.id, &hash)
            .await?;
        // A new password ends the sessions the old one opened.
        self.store
            .delete_admin_console_sessions(organization.id, admin.id)
            .await?;
        let mut admin = admin;
        admin.password_hash = Some(hash);
        self.record(
            organization.id,
            "console_admin",
            Some(admin.id.to_string()),
            "console.invite.accept",
            200,
            format!("{} set a password", admin.email),
        )
        .await;
        let signed_in = self.open_session(organization, admin, now, None).await?;
        Ok(Some(signed_in))
    }

    /// Signs an admin in with organization slug, email and password. `client` is the client
    /// address for the per-address throttle, when known.
    pub async fn sign_in(
        &self,
        org_slug: &str,
        email: &str,
        password: &str,
        client: Option<&str>,
    ) -> Result<SignInOutcome, Error> {
        let now = self.clock.now();
        let slug = org_slug.trim().to_ascii_lowercase();
        // Looked up as invitations store it (NFC, lower-cased).
        let email = crate::identity::email_key(email);
        let email_key = format!("email:{slug}:{email}");
        let client_key = client.map(|c| format!("ip:{c}"));

        let shaped = !slug.is_empty()
            && slug.len() <= MAX_SLUG_BYTES
            && !email.is_empty()
            && email.len() <= MAX_EMAIL_BYTES
            && password.len() <= MAX_PASSWORD_BYTES;
        let org = if shaped {
            self.store.org_by_slug(&slug).await?
        } else {
            None
        };

        // Counted before the password is checked, in one atomic step of the store shared by
        // every node: of a burst, only as many as the limits allow are ever checked.
        let mut limits = Vec::with_capacity(2);
        if shaped {
            limits.push(SignInLimit {
                key: email_key.clone(),
                limit: SIGN_IN_LIMIT_PER_EMAIL,
            });
        }
        if let Some(key) = &client_key {
            limits.push(SignInLimit {
                key: key.clone(),
                limit: SIGN_IN_LIMIT_PER_CLIENT,
            });
        }
        let reservation = self
            .store
            .reserve_sign_in_attempt(&limits, now, SIGN_IN_WINDOW)
            .await?;
        if let SignInReservation::Throttled { full } = reservation {
            let reason = match limits.get(full) {
                Some(l) if l.key == email_key => "too many failed attempts for this email",
                _ => "too many failed attempts from this address",
            };
            self.record_sign_in(org.as_ref(), None, 429, reason).await;
            return Ok(SignInOutcome::Throttled);
        }

        let admin = match &org {
            Some(o) => self.store.admin_by_email(o.id, &email).await?,
            None => None,
        };
        let stored_hash = admin.as_ref().and_then(|a| a.password_hash.clone());
        // Always one verify, so an unknown organization or email answers as slowly as a
        // wrong password.
        let matches = match self
            .passwords
            .verify(password.to_string(), stored_hash)
            .await
        {
            Ok(matches) => matches,
            Err(e) => {
                // The password was not checked: the attempt is given back.
                self.release_attempts(&limits, now).await;
                if e.kind == ErrorKind::Busy {
                    // Logged, not audited: a flood of these says nothing about an account.
                    tracing::warn!("console sign-in shed: every password slot is taken");
                    return Ok(SignInOutcome::Busy);
                }
                return Err(e);
            }
        };
        let (org, admin) = match (org, admin) {
            (Some(org), Some(admin)) if matches => (org, admin),
            (org, admin) => {
                // The reservation stays: it is this failure's count.
                let reason = match &admin {
                    None => "unknown organization or email",
                    Some(a) if a.password_hash.is_none() && a.user_id.is_some() => {
                        "this admin signs in through SSO only"
                    }
                    Some(a) if a.password_hash.is_none() => "the invitation was not accepted yet",
                    Some(_) => "wrong password",
                };
                self.record_sign_in(org.as_ref(), admin.map(|a| a.id), 401, reason)
                    .await;
                return Ok(SignInOutcome::Refused);
            }
        };
        // A success is no failure: the address's reservation is given back.
        if let Some(key) = &client_key {
            self.release_attempt(key, now).await;
        }
        // The per-address count stays: one good account must not reset an address's budget.
        self.store.clear_failed_sign_ins(&email_key).await?;
        self.store
            .record_admin_sign_in(org.id, admin.id, now)
            .await?;
        self.record_sign_in(Some(&org), Some(admin.id), 200, "signed in")
            .await;
        let mut admin = admin;
        admin.last_sign_in_at = Some(now);
        let signed_in = self.open_session(org, admin, now, None).await?;
        Ok(SignInOutcome::SignedIn(Box::new(signed_in)))
    }

    /// The admin behind a console cookie, if the session is live and the admin still exists
    /// with a password. Records activity (the idle timeout restarts).
    pub async fn session(&self, cookie_secret: &str) -> Result<Option<ConsoleContext>, Error> {
        if !plausible_secret(cookie_secret, SESSION_KIND) {
            return Ok(None);
        }
        let hash = token::hash_secret(cookie_secret);
        let Some(mut session) = self.store.console_session_by_hash(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= session.idle_expires_at || now >= session.absolute_expires_at {
            self.store.delete_console_session(&hash).await?;
            return Ok(None);
        }
        let admin = self
            .store
            .admin_by_id(session.org_id, session.admin_id)
            .await?;
        // A password session needs the password to still be set; an SSO session needs the
        // user to still hold the admin role (active, granted or in the admin group): one
        // point lookup, so losing the role ends the session at the next request.
        let live = match (&admin, session.sso_user_id) {
            (None, _) => false,
            (Some(_), Some(user)) => self.store.holds_admin_role(session.org_id, user).await?,
            (Some(a), None) => a.password_hash.is_some(),
        };
        let Some(admin) = admin.filter(|_| live) else {
            self.store.delete_console_session(&hash).await?;
            return Ok(None);
        };
        let Some(organization) = self.store.org_by_id(session.org_id).await? else {
            return Ok(None);
        };
        // Touch at most once a minute: a page load is not worth a write each time.
        if now - session.last_seen_at >= Duration::minutes(1) {
            let idle = (now + CONSOLE_IDLE_TIMEOUT).min(session.absolute_expires_at);
            match self.store.touch_console_session(&hash, now, idle).await {
                Ok(()) => {
                    session.last_seen_at = now;
                    session.idle_expires_at = idle;
                }
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(Error::from(e)),
            }
        }
        Ok(Some(ConsoleContext {
            session,
            admin,
            organization,
        }))
    }

    pub async fn sign_out(&self, cookie_secret: &str) -> Result<(), Error> {
        if !plausible_secret(cookie_secret, SESSION_KIND) {
            return Ok(());
        }
        self.store
            .delete_console_session(&token::hash_secret(cookie_secret))
            .await
            .map_err(Error::from)
    }

    /// `sso_user`: the directory user a SAML sign-in opened the session as.
    pub(crate) async fn open_session(
        &self,
        organization: Organization,
        admin: AdminAccount,
        now: OffsetDateTime,
        sso_user: Option<crate::ids::UserId>,
    ) -> Result<ConsoleSignIn, Error> {
        let secret = token::generate_secret(SESSION_KIND);
        let session = ConsoleSession {
            id_hash: token::hash_secret(&secret),
            org_id: organization.id,
            admin_id: admin.id,
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + CONSOLE_IDLE_TIMEOUT,
            absolute_expires_at: now + CONSOLE_ABSOLUTE_TIMEOUT,
            sso_user_id: sso_user,
        };
        self.store.create_console_session(&session).await?;
        Ok(ConsoleSignIn {
            cookie_secret: secret,
            context: ConsoleContext {
                session,
                admin,
                organization,
            },
        })
    }

    /// Gives back attempts reserved at `at`. A failure is logged, not returned: the attempt
    /// then counts as a failure, which only ever errs on the safe side.
    async fn release_attempts(&self, limits: &[SignInLimit], at: OffsetDateTime) {
        for limit in limits {
            self.release_attempt(&limit.key, at).await;
        }
    }

    async fn release_attempt(&self, key: &str, at: OffsetDateTime) {
        if let Err(e) = self.store.release_sign_in_attempt(key, at).await {
            tracing::warn!(error = %e, "could not give back a reserved sign-in attempt");
        }
    }

    async fn record_sign_in(
        &self,
        org: Option<&Organization>,
        admin: Option<AdminId>,
        status: u16,
        reason: &str,
    ) {
        match org {
            Some(org) => {
                self.record(
                    org.id,
                    "console_admin",
                    admin.map(|a| a.to_string()),
                    "console.signin",
                    status,
                    reason.to_string(),
                )
                .await
            }
            // No organization to file it under: the log is all there is.
            None => tracing::info!(status, reason, "console sign-in refused"),
        }
    }

    async fn record(
        &self,
        org: crate::ids::OrgId,
        actor_kind: &str,
        actor_id: Option<String>,
        operation: &str,
        status: u16,
        detail: String,
    ) {
        self.audit
            .record(AuditEvent {
                org_id: org,
                at: self.clock.now(),
                actor_kind: actor_kind.into(),
                actor_id,
                operation: operation.into(),
                resource_type: Some("console_admin".into()),
                resource_id: None,
                status,
                detail: Some(detail),
                request_id: None,
            })
            .await;
    }
}

/// A random token for CSRF fields: 256 bits, URL-safe.
pub fn random_token() -> String {
    token::generate_secret("csrf")
}

/// A valid email address ([`crate::identity::EmailAddress`]), lower-cased.
pub fn normalize_email(email: &str) -> Result<String, Error> {
    Ok(crate::identity::EmailAddress::parse(email)?.to_lowercase())
}

/// Refuses a new password that is too short, too long, or not the same twice.
pub fn check_new_password(password: &str, confirm: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid(format!(
            "the password is too long: use at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    if password != confirm {
        return Err(Error::invalid("the two passwords are not the same"));
    }
    Ok(())
}

fn plausible_secret(secret: &str, kind: &str) -> bool {
    secret.len() <= MAX_SECRET_BYTES
        && secret
            .strip_prefix(kind)
            .is_some_and(|rest| rest.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" IT@Acme.COM ").ok(),
            Some("it@acme.com".into())
        );
        for bad in [
            "",
            "it",
            "@acme.com",
            "it@",
            "a b@c.d",
            "a@b@c",
            "a\u{0}@b.c",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@b.c", "a".repeat(300))).is_err());
    }

    #[test]
    fn new_passwords() {
        assert!(check_new_password("short", "short").is_err());
        assert!(check_new_password("long enough pw", "long enough pX").is_err());
        assert!(check_new_password("long enough pw", "long enough pw").is_ok());
        let huge = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(check_new_password(&huge, &huge).is_err());
    }

    #[test]
    fn secrets() {
        assert!(plausible_secret("pci_invite_abc", INVITE_KIND));
        assert!(!plausible_secret("pci_inviteabc", INVITE_KIND));
        assert!(!plausible_secret(
            &format!("pci_invite_{}", "a".repeat(200)),
            INVITE_KIND
        ));
    }
}
