//! The command line as clap reads it: every command, its arguments, and their defaults.

use crate::http::serving::{self, ServeLimits};
use crate::http::throttle::{self, AcsThrottle, RateLimit};
use clap::{Args, Parser, Subcommand};
use directory::login_domains::DEFAULT_RECHECK_INTERVAL;
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
