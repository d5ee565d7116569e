//! Login domains: which organization's identity provider `/login` sends an email domain to.
//!
//! A login domain is a *claim* of an organization. A claim routes nobody until it is proved,
//! by one of:
//! - **DNS**: the organization publishes `TXT "portcullis-verification=<value>"` at
//!   `_portcullis-challenge.<domain>` ([`txt_record_name`], [`txt_record_value`]; the value is
//!   random per claim) and an admin presses "Check now". Verified DNS claims are checked again
//!   every [`DomainConfig::recheck_interval`]; a claim whose record is missing in
//!   [`RECHECK_FAILURES_TO_LAPSE`] checks in a row becomes unverified.
//! - **An operator's approval** (`portcullis domain approve`, or the operator API).
//!
//! Several organizations may claim one domain; at most one claim per domain is verified. A DNS
//! proof takes the domain from another organization's DNS-verified claim (the DNS says who
//! controls the domain now); only an operator takes a domain an operator approved. The
//! organization that loses a domain keeps its claim, unverified, with a note saying why, and
//! both organizations' audit logs record the move. Public mail domains
//! ([`crate::public_mail`]) and malformed domains are refused outright.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::Error;
use crate::ids::OrgId;
use crate::model::{Actor, AuditEvent, DomainClaim, DomainProof, Organization};
use crate::public_mail;
use crate::store::{Store, StoreError};
use async_trait::async_trait;
use rand::RngCore;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// The label under the domain where the TXT record is published.
pub const CHALLENGE_LABEL: &str = "_portcullis-challenge";
/// What the TXT record's text starts with; the claim's value follows.
pub const TXT_VALUE_PREFIX: &str = "portcullis-verification=";
/// At most this many login domains (claims) per organization.
pub const MAX_LOGIN_DOMAINS: usize = 50;
/// "Check now": at most this many DNS lookups per organization…
pub const CHECKS_PER_WINDOW: u32 = 10;
/// …in this window.
pub const CHECK_WINDOW: Duration = Duration::minutes(10);
/// How long one DNS lookup may take, all attempts together.
pub const DNS_LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// At most this many TXT records of an answer are read (a DNS answer is itself at most
/// 64 KiB, the protocol's limit over TCP; over UDP, 4 KiB with EDNS).
pub const MAX_TXT_RECORDS_READ: usize = 64;
/// Default time between two checks of a DNS-verified claim.
pub const DEFAULT_RECHECK_INTERVAL: Duration = Duration::hours(6);
/// A DNS-verified claim lapses after this many checks in a row without its record; a lookup
/// that gets no answer (timeout, server failure) counts for nothing either way, and the claim
/// is tried again an interval later.
pub const RECHECK_FAILURES_TO_LAPSE: u32 = 3;
/// The periodic re-check handles at most this many claims per round…
pub const RECHECK_BATCH: u32 = 100;
/// …and looks for due claims this often.
pub const RECHECK_TICK: std::time::Duration = std::time::Duration::from_secs(60);

/// The name the TXT record is published at.
pub fn txt_record_name(domain: &str) -> String {
    format!("{CHALLENGE_LABEL}.{domain}")
}

/// The text the claim's TXT record must hold.
pub fn txt_record_value(claim: &DomainClaim) -> String {
    format!("{TXT_VALUE_PREFIX}{}", claim.verification_value)
}

/// A new claim's verification value: 128 random bits, hex.
pub fn generate_verification_value() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Normalises a login domain: trims, lower-cases, drops one trailing dot and a leading `@`,
/// turns an internationalised name into its ASCII form (`bücher.example` →
/// `xn--bcher-kva.example`), then checks the result is a host name of at least two
/// letter-digit-hyphen labels (1–63 characters, no hyphen at either end, at most 253 in all,
/// a top-level label that is not all digits). Public mail domains are refused here too.
pub fn normalize_login_domain(raw: &str) -> Result<String, Error> {
    let shown: String = raw.chars().take(80).collect();
    let trimmed = raw.trim();
    let malformed = |why: &str| {
        Error::invalid(format!(
            "'{}' is not a login domain: {why}; give a domain such as acme.com",
            shown.escape_debug()
        ))
    };
    if trimmed == "*" {
        return Err(Error::invalid(
            "'*' cannot be a login domain: /login routes each domain to one organization; list the domains, such as acme.com",
        ));
    }
    if trimmed.is_empty() {
        return Err(malformed("it is empty"));
    }
    if trimmed.len() > 1024 {
        return Err(malformed("it is far longer than a domain can be"));
    }
    let without_at = trimmed.strip_prefix('@').unwrap_or(trimmed);
    let without_dot = without_at.strip_suffix('.').unwrap_or(without_at);
    if without_dot
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(malformed("it contains spaces or control characters"));
    }
    if without_dot.contains('@') || without_dot.contains('/') || without_dot.contains(':') {
        return Err(malformed("give the domain alone, not an address or a URL"));
    }
    let ascii = if without_dot.is_ascii() {
        without_dot.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(without_dot)
            .map_err(|_| malformed("it is not a valid internationalised domain name"))?
    };
    if ascii.len() > 253 {
        return Err(malformed("it is longer than 253 characters"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(malformed("it needs at least two labels"));
    }
    for label in &labels {
        let ldh = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ldh {
            return Err(malformed(
                "each label must be 1 to 63 letters, digits or inner hyphens",
            ));
        }
        // An A-label must decode: `xn--` followed by garbage names nothing.
        if label.starts_with("xn--") && idna::domain_to_unicode(label).1.is_err() {
            return Err(malformed("it has an invalid xn-- label"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(malformed("an IP address is not a domain"));
    }
    if public_mail::is_public_mail_domain(&ascii) {
        return Err(Error::invalid(format!("{ascii} {}", public_mail::REFUSAL)));
    }
    Ok(ascii)
}

/// Normalised, deduplicated, sorted login domains; refuses more than [`MAX_LOGIN_DOMAINS`].
pub fn normalize_login_domains(raw: &[String]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for d in raw {
        let d = normalize_login_domain(d)?;
        if !out.contains(&d) {
            out.push(d);
        }
        if out.len() > MAX_LOGIN_DOMAINS {
            return Err(Error::invalid(format!(
                "an organization has at most {MAX_LOGIN_DOMAINS} login domains"
            )));
        }
    }
    out.sort();
    Ok(out)
}

/// One line for an admin: where the claim stands and, when it routes nobody, why.
pub fn status_sentence(claim: &DomainClaim) -> String {
    let when = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    match (claim.proof, claim.verified_at) {
        (Some(DomainProof::Dns), Some(at)) => {
            let mut s = format!(
                "Verified by its DNS TXT record on {}; checked again every few hours.",
                when(at)
            );
            if claim.failed_checks > 0 {
                s.push_str(&format!(
                    " The record was missing in the last {} check(s): after {RECHECK_FAILURES_TO_LAPSE} in a row the domain stops routing.",
                    claim.failed_checks
                ));
            }
            s
        }
        (Some(DomainProof::Operator), Some(at)) => {
            format!("Verified: approved by an operator on {}.", when(at))
        }
        (Some(DomainProof::Upgrade), _) => {
            "Verified: kept from before login domains had to be proved (an operator can revoke it)."
                .into()
        }
        (Some(_), None) => "Verified.".into(),
        (None, _) => {
            let mut s = String::from("Not verified: it sends nobody to your sign-in yet.");
            if claim.verified_elsewhere {
                s.push_str(
                    " Another organization has verified this domain, so sign-ins for it go there.",
                );
            }
            if let Some(note) = &claim.note {
                s.push_str(" Last: ");
                s.push_str(note);
                if !note.ends_with('.') {
                    s.push('.');
                }
            }
            s
        }
    }
}

// ------------------------------------------------------------ DNS

/// Why a TXT lookup found nothing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsFailure {
    /// The name does not exist or has no TXT record: the answer is "nothing there".
    NoRecords,
    /// No answer to trust (timeout, server failure, no resolver): says nothing about the record.
    Unavailable(String),
}

/// TXT lookups: the real resolver in production, whatever a test needs in tests.
#[async_trait]
pub trait TxtResolver: Send + Sync + 'static {
    /// The texts of the TXT records at `name` (each record's strings joined), at most
    /// [`MAX_TXT_RECORDS_READ`].
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsFailure>;
}

/// Where the resolver sends its queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DnsResolverConfig {
    /// The system's configuration (`/etc/resolv.conf`).
    #[default]
    System,
    /// One nameserver, over UDP with TCP fallback.
    Nameserver(SocketAddr),
}

/// The `hickory-resolver` stub resolver, with no cache (a "Check now" right after the record
/// was published must see it), [`DNS_LOOKUP_TIMEOUT`] and a bounded read of the answer.
pub struct HickoryTxtResolver {
    resolver: Result<hickory_resolver::TokioResolver, String>,
}

impl HickoryTxtResolver {
    pub fn new(config: &DnsResolverConfig) -> Self {
        use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
        use hickory_resolver::name_server::TokioConnectionProvider;
        use hickory_resolver::Resolver;
        let mut opts = ResolverOpts::default();
        opts.timeout = DNS_LOOKUP_TIMEOUT / 2;
        opts.attempts = 2;
        opts.edns0 = true;
        opts.cache_size = 1;
        opts.positive_max_ttl = Some(std::time::Duration::ZERO);
        opts.negative_max_ttl = Some(std::time::Duration::ZERO);
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        opts.ndots = 0;
        let builder = match config {
            DnsResolverConfig::System => Resolver::builder_tokio()
                .map_err(|e| format!("the system's DNS configuration cannot be read: {e}")),
            DnsResolverConfig::Nameserver(addr) => {
                let servers =
                    NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                Ok(Resolver::builder_with_config(
                    ResolverConfig::from_parts(None, vec![], servers),
                    TokioConnectionProvider::default(),
                ))
            }
        };
        HickoryTxtResolver {
            resolver: builder.map(|b| b.with_options(opts).build()),
        }
    }
}

#[async_trait]
impl TxtResolver for HickoryTxtResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, DnsFailure> {
        let resolver = self
            .resolver
            .as_ref()
            .map_err(|e| DnsFailure::Unavailable(e.clone()))?;
        // A fully qualified name: no search domain is ever appended.
        let fqdn = format!("{name}.");
        let lookup = tokio::time::timeout(DNS_LOOKUP_TIMEOUT, resolver.txt_lookup(fqdn))
            .await
            .map_err(|_| DnsFailure::Unavailable("the DNS lookup timed out".into()))?;
        match lookup {
            Ok(found) => Ok(found
                .iter()
                .take(MAX_TXT_RECORDS_READ)
                .map(|txt| {
                    txt.txt_data()
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>()
                })
                .collect()),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// "Nothing there" only when the server said so (NXDOMAIN, or NOERROR without TXT records);
/// a server failure or a refusal says nothing about the record.
fn classify(e: &hickory_resolver::ResolveError) -> DnsFailure {
    use hickory_resolver::proto::op::ResponseCode;
    use hickory_resolver::proto::ProtoErrorKind;
    let code = e.proto().and_then(|p| match p.kind() {
        ProtoErrorKind::NoRecordsFound { response_code, .. } => Some(*response_code),
        _ => None,
    });
    match code {
        Some(ResponseCode::NXDomain | ResponseCode::NoError) => DnsFailure::NoRecords,
        Some(other) => DnsFailure::Unavailable(format!("the DNS server answered {other}")),
        None => DnsFailure::Unavailable(format!("the DNS lookup failed: {e}")),
    }
}

// ------------------------------------------------------------ the service

/// The knobs of domain verification.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// Where TXT lookups go.
    pub resolver: DnsResolverConfig,
    /// How long a DNS-verified claim goes unchecked.
    pub recheck_interval: Duration,
}

impl Default for DomainConfig {
    fn default() -> Self {
        DomainConfig {
            resolver: DnsResolverConfig::System,
            recheck_interval: DEFAULT_RECHECK_INTERVAL,
        }
    }
}

/// What "Check now" found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The record is there: the claim is verified (and took the domain from these many
    /// other organizations).
    Verified { displaced: usize },
    /// Already verified by an operator (or kept at upgrade): nothing to look up.
    AlreadyVerified,
    /// The record is not there (or says something else); the sentence says what was looked for.
    NotFound(String),
    /// The domain is held by an operator's approval for another organization.
    HeldByOperator(String),
    /// The lookup gave no answer to trust; nothing changed.
    DnsUnavailable(String),
    /// Too many checks for this organization lately; try again after this many seconds.
    RateLimited { retry_after_secs: u64 },
}

/// What one round of periodic re-checks did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecheckSummary {
    pub checked: usize,
    pub missing: usize,
    pub lapsed: usize,
    pub unavailable: usize,
}

/// Per-organization "Check now" budget: a fixed window per organization, in memory (each node
/// bounds its own lookups; the periodic re-check is not counted).
#[derive(Default)]
struct CheckBudget {
    windows: HashMap<OrgId, (OffsetDateTime, u32)>,
}

/// Entries are dropped once their window is over, when the map holds more than this.
const CHECK_BUDGET_PRUNE_AT: usize = 10_000;

impl CheckBudget {
    /// Takes one lookup from the organization's budget, or says how long until the next.
    fn take(&mut self, org: OrgId, now: OffsetDateTime) -> Result<(), u64> {
        if self.windows.len() > CHECK_BUDGET_PRUNE_AT {
            self.windows
                .retain(|_, (start, _)| now - *start < CHECK_WINDOW);
        }
        let entry = self.windows.entry(org).or_insert((now, 0));
        if now - entry.0 >= CHECK_WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= CHECKS_PER_WINDOW {
            let wait = (entry.0 + CHECK_WINDOW - now).whole_seconds().max(1);
            return Err(u64::try_from(wait).unwrap_or(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[derive(Clone)]
pub struct DomainService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    resolver: Arc<dyn TxtResolver>,
    config: DomainConfig,
    budget: Arc<Mutex<CheckBudget>>,
}

impl DomainService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        resolver: Arc<dyn TxtResolver>,
        config: DomainConfig,
    ) -> Self {
        DomainService {
            store,
            clock,
            audit,
            resolver,
            config,
            budget: Arc::default(),
        }
    }

    pub fn config(&self) -> &DomainConfig {
        &self.config
    }

    /// The organization's claims, by domain.
    pub async fn claims(&self, org: &Organization) -> Result<Vec<DomainClaim>, Error> {
        self.store
            .login_domain_claims(org.id)
            .await
            .map_err(Error::from)
    }

    fn fresh_claim(&self, org: OrgId, domain: &str, now: OffsetDateTime) -> DomainClaim {
        DomainClaim {
            org_id: org,
            domain: domain.to_string(),
            verification_value: generate_verification_value(),
            proof: None,
            verified_at: None,
            last_checked_at: None,
            failed_checks: 0,
            note: None,
            created_at: now,
            verified_elsewhere: false,
        }
    }

    /// Makes `domains` the organization's login domains: new ones become unverified claims,
    /// claims on domains still listed keep their state, the others are removed. Nothing
    /// changes when any domain is refused.
    pub async fn set_domains(
        &self,
        org: &Organization,
        domains: &[String],
        actor: &Actor,
    ) -> Result<Vec<DomainClaim>, Error> {
        let domains = normalize_login_domains(domains)?;
        let now = self.clock.now();
        let wanted: Vec<DomainClaim> = domains
            .iter()
            .map(|d| self.fresh_claim(org.id, d, now))
            .collect();
        let (added, removed) = self
            .store
            .replace_login_domain_claims(org.id, &wanted)
            .await?;
        for d in &added {
            self.record(
                org.id,
                actor,
                "domain.claim",
                d,
                format!("claimed login domain {d}; it routes nobody until verified"),
            )
            .await;
        }
        for d in &removed {
            self.record(
                org.id,
                actor,
                "domain.release",
                d,
                format!("removed login domain {d}"),
            )
            .await;
        }
        self.claims(org).await
    }

    async fn claim_of(&self, org: &Organization, domain: &str) -> Result<DomainClaim, Error> {
        self.claims(org)
            .await?
            .into_iter()
            .find(|c| c.domain == domain)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "{domain} is not a login domain of this organization; add it first"
                ))
            })
    }

    /// "Check now": looks the claim's TXT record up and verifies the claim when it is there.
    pub async fn check_now(
        &self,
        org: &Organization,
        domain: &str,
        actor: &Actor,
    ) -> Result<CheckOutcome, Error> {
        let domain = normalize_login_domain(domain)?;
        let claim = self.claim_of(org, &domain).await?;
        if claim.is_verified() && claim.proof != Some(DomainProof::Dns) {
            return Ok(CheckOutcome::AlreadyVerified);
        }
        let now = self.clock.now();
        let budget = self
            .budget
            .lock()
            .map_err(|_| Error::internal("check budget lock poisoned"))?
            .take(org.id, now);
        if let Err(retry_after_secs) = budget {
            return Ok(CheckOutcome::RateLimited { retry_after_secs });
        }
        match self.look_for_record(&claim).await {
            Err(why) => Ok(CheckOutcome::DnsUnavailable(why)),
            Ok(Some(missing)) => {
                self.store
                    .record_login_domain_check(
                        org.id,
                        &domain,
                        now,
                        Some(&missing),
                        RECHECK_FAILURES_TO_LAPSE,
                    )
                    .await?;
                self.record_with_status(
                    org.id,
                    actor,
                    "domain.check",
                    &domain,
                    404,
                    missing.clone(),
                )
                .await;
                Ok(CheckOutcome::NotFound(missing))
            }
            Ok(None) if claim.is_verified() => {
                self.store
                    .record_login_domain_check(
                        org.id,
                        &domain,
                        now,
                        None,
                        RECHECK_FAILURES_TO_LAPSE,
                    )
                    .await?;
                Ok(CheckOutcome::Verified { displaced: 0 })
            }
            Ok(None) => {
                match self
                    .verify(org.id, &domain, DomainProof::Dns, actor, now)
                    .await
                {
                    Ok(displaced) => Ok(CheckOutcome::Verified { displaced }),
                    Err(e) if e.kind == crate::ErrorKind::Conflict => {
                        let why = format!("{domain} is held by an operator's approval for another organization; ask your Portcullis operator to move it");
                        self.store
                            .record_login_domain_check(
                                org.id,
                                &domain,
                                now,
                                Some(&why),
                                RECHECK_FAILURES_TO_LAPSE,
                            )
                            .await?;
                        Ok(CheckOutcome::HeldByOperator(why))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// `Ok(None)`: the record is there; `Ok(Some(why))`: it is not (why, for the admin);
    /// `Err`: the lookup gave no answer to trust.
    async fn look_for_record(&self, claim: &DomainClaim) -> Result<Option<String>, String> {
        let name = txt_record_name(&claim.domain);
        let expected = txt_record_value(claim);
        let when = self
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        match self.resolver.txt(&name).await {
            Ok(texts) if texts.iter().any(|t| t.trim() == expected) => Ok(None),
            Ok(texts) if texts.is_empty() => {
                Ok(Some(format!("no TXT record at {name} (checked {when})")))
            }
            Ok(_) => Ok(Some(format!(
                "the TXT records at {name} do not include \"{expected}\" (checked {when})"
            ))),
            Err(DnsFailure::NoRecords) => {
                Ok(Some(format!("no TXT record at {name} (checked {when})")))
            }
            Err(DnsFailure::Unavailable(why)) => Err(why),
        }
    }

    /// Verifies the claim and audits the move in every organization it touches.
    async fn verify(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<usize, Error> {
        let when = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let how = match proof {
            DomainProof::Dns => "proved it by DNS",
            _ => "had it approved by an operator",
        };
        let displaced_note =
            format!("another organization {how} on {when}, so {domain} now routes there");
        let displaced = self
            .store
            .verify_login_domain(org, domain, proof, now, &displaced_note)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict(format!(
                    "{domain} is verified for another organization by an operator's approval; only an operator can move it"
                )),
                StoreError::NotFound => Error::not_found(format!(
                    "{domain} is not a login domain of this organization; add it first"
                )),
                other => Error::from(other),
            })?;
        self.record(
            org,
            actor,
            "domain.verify",
            domain,
            format!("login domain {domain} verified ({})", proof.as_str()),
        )
        .await;
        for other in &displaced {
            self.record(
                *other,
                actor,
                "domain.lost",
                domain,
                format!("login domain {domain}: {displaced_note}"),
            )
            .await;
        }
        Ok(displaced.len())
    }

    /// An operator's approval: claims the domain for the organization if needed and verifies
    /// it, taking it from whichever organization held it.
    pub async fn approve(
        &self,
        org: &Organization,
        domain: &str,
        actor: &Actor,
    ) -> Result<DomainClaim, Error> {
        let domain = normalize_login_domain(domain)?;
        let now = self.clock.now();
        let current = self.claims(org).await?;
        if !current.iter().any(|c| c.domain == domain) {
            if current.len() >= MAX_LOGIN_DOMAINS {
                return Err(Error::invalid(format!(
                    "an organization has at most {MAX_LOGIN_DOMAINS} login domains"
                )));
            }
            let added = self
                .store
                .add_login_domain_claim(&self.fresh_claim(org.id, &domain, now))
                .await?;
            if added {
                self.record(
                    org.id,
                    actor,
                    "domain.claim",
                    &domain,
                    format!("claimed login domain {domain}"),
                )
                .await;
            }
        }
        self.verify(org.id, &domain, DomainProof::Operator, actor, now)
            .await?;
        self.claim_of(org, &domain).await
    }

    /// An operator withdraws a verification: the claim stays, unverified.
    pub async fn revoke(
        &self,
        org: &Organization,
        domain: &str,
        actor: &Actor,
    ) -> Result<DomainClaim, Error> {
        let domain = normalize_login_domain(domain)?;
        let when = self
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let note = format!("an operator revoked its verification on {when}");
        let changed = self
            .store
            .unverify_login_domain(org.id, &domain, &note)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => Error::not_found(format!(
                    "{domain} is not a login domain of organization '{}'",
                    org.slug
                )),
                other => Error::from(other),
            })?;
        if changed {
            self.record(
                org.id,
                actor,
                "domain.revoke",
                &domain,
                format!("login domain {domain}: {note}"),
            )
            .await;
        }
        self.claim_of(org, &domain).await
    }

    /// One round of the periodic re-check: every DNS-verified claim not checked for
    /// [`DomainConfig::recheck_interval`], at most [`RECHECK_BATCH`].
    pub async fn recheck_due(&self) -> Result<RecheckSummary, Error> {
        let now = self.clock.now();
        let due = self
            .store
            .login_domains_due_for_check(now - self.config.recheck_interval, RECHECK_BATCH)
            .await?;
        let mut summary = RecheckSummary::default();
        for claim in due {
            summary.checked += 1;
            let missing = match self.look_for_record(&claim).await {
                Ok(m) => m,
                Err(why) => {
                    tracing::warn!(domain = %claim.domain, %why, "login domain re-check: no answer");
                    summary.unavailable += 1;
                    // Counts for nothing, but waits its turn again: claims whose servers do
                    // not answer never crowd the others out of a round.
                    match self
                        .store
                        .record_login_domain_unanswered(claim.org_id, &claim.domain, now, &why)
                        .await
                    {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(e) => return Err(Error::from(e)),
                    }
                    continue;
                }
            };
            if missing.is_some() {
                summary.missing += 1;
            }
            let after = self
                .store
                .record_login_domain_check(
                    claim.org_id,
                    &claim.domain,
                    now,
                    missing.as_deref(),
                    RECHECK_FAILURES_TO_LAPSE,
                )
                .await;
            match after {
                Ok(after) if !after.is_verified() => {
                    summary.lapsed += 1;
                    self.record_with_status(
                        claim.org_id,
                        &Actor::Cli,
                        "domain.lapsed",
                        &claim.domain,
                        404,
                        format!(
                            "login domain {} is no longer verified: its TXT record was missing in {RECHECK_FAILURES_TO_LAPSE} checks in a row ({})",
                            claim.domain,
                            missing.unwrap_or_default()
                        ),
                    )
                    .await;
                }
                Ok(_) => {}
                // Removed or changed meanwhile: nothing to re-check.
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(Error::from(e)),
            }
        }
        Ok(summary)
    }

    /// Runs [`Self::recheck_due`] every [`RECHECK_TICK`] until the runtime stops.
    pub fn spawn_periodic_rechecks(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECHECK_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = service.recheck_due().await {
                    tracing::warn!(detail = %e.detail, "login domain re-check failed");
                }
            }
        })
    }

    async fn record(
        &self,
        org: OrgId,
        actor: &Actor,
        operation: &str,
        domain: &str,
        detail: String,
    ) {
        self.record_with_status(org, actor, operation, domain, 200, detail)
            .await
    }

    async fn record_with_status(
        &self,
        org: OrgId,
        actor: &Actor,
        operation: &str,
        domain: &str,
        status: u16,
        detail: String,
    ) {
        self.audit
            .record(AuditEvent {
                org_id: org,
                at: self.clock.now(),
                actor_kind: actor.kind().into(),
                actor_id: actor.id(),
                operation: operation.into(),
                resource_type: Some("login_domain".into()),
                resource_id: Some(domain.to_string()),
                status,
                detail: Some(detail),
                request_id: None,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalised_or_refused_with_a_reason() {
        for (raw, want) in [
            ("Acme.COM", "acme.com"),
            ("acme.com.", "acme.com"),
            ("  @acme.com ", "acme.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("a-b.co.uk", "a-b.co.uk"),
        ] {
            assert_eq!(
                normalize_login_domain(raw).ok().as_deref(),
                Some(want),
                "{raw}"
            );
        }
        for raw in [
            "*",
            "",
            "acme",
            "acme..com",
            "-acme.com",
            "acme-.com",
            "acme.com..",
            "a b.com",
            "acme.com\u{0}",
            "jane@acme.com",
            "https://acme.com",
            "acme_corp.com",
            "10.0.0.1",
            "xn--zz.com",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "abcdefghi.".repeat(26)),
            "gmail.com",
            "GMAIL.com.",
            "gmx.de",
        ] {
            let e = normalize_login_domain(raw).expect_err(raw);
            assert_eq!(e.kind, crate::ErrorKind::Invalid, "{raw}");
            assert!(!e.detail.is_empty());
        }
        assert!(normalize_login_domain("gmail.com")
            .expect_err("public")
            .detail
            .contains("public mail domain"));
    }

    #[test]
    fn at_most_the_limit_of_login_domains() {
        let many: Vec<String> = (0..=MAX_LOGIN_DOMAINS)
            .map(|i| format!("d{i}.example"))
            .collect();
        assert!(normalize_login_domains(&many[..MAX_LOGIN_DOMAINS]).is_ok());
        let e = normalize_login_domains(&many).expect_err("over the limit");
        assert!(e.detail.contains(&MAX_LOGIN_DOMAINS.to_string()));
    }

    #[test]
    fn the_check_budget_refills_after_its_window() {
        let mut budget = CheckBudget::default();
        let org = OrgId::new_random();
        let other = OrgId::new_random();
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        for _ in 0..CHECKS_PER_WINDOW {
            assert!(budget.take(org, t0).is_ok());
        }
        let wait = budget
            .take(org, t0 + Duration::seconds(1))
            .expect_err("spent");
        assert_eq!(
            wait,
            (CHECK_WINDOW - Duration::seconds(1)).whole_seconds() as u64
        );
        assert!(
            budget.take(other, t0).is_ok(),
            "budgets are per organization"
        );
        assert!(budget.take(org, t0 + CHECK_WINDOW).is_ok());
    }
}
