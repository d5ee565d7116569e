//! The command line: `portcullis serve`, and the operator commands that work against the same
//! database while the server runs.
//!
//! `main` builds the system clock and passes it to [`run`]; every service here reads it.

mod args;
mod bench;
mod domains;
mod saml;
mod serve;

pub use args::*;

use crate::api::{audit_json, token_json};
use crate::state::open_store;
use directory::admin::AdminService;
use directory::audit::AuditLog;
use directory::console::ConsoleService;
use directory::model::Actor;
use directory::query::AuditQuery;
use directory::Clock;
use std::sync::Arc;

/// Runs a command on the clock `main` built (the system clock; tests may pass another).
pub async fn run(cli: Cli, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let store = open_store(&cli.database_url).await?;
    match cli.command {
        Command::Serve(args) => serve::serve(store, args, clock).await,
        command => {
            let audit = AuditLog::spawn(store.clone());
            let admin = AdminService::new(
                store.clone(),
                clock.clone(),
                audit.clone(),
                Default::default(),
            );
            let result = match command {
                Command::Saml(saml) => {
                    saml::saml_command(&admin, store, &clock, &audit, saml).await
                }
                Command::Domain(cmd) => {
                    domains::domain_command(&admin, store, &clock, &audit, cmd).await
                }
                Command::Admin(cmd) => {
                    console_admin_command(&admin, store, &clock, &audit, cmd).await
                }
                Command::BenchLoadUsers(args) => {
                    bench::bench_load_users(&admin, store, clock.now(), args).await
                }
                other => operator_command(&admin, other).await,
            };
            audit.flush().await;
            result
        }
    }
}

async fn console_admin_command(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    clock: &Arc<dyn Clock>,
    audit: &AuditLog,
    cmd: AdminCommand,
) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Invite { org, email, base } => {
            let org = admin.org(&org).await.map_err(fail)?;
            let console = ConsoleService::new(store, clock.clone(), audit.clone(), &base.base_url);
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
