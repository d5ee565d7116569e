//! `portcullis serve`: the server on the production serving loop, until SIGINT or SIGTERM.

use super::ServeArgs;
use crate::app::build_router;
use crate::http::serving::{self};
use crate::state::{AppState, ServerConfig};
use anyhow::Context;
use directory::login_domains::{DnsResolverConfig, DomainConfig};
use directory::scim_service::Limits;
use directory::Clock;
use std::sync::Arc;

pub(super) async fn serve(
    store: Arc<dyn directory::Store>,
    args: ServeArgs,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
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
        clock,
    )
    .with_acs_throttle(acs_throttle);
    state.domains.spawn_periodic_rechecks();
    crate::http::observability::prometheus();
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
