//! The command line: `portcullis serve`, and the operator commands that work against the same
//! database while the server runs.

use crate::api::{audit_json, domain_claim_json, saml_json, token_json};
use crate::app::{build_router, open_store, AppState, ServerConfig};
use crate::serving::{self, ServeLimits};
use crate::throttle::{self, AcsThrottle, RateLimit};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use directory::admin::AdminService;
use directory::audit::AuditLog;
use directory::console::ConsoleService;
use directory::login_domains::{
    status_sentence, txt_record_name, txt_record_value, DnsResolverConfig, DomainConfig,
    DomainService, HickoryTxtResolver, DEFAULT_RECHECK_INTERVAL,
};
use directory::model::Actor;
use directory::query::AuditQuery;
use directory::scim_service::Limits;
use directory::sso::SsoService;
use directory::SystemClock;
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_DATABASE: &str = "sqlite://./portcullis-data/portcullis.db";
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

#[derive(Parser, Debug)]
#[command(
    name = "portcullis",
    version,
    about = "Enterprise identity front door: SCIM 2.0 provisioning and SAML 2.0 sign-in"
)]
pub struct Cli {
    /// Database: a SQLite path or `sqlite://…` URL (the default, created on first use), or `postgres://…`.
    #[arg(long, global = true, env = "PORTCULLIS_DATABASE_URL", default_value = DEFAULT_DATABASE, hide_env_values = true)]
    pub database_url: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage SCIM tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the administrators of an organization's console.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage operator keys for the admin API.
    #[command(subcommand, name = "admin-key")]
    AdminKey(AdminKeyCommand),
    /// Show an organization's audit log, newest first.
    Audit(AuditArgs),
    /// Set up SAML single sign-on for an organization.
    #[command(subcommand)]
    Saml(SamlCommand),
    /// Login domains: list an organization's claims, approve or revoke one (as the operator).
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Benchmarks only: insert many synthetic users straight through the store.
    #[command(name = "bench-load-users", hide = true)]
    BenchLoadUsers(BenchLoadUsersArgs),
}

/// `u0000000@<domain>` … : every `local_every`-th user is local, every
/// `deactivated_every`-th deactivated; the rest are Externally Managed and active.
#[derive(Args, Debug)]
pub struct BenchLoadUsersArgs {
    #[arg(long)]
    pub org: String,
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    #[arg(long, default_value = "acme.com")]
    pub domain: String,
    #[arg(long, default_value_t = 10)]
    pub local_every: u64,
    #[arg(long, default_value_t = 7)]
    pub deactivated_every: u64,
    /// Concurrent writers: the SQLite store commits what is waiting as one transaction.
    #[arg(long, default_value_t = 256)]
    pub writers: u64,
}

/// The base URL IdPs are told, for the SAML commands.
#[derive(Args, Debug)]
pub struct BaseUrlArg {
    /// Public base URL of Portcullis (what the IdP and browsers reach).
    #[arg(long, env = "PORTCULLIS_BASE_URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,
}

#[derive(Subcommand, Debug)]
pub enum SamlCommand {
    /// Create the organization's SAML connection (or show the existing one) and print, as one
    /// JSON object: client_id, acs_url, entity_id, login_url, metadata_url.
    Setup {
        #[arg(long)]
        org: String,
        /// An email domain whose people sign in through this organization (repeat for
        /// several). Default: the domains of the organization's SCIM tokens.
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[command(flatten)]
        base: BaseUrlArg,
    },
    /// Upload the IdP metadata XML file (uploading again replaces it).
    Metadata {
        #[arg(long)]
        org: String,
        /// The metadata file, as downloaded from the identity provider.
        file: std::path::PathBuf,
        #[command(flatten)]
        base: BaseUrlArg,
    },
    /// Change the connection's settings; prints the connection as JSON.
    Settings {
        #[arg(long)]
        org: String,
        /// Create unknown people on their first sign-in.
        #[arg(long)]
        jit: Option<bool>,
        /// Accept sign-ins started at the IdP (an Okta tile).
        #[arg(long)]
        idp_initiated: Option<bool>,
        /// Replace the login domains (repeat for several).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Remove every login domain.
        #[arg(long, conflicts_with = "domains")]
        no_domains: bool,
        #[command(flatten)]
        base: BaseUrlArg,
    },
    /// Show the organization's SAML connection as JSON.
    Show {
        #[arg(long)]
        org: String,
        #[command(flatten)]
        base: BaseUrlArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// List the organization's login domains and whether each is verified.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a login domain for the organization: it routes sign-ins at once, and is taken
    /// from any other organization that had it verified.
    Approve {
        #[arg(long)]
        org: String,
        domain: String,
    },
    /// Withdraw the verification of a login domain: the claim stays, routing nobody.
    Revoke {
        #[arg(long)]
        org: String,
        domain: String,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PORTCULLIS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public base URL (what IdPs are told); defaults to http://<listen>.
    #[arg(long, env = "PORTCULLIS_BASE_URL")]
    pub base_url: Option<String>,
    /// SCIM lists and searches that no index answers alone (they read the organization in
    /// chunks) one organization may run at once; more wait briefly, then get 429.
    #[arg(long, env = "PORTCULLIS_SCANS_PER_ORG", default_value_t = directory::scan::MAX_CONCURRENT_SCANS_PER_ORG, value_parser = clap::value_parser!(u16).range(1..))]
    pub scans_per_org: u16,
    /// Most connections open at once; past it a connection is answered 503 and closed.
    /// Default: the descriptor limit (raised to its hard limit at start) less a reserve.
    #[arg(long, env = "PORTCULLIS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's head (request line and headers).
    #[arg(long, env = "PORTCULLIS_HEADER_READ_TIMEOUT", default_value_t = serving::HEADER_READ_TIMEOUT.as_secs())]
    pub header_read_timeout: u64,
    /// Seconds a request body may pause between two chunks.
    #[arg(long, env = "PORTCULLIS_BODY_STALL_TIMEOUT", default_value_t = serving::BODY_STALL_TIMEOUT.as_secs())]
    pub body_stall_timeout: u64,
    /// Seconds a whole request body may take to arrive.
    #[arg(long, env = "PORTCULLIS_BODY_READ_TIMEOUT", default_value_t = serving::BODY_READ_TIMEOUT.as_secs())]
    pub body_read_timeout: u64,
    /// Seconds a keep-alive connection may wait idle for its next request.
    #[arg(long, env = "PORTCULLIS_IDLE_TIMEOUT", default_value_t = serving::IDLE_TIMEOUT.as_secs())]
    pub idle_timeout: u64,
    /// Seconds a client has to take a response.
    #[arg(long, env = "PORTCULLIS_RESPONSE_WRITE_TIMEOUT", default_value_t = serving::RESPONSE_WRITE_TIMEOUT.as_secs())]
    pub response_write_timeout: u64,
    /// SAML ACS posts a minute one client address may make (sustained).
    #[arg(long, env = "PORTCULLIS_ACS_PER_ADDRESS_PER_MINUTE", default_value_t = throttle::ACS_PER_ADDRESS.per_minute)]
    pub acs_per_address_per_minute: u32,
    /// SAML ACS posts one client address may make in a burst.
    #[arg(long, env = "PORTCULLIS_ACS_PER_ADDRESS_BURST", default_value_t = throttle::ACS_PER_ADDRESS.burst)]
    pub acs_per_address_burst: u32,
    /// The DNS server login-domain TXT lookups go to, `ip` or `ip:port`; default: the
    /// system's resolver configuration (/etc/resolv.conf).
    #[arg(long, env = "PORTCULLIS_DNS_RESOLVER", value_parser = parse_dns_resolver)]
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// Seconds between two checks of a login domain verified by DNS.
    #[arg(long, env = "PORTCULLIS_DOMAIN_RECHECK_SECONDS", default_value_t = DEFAULT_RECHECK_INTERVAL.whole_seconds() as u64, value_parser = clap::value_parser!(u64).range(60..))]
    pub domain_recheck_seconds: u64,
}

impl ServeArgs {
    /// The serving limits these options name; a zero timeout is refused, not taken as "none".
    pub fn serve_limits(&self, descriptor_limit: Option<u64>) -> anyhow::Result<ServeLimits> {
        let seconds = |name: &str, v: u64| {
            anyhow::ensure!(v > 0, "--{name} must be at least 1 second");
            Ok(Duration::from_secs(v))
        };
        let max_connections = match self.max_connections {
            Some(0) => anyhow::bail!("--max-connections must be at least 1"),
            Some(n) => n,
            None => serving::default_max_connections(descriptor_limit),
        };
        Ok(ServeLimits {
            header_read_timeout: seconds("header-read-timeout", self.header_read_timeout)?,
            body_stall_timeout: seconds("body-stall-timeout", self.body_stall_timeout)?,
            body_read_timeout: seconds("body-read-timeout", self.body_read_timeout)?,
            idle_timeout: seconds("idle-timeout", self.idle_timeout)?,
            response_write_timeout: seconds("response-write-timeout", self.response_write_timeout)?,
            max_connections,
        })
    }

    /// The ACS rate limiter these options name.
    pub fn acs_throttle(&self) -> anyhow::Result<AcsThrottle> {
        anyhow::ensure!(
            self.acs_per_address_per_minute > 0 && self.acs_per_address_burst > 0,
            "--acs-per-address-per-minute and --acs-per-address-burst must be at least 1"
        );
        Ok(AcsThrottle::new(
            RateLimit {
                per_minute: self.acs_per_address_per_minute,
                burst: self.acs_per_address_burst,
            },
            throttle::ACS_PER_CONNECTION,
            throttle::THROTTLE_TABLE_CAPACITY,
        ))
    }
}

/// `192.0.2.53`, `192.0.2.53:5353` or `[2001:db8::53]:53`.
fn parse_dns_resolver(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(addr) = s.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    s.parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!("'{s}' is not a DNS server address: give an IP address, optionally with :port")
        })
}

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organization; prints its slug.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List organizations.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a SCIM token for email domains; prints the token alone on stdout.
    Create {
        #[arg(long)]
        org: String,
        /// An email domain this token may provision (repeat for several); `*` allows any.
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        /// Base URL printed in the guidance (defaults to PORTCULLIS_BASE_URL or http://127.0.0.1:8080).
        #[arg(long, env = "PORTCULLIS_BASE_URL")]
        base_url: Option<String>,
    },
    /// List an organization's tokens.
    List {
        #[arg(long)]
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once.
    Revoke {
        #[arg(long)]
        org: String,
        token_id: String,
    },
    /// Replace a token's email domains.
    Domains {
        #[arg(long)]
        org: String,
        token_id: String,
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Invite someone to administer an organization in the console; prints the one-time link
    /// (valid 7 days) alone on stdout.
    Invite {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[command(flatten)]
        base: BaseUrlArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminKeyCommand {
    /// Create an operator key; prints it alone on stdout.
    Create {
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    #[arg(long)]
    pub org: String,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let store = open_store(&cli.database_url).await?;
    match cli.command {
        Command::Serve(args) => serve(store, args).await,
        command => {
            let audit = AuditLog::spawn(store.clone());
            let admin = AdminService::new(
                store.clone(),
                Arc::new(SystemClock),
                audit.clone(),
                Default::default(),
            );
            let result = match command {
                Command::Saml(saml) => saml_command(&admin, store, &audit, saml).await,
                Command::Domain(cmd) => domain_command(&admin, store, &audit, cmd).await,
                Command::Admin(cmd) => console_admin_command(&admin, store, &audit, cmd).await,
                Command::BenchLoadUsers(args) => bench_load_users(&admin, store, args).await,
                other => operator_command(&admin, other).await,
            };
            audit.flush().await;
            result
        }
    }
}

async fn serve(store: Arc<dyn directory::Store>, args: ServeArgs) -> anyhow::Result<()> {
    let base_url = args
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen))
        .trim_end_matches('/')
        .to_string();
    // A connection is a descriptor: the usual soft limit of 1,024 is far below what the
    // machine allows, and the connection cap is derived from the limit in force.
    let descriptor_limit = match serving::raise_descriptor_limit() {
        Ok((before, after)) => {
            tracing::info!(before = ?before, after, "descriptor limit (RLIMIT_NOFILE) raised to the hard limit");
            Some(after)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the descriptor limit (RLIMIT_NOFILE)");
            serving::current_descriptor_limit()
        }
    };
    let limits = args.serve_limits(descriptor_limit)?;
    let acs_throttle = args.acs_throttle()?;
    let state = AppState::new(
        store,
        ServerConfig {
            base_url: base_url.clone(),
            limits: Limits {
                scan: directory::scan::ScanLimits {
                    per_org: args.scans_per_org,
                    ..Default::default()
                },
                ..Limits::default()
            },
            domains: DomainConfig {
                resolver: args
                    .dns_resolver
                    .map(DnsResolverConfig::Nameserver)
                    .unwrap_or_default(),
                recheck_interval: time::Duration::seconds(
                    i64::try_from(args.domain_recheck_seconds).unwrap_or(i64::MAX),
                ),
            },
        },
    )
    .with_acs_throttle(acs_throttle);
    state.domains.spawn_periodic_rechecks();
    crate::observability::prometheus();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(
        listen = %args.listen,
        scim = %format!("{base_url}/scim/v2"),
        max_connections = limits.max_connections,
        header_read_timeout_s = limits.header_read_timeout.as_secs(),
        idle_timeout_s = limits.idle_timeout.as_secs(),
        "Portcullis is serving"
    );
    serving::serve(listener, build_router(state), limits, shutdown()).await;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn console_admin_command(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    audit: &AuditLog,
    cmd: AdminCommand,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Invite { org, email, base } => {
            let org = admin.org(&org).await.map_err(fail)?;
            let console =
                ConsoleService::new(store, Arc::new(SystemClock), audit.clone(), &base.base_url);
            let issued = console
                .invite(&org, &email, &Actor::Cli)
                .await
                .map_err(fail)?;
            println!("{}", issued.link);
            eprintln!(
                "Send this link to {} privately: it works once, until {}, and lets them set a password for the {} console.",
                issued.admin.email,
                issued
                    .expires_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                org.name
            );
            Ok(())
        }
    }
}

fn fail(e: directory::Error) -> anyhow::Error {
    anyhow::anyhow!(e.detail)
}

async fn saml_command(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    audit: &AuditLog,
    command: SamlCommand,
) -> anyhow::Result<()> {
    let domains = cli_domain_service(&store, audit);
    let sso = |base: &BaseUrlArg| {
        SsoService::new(
            store.clone(),
            Arc::new(SystemClock),
            audit.clone(),
            &base.base_url,
            domains.clone(),
        )
    };
    match command {
        SamlCommand::Setup { org, domains, base } => {
            let sso = sso(&base);
            let org = admin.org(&org).await.map_err(fail)?;
            let conn = sso.setup(&org, &domains, &Actor::Cli).await.map_err(fail)?;
            let urls = sso.urls(&conn.client_id);
            let out = serde_json::json!({
                "client_id": urls.client_id,
                "acs_url": urls.acs_url,
                "entity_id": urls.entity_id,
                "login_url": urls.login_url,
                "metadata_url": urls.metadata_url,
            });
            println!("{out}");
            let claims = sso.domains().claims(&org).await.map_err(fail)?;
            let listed: Vec<String> = claims
                .iter()
                .map(|c| {
                    if c.is_verified() {
                        format!("{} (verified)", c.domain)
                    } else {
                        format!(
                            "{} (not verified: publish TXT \"{}\" at {}, then press Check now on the console's SAML page, or have an operator run `portcullis domain approve --org {} {}`)",
                            c.domain,
                            txt_record_value(c),
                            txt_record_name(&c.domain),
                            org.slug,
                            c.domain
                        )
                    }
                })
                .collect();
            eprintln!(
                "In Okta: the application's Sign On tab > Advanced Sign-On Settings > Client ID: {}\nThen download the Identity Provider metadata and run `portcullis saml metadata --org {} <file.xml>`.\nLogin domains: {}",
                urls.client_id,
                org.slug,
                if listed.is_empty() { "none (pass --domain acme.com)".to_string() } else { listed.join("; ") }
            );
            Ok(())
        }
        SamlCommand::Metadata { org, file, base } => {
            let sso = sso(&base);
            let org = admin.org(&org).await.map_err(fail)?;
            let xml = std::fs::read_to_string(&file).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read {}: {e}; give the path of the IdP metadata XML file you downloaded",
                    file.display()
                )
            })?;
            let (conn, idp) = sso
                .upload_metadata(&org, &xml, &Actor::Cli)
                .await
                .map_err(fail)?;
            eprintln!(
                "IdP metadata uploaded for {}: identity provider {}, {} signing certificate(s), newest valid until {}.\nPeople can now sign in at {}",
                org.slug,
                idp.entity_id,
                idp.signing_certificates.len(),
                idp.signing_certificates
                    .iter()
                    .map(|c| c.not_after)
                    .max()
                    .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                    .unwrap_or_default(),
                sso.urls(&conn.client_id).login_url
            );
            Ok(())
        }
        SamlCommand::Settings {
            org,
            jit,
            idp_initiated,
            domains,
            no_domains,
            base,
        } => {
            let sso = sso(&base);
            let org = admin.org(&org).await.map_err(fail)?;
            let domains = (no_domains || !domains.is_empty()).then_some(domains);
            let conn = sso
                .update_settings(&org, jit, idp_initiated, domains.as_deref(), &Actor::Cli)
                .await
                .map_err(fail)?;
            let claims = sso.domains().claims(&org).await.map_err(fail)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&saml_json(&sso, &conn, &claims))?
            );
            Ok(())
        }
        SamlCommand::Show { org, base } => {
            let sso = sso(&base);
            let org = admin.org(&org).await.map_err(fail)?;
            let conn = sso.require_connection(&org).await.map_err(fail)?;
            let claims = sso.domains().claims(&org).await.map_err(fail)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&saml_json(&sso, &conn, &claims))?
            );
            Ok(())
        }
    }
}

/// The CLI looks nothing up in DNS; its service only reads and approves claims.
fn cli_domain_service(store: &Arc<dyn directory::Store>, audit: &AuditLog) -> DomainService {
    let config = DomainConfig::default();
    DomainService::new(
        store.clone(),
        Arc::new(SystemClock),
        audit.clone(),
        Arc::new(HickoryTxtResolver::new(&config.resolver)),
        config,
    )
}

async fn domain_command(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    audit: &AuditLog,
    command: DomainCommand,
) -> anyhow::Result<()> {
    let domains = cli_domain_service(&store, audit);
    match command {
        DomainCommand::List { org, json } => {
            let org = admin.org(&org).await.map_err(fail)?;
            let claims = domains.claims(&org).await.map_err(fail)?;
            if json {
                let list: Vec<_> = claims.iter().map(domain_claim_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if claims.is_empty() {
                eprintln!("{} has no login domains.", org.slug);
            } else {
                for c in &claims {
                    println!(
                        "{}\t{}\t{}",
                        c.domain,
                        c.proof
                            .map(|p| format!("verified ({})", p.as_str()))
                            .unwrap_or_else(|| "unverified".into()),
                        status_sentence(c)
                    );
                }
            }
            Ok(())
        }
        DomainCommand::Approve { org, domain } => {
            let org = admin.org(&org).await.map_err(fail)?;
            let claim = domains
                .approve(&org, &domain, &Actor::Cli)
                .await
                .map_err(fail)?;
            eprintln!("{} now routes sign-ins to {}.", claim.domain, org.slug);
            Ok(())
        }
        DomainCommand::Revoke { org, domain } => {
            let org = admin.org(&org).await.map_err(fail)?;
            let claim = domains
                .revoke(&org, &domain, &Actor::Cli)
                .await
                .map_err(fail)?;
            eprintln!(
                "{} of {} is not verified any more: it routes nobody.",
                claim.domain, org.slug
            );
            Ok(())
        }
    }
}

async fn operator_command(admin: &AdminService, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(_)
        | Command::Saml(_)
        | Command::Domain(_)
        | Command::Admin(_)
        | Command::BenchLoadUsers(_) => Ok(()),
        Command::Org(OrgCommand::Create { slug, name }) => {
            let org = admin
                .create_org(&slug, name.as_deref())
                .await
                .map_err(fail)?;
            println!("{}", org.slug);
            Ok(())
        }
        Command::Org(OrgCommand::List) => {
            for o in admin.list_orgs().await.map_err(fail)? {
                println!("{}\t{}", o.slug, o.name);
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            org,
            domains,
            name,
            base_url,
        }) => {
            let org = admin.org(&org).await.map_err(fail)?;
            let issued = admin
                .create_token(&org, name.as_deref(), &domains, &Actor::Cli)
                .await
                .map_err(fail)?;
            let base = base_url.unwrap_or_else(|| "http://127.0.0.1:8080".into());
            println!("{}", issued.secret);
            eprintln!(
                "SCIM token '{}' for {} (domains: {}). It is shown only once.\nIn Okta: Provisioning > Configure API Integration > Enable API Integration, then\n  SCIM base URL: {}/scim/v2\n  API Token:     the token above",
                issued.record.name,
                org.slug,
                issued.record.domains,
                base.trim_end_matches('/')
            );
            Ok(())
        }
        Command::Token(TokenCommand::List { org, json }) => {
            let org = admin.org(&org).await.map_err(fail)?;
            let tokens = admin.list_tokens(&org).await.map_err(fail)?;
            if json {
                let list: Vec<_> = tokens.iter().map(token_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("ID\tNAME\tPREFIX\tDOMAINS\tCREATED\tLAST USED\tREVOKED");
                for t in &tokens {
                    let v = token_json(t);
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.name,
                        t.prefix,
                        t.domains,
                        v["created_at"].as_str().unwrap_or_default(),
                        v["last_used_at"].as_str().unwrap_or("never"),
                        if t.revoked_at.is_some() { "yes" } else { "no" }
                    );
                }
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { org, token_id }) => {
            let org = admin.org(&org).await.map_err(fail)?;
            admin
                .revoke_token(&org, &token_id, &Actor::Cli)
                .await
                .map_err(fail)?;
            eprintln!("token {token_id} revoked; requests with it are refused from now on");
            Ok(())
        }
        Command::Token(TokenCommand::Domains {
            org,
            token_id,
            domains,
        }) => {
            let org = admin.org(&org).await.map_err(fail)?;
            let t = admin
                .set_token_domains(&org, &token_id, &domains, &Actor::Cli)
                .await
                .map_err(fail)?;
            eprintln!("token {} now provisions {}", t.id, t.domains);
            Ok(())
        }
        Command::AdminKey(AdminKeyCommand::Create { name }) => {
            let (_, secret) = admin
                .create_admin_key(name.as_deref())
                .await
                .map_err(fail)?;
            println!("{secret}");
            eprintln!("Operator key created; it is shown only once. Use it as `Authorization: Bearer <key>` on /api/v1/.");
            Ok(())
        }
        Command::Audit(args) => {
            let org = admin.org(&args.org).await.map_err(fail)?;
            let events = admin
                .audit(
                    &org,
                    &AuditQuery {
                        limit: args.limit,
                        ..Default::default()
                    },
                )
                .await
                .map_err(fail)?;
            if args.json {
                let list: Vec<_> = events.iter().map(audit_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for e in &events {
                    let v = audit_json(e);
                    println!(
                        "{}\t{}\t{}:{}\t{}\t{}\t{}",
                        v["at"].as_str().unwrap_or_default(),
                        e.event.operation,
                        e.event.actor_kind,
                        e.event.actor_id.as_deref().unwrap_or("-"),
                        e.event.resource_id.as_deref().unwrap_or("-"),
                        e.event.status,
                        e.event.detail.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
    }
}

/// The synthetic user `i` of the benchmark organization.
fn bench_user(
    org: directory::OrgId,
    i: u64,
    args: &BenchLoadUsersArgs,
) -> directory::model::UserRecord {
    use directory::model::{ManagedBy, UserRecord};
    let now = time::OffsetDateTime::now_utc();
    let first = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal"][(i % 8) as usize];
    let doc = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("u{i:07}@{}", args.domain),
        "name": {"givenName": first, "familyName": format!("L{i:07}")},
        "displayName": format!("{first} L{i:07}"),
        "emails": [{"value": format!("m{i:07}@{}", args.domain), "primary": true, "type": "work"}],
        "externalId": format!("00u{i:07}"),
        "active": args.deactivated_every == 0 || !i.is_multiple_of(args.deactivated_every),
    });
    let mut u = UserRecord {
        id: directory::UserId::new_random(),
        org_id: org,
        user_name: String::new(),
        external_id: None,
        display_name: None,
        active: true,
        emails: Vec::new(),
        doc,
        managed_by: if args.local_every != 0 && i.is_multiple_of(args.local_every) {
            ManagedBy::Local
        } else {
            ManagedBy::Scim
        },
        created_at: now,
        updated_at: now,
        version: 1,
    };
    u.reindex();
    u
}

async fn bench_load_users(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    args: BenchLoadUsersArgs,
) -> anyhow::Result<()> {
    let org = admin.org(&args.org).await.map_err(fail)?;
    let args = Arc::new(args);
    let writers = args.writers.max(1);
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (store, args) = (store.clone(), args.clone());
        tasks.spawn(async move {
            let mut i = w;
            while i < args.count {
                store
                    .insert_user(&bench_user(org.id, i, &args))
                    .await
                    .map_err(|e| anyhow::anyhow!("user {i}: {e}"))?;
                i += writers;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    eprintln!(
        "{} users inserted in {:.1} s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
