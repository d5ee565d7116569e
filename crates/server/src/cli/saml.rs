//! `portcullis saml …`: an organization's SAML connection from the command line.

use super::domains::cli_domain_service;
use super::{fail, BaseUrlArg, SamlCommand};
use crate::api::saml_json;
use directory::admin::AdminService;
use directory::audit::AuditLog;
use directory::login_domains::{txt_record_name, txt_record_value};
use directory::model::Actor;
use directory::sso::SsoService;
use directory::Clock;
use std::sync::Arc;

pub(super) async fn saml_command(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    clock: &Arc<dyn Clock>,
    audit: &AuditLog,
    command: SamlCommand,
) -> anyhow::Result<()> {
    let domains = cli_domain_service(&store, clock, audit);
    let sso = |base: &BaseUrlArg| {
        SsoService::new(
            store.clone(),
            clock.clone(),
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
