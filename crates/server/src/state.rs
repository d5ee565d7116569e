//! What every handler is given: the services built once on a store and a clock, and the
//! server's configuration. This module imports no router and no handler, so every surface can
//! depend on it without a cycle.

use crate::http::throttle::AcsThrottle;
use directory::admin::AdminService;
use directory::audit::AuditLog;
use directory::console::ConsoleService;
use directory::local_groups::LocalGroupService;
use directory::local_users::LocalUserService;
use directory::login_domains::{DomainConfig, DomainService, HickoryTxtResolver};
use directory::scim_service::{Limits, ScimService};
use directory::sso::SsoService;
use directory::token_cache::TokenCache;
use directory::{Clock, Store};
use std::sync::Arc;

/// Stack size of every thread of the server's runtime (workers and blocking pool): 2 MiB,
/// tokio's default, set explicitly so that every bound on recursion over untrusted input
/// (XML nesting, JSON depth, filter depth) is proved in tests against the stack production
/// really has. Tests that send deep input build their runtime with it.
pub const WORKER_STACK_SIZE: usize = 2 * 1024 * 1024;

/// The multi-threaded runtime the server runs on, with [`WORKER_STACK_SIZE`] stacks.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_SIZE)
        .build()
}

/// What the server needs to know beyond the database.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The public base URL, e.g. `https://id.example.com` (no trailing slash).
    pub base_url: String,
    pub limits: Limits,
    /// Login-domain verification: the DNS resolver and the re-check interval.
    pub domains: DomainConfig,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub scim: ScimService,
    pub admin: AdminService,
    pub sso: SsoService,
    pub console: ConsoleService,
    pub groups: LocalGroupService,
    pub users: LocalUserService,
    pub domains: DomainService,
    pub config: Arc<ServerConfig>,
    /// The ACS's rate limiter (per connection and per client address).
    pub acs_throttle: Arc<AcsThrottle>,
    /// The clock every service reads; handlers that need the time ask it too.
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    /// Builds the services on a store and the clock they all read (the system clock in the
    /// binary, a manual one in tests). Must run inside a tokio runtime (starts the audit writer).
    pub fn new(store: Arc<dyn Store>, config: ServerConfig, clock: Arc<dyn Clock>) -> Self {
        let audit = AuditLog::spawn(store.clone());
        let tokens = Arc::new(TokenCache::default());
        let scim = ScimService::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            &format!("{}/scim/v2", config.base_url.trim_end_matches('/')),
            config.limits,
            tokens.clone(),
        );
        let domains = DomainService::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            Arc::new(HickoryTxtResolver::new(&config.domains.resolver)),
            config.domains.clone(),
        );
        let sso = SsoService::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            &config.base_url,
            domains.clone(),
        );
        let console = ConsoleService::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            &config.base_url,
        );
        let groups = LocalGroupService::new(store.clone(), clock.clone(), audit.clone());
        let users = LocalUserService::new(store.clone(), clock.clone(), audit.clone());
        let admin = AdminService::new(store.clone(), clock.clone(), audit, tokens);
        AppState {
            store,
            scim,
            admin,
            sso,
            console,
            groups,
            users,
            domains,
            config: Arc::new(config),
            acs_throttle: Arc::new(AcsThrottle::default()),
            clock,
        }
    }

    /// The same state with another ACS rate limiter (the `serve` options, or tests').
    pub fn with_acs_throttle(mut self, throttle: AcsThrottle) -> Self {
        self.acs_throttle = Arc::new(throttle);
        self
    }
}

impl AppState {
    /// The same state with another bound on console password computations (tests use a
    /// small one to see the excess shed).
    pub fn with_password_hashing(mut self, hashing: directory::password::PasswordHashing) -> Self {
        self.console = self.console.with_password_hashing(hashing);
        self
    }
}

/// Opens the store a database URL names: `postgres://…` → PostgreSQL, anything else SQLite.
pub async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = store_postgres::PostgresStore::connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open PostgreSQL database: {e}"))?;
        Ok(Arc::new(store))
    } else {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let store = store_sqlite::SqliteStore::connect(&url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open SQLite database {url}: {e}"))?;
        Ok(Arc::new(store))
    }
}
