//! `portcullis domain …`: login-domain claims, and the operator's approval or revocation.

use super::{fail, DomainCommand};
use crate::api::domain_claim_json;
use directory::admin::AdminService;
use directory::audit::AuditLog;
use directory::login_domains::{status_sentence, DomainConfig, DomainService, HickoryTxtResolver};
use directory::model::Actor;
use directory::Clock;
use std::sync::Arc;

/// The CLI looks nothing up in DNS; its service only reads and approves claims.
pub(super) fn cli_domain_service(
    store: &Arc<dyn directory::Store>,
    clock: &Arc<dyn Clock>,
    audit: &AuditLog,
) -> DomainService {
    let config = DomainConfig::default();
    DomainService::new(
        store.clone(),
        clock.clone(),
        audit.clone(),
        Arc::new(HickoryTxtResolver::new(&config.resolver)),
        config,
    )
}

pub(super) async fn domain_command(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    clock: &Arc<dyn Clock>,
    audit: &AuditLog,
    command: DomainCommand,
) -> anyhow::Result<()> {
    let domains = cli_domain_service(&store, clock, audit);
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
