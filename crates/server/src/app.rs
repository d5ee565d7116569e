//! Application state and the top-level router.

use crate::{api, console, observability, scim_routes, sso_routes};
use axum::routing::get;
use axum::Router;
use directory::admin::AdminService;
use directory::audit::AuditLog;
use directory::console::ConsoleService;
use directory::local_groups::LocalGroupService;
use directory::local_users::LocalUserService;
use directory::scim_service::{Limits, ScimService};
use directory::sso::SsoService;
use directory::token_cache::TokenCache;
use directory::{Clock, Store, SystemClock};
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
    pub config: Arc<ServerConfig>,
}

impl AppState {
    /// Builds the services on a store. Must run inside a tokio runtime (starts the audit writer).
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
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
        let sso = SsoService::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            &config.base_url,
        );
        let console = ConsoleService::new(
            store.clone(),
            clock.clone(),
            audit.clone(),
            &config.base_url,
        );
        let groups = LocalGroupService::new(store.clone(), clock.clone(), audit.clone());
        let users = LocalUserService::new(store.clone(), clock.clone(), audit.clone());
        let admin = AdminService::new(store.clone(), clock, audit, tokens);
        AppState {
            store,
            scim,
            admin,
            sso,
            console,
            groups,
            users,
            config: Arc::new(config),
        }
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

pub fn build_router(state: AppState) -> Router {
    Router::new()
        .nest("/scim/v2", scim_routes::router())
        .nest("/api/v1", api::router())
        .merge(sso_routes::router())
        .merge(console::router())
        .route("/healthz", get(observability::healthz))
        .route("/readyz", get(observability::readyz))
        .route("/metrics", get(observability::metrics))
        .fallback(sso_routes::not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(observability::track))
}
