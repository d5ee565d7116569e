//! `GET /console`: the set-up checklist, mirroring the setup guide. SAML: Client ID, IdP
//! metadata, a successful test sign-in. SCIM: a token, the IdP's first request, the last
//! request and its outcome. Each step says whether it is done (a mark and words), shows the
//! values to paste into Okta, and links the page where it is done.
//!
//! A handful of indexed queries per load (`directory::setup::setup_status`), whatever the
//! size of the organization or its audit log.

use super::saml::{copy_value, APPLICATION_USERNAME, NAME_ID_FORMAT};
use super::when;
use super::{html_response, layout, ConsoleAdmin, ConsoleResult, RequestId};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use directory::query::AuditOutcome;
use directory::setup::{setup_status, StatusParts};
use maud::{html, Markup};

/// What Okta's SCIM settings ask for besides the base URL.
const UNIQUE_ID_FIELD: &str = "userName";
const PROVISIONING_ACTIONS: &str = "Push New Users, Push Profile Updates, Push Groups";
const AUTHENTICATION_MODE: &str = "HTTP Header (Authorization: Bearer <the API token>)";

fn step(id: &str, done: bool, title: &str, body: Markup) -> Markup {
    html! {
        li #(id) class=(if done { "step done" } else { "step todo" }) {
            h3 {
                span.mark aria-hidden="true" { @if done { "✓" } @else { "○" } }
                " " (title) " "
                span.state { @if done { "— done" } @else { "— not done yet" } }
            }
            (body)
        }
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    RequestId(_rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let status = match setup_status(
        state.store.as_ref(),
        &ctx.organization,
        StatusParts {
            last_signin: false,
            scim: true,
        },
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return Err(e.into()),
    };
    let conn = status.connection.as_ref();
    let urls = conn.map(|c| state.sso.urls(&c.client_id));
    let scim_base = format!("{}/scim/v2", state.config.base_url.trim_end_matches('/'));
    let used = status.used_token();

    let saml = html! {
        section.card #setup-saml {
            h2 { "SAML sign-in" }
            ol.checklist {
                (step("step-client-id", conn.is_some(), "Generate your Client ID", html! {
                    @match (conn, &urls) {
                        (Some(c), Some(u)) => {
                            p { "In Okta: the app's Sign On tab → Edit → Advanced Sign-On Settings → Client ID. For a custom SAML app, paste these into Create SAML Integration:" }
                            dl.values {
                                (copy_value("client-id", "Client ID", &c.client_id))
                                (copy_value("sso-url", "Single sign-on URL", &u.acs_url))
                                (copy_value("audience-uri", "Audience URI (SP Entity ID)", &u.entity_id))
                                (copy_value("name-id-format", "Name ID format", NAME_ID_FORMAT))
                                (copy_value("app-username", "Application username", APPLICATION_USERNAME))
                            }
                        }
                        _ => p { a href="/console/saml" { "Generate the Client ID on the SAML page" } "." },
                    }
                }))
                (step("step-metadata", status.idp.is_some(), "Upload the identity provider metadata", html! {
                    @match &status.idp {
                        Some(idp) => p { "Identity provider " code { (idp.entity_id) } ", " (idp.signing_certificates.len()) " signing certificate(s). " a href="/console/saml" { "See or replace it" } "." },
                        None => p { "Save Okta's Identity Provider metadata as an .xml file and " a href="/console/saml" { "upload it on the SAML page" } "." },
                    }
                }))
                (step("step-test-sign-in", status.last_good_signin.is_some(), "Test sign-in", html! {
                    @match &status.last_good_signin {
                        Some(e) => p { "Last successful sign-in " (when(e.event.at)) @if let Some(d) = &e.event.detail { ": " (d) } "." },
                        None => p { "Sign in once through Okta: " a href="/console/saml" { "Test sign-in on the SAML page" } "." },
                    }
                }))
            }
        }
    };

    let scim = html! {
        section.card #setup-scim {
            h2 { "SCIM provisioning" }
            ol.checklist {
                (step("step-token", !status.live_tokens.is_empty(), "Generate the API token", html! {
                    @if status.live_tokens.is_empty() {
                        p { a href="/console/tokens" { "Generate a token on the SCIM tokens page" } " for the email domains Okta may provision." }
                    } @else {
                        p {
                            "Live token(s): "
                            @for (i, t) in status.live_tokens.iter().enumerate() {
                                @if i > 0 { ", " }
                                strong { (t.name) } " (" code { (t.prefix) "…" } ", " (t.domains) ")"
                            }
                            ". " a href="/console/tokens" { "Manage tokens" } "."
                        }
                    }
                    p { "In Okta: Provisioning → Configure API Integration → Enable API Integration:" }
                    dl.values {
                        (copy_value("scim-base", "SCIM connector base URL", &scim_base))
                        (copy_value("scim-unique-id", "Unique identifier field for users", UNIQUE_ID_FIELD))
                        (copy_value("scim-actions", "Supported provisioning actions", PROVISIONING_ACTIONS))
                        (copy_value("scim-auth-mode", "Authentication Mode", AUTHENTICATION_MODE))
                    }
                }))
                (step("step-first-request", used.is_some(), "First request from the identity provider", html! {
                    @match used {
                        Some(t) => p { "Token " strong { (t.name) } " is in use; last used " (t.last_used_at.map(when).unwrap_or_default()) "." },
                        None => p { "Nothing yet. In Okta, click Test API Credentials: the request shows here." },
                    }
                }))
                (step("step-last-request", status.last_scim.is_some(), "Last SCIM request", html! {
                    @match &status.last_scim {
                        Some(e) => {
                            @let ok = AuditOutcome::of(e.event.status).succeeded();
                            p class=(if ok { "ok" } else { "error" }) {
                                (when(e.event.at)) " — " code { (e.event.operation) } " — "
                                @if ok { "succeeded (" (e.event.status) ")" } @else { "refused (" (e.event.status) ")" }
                                @if let Some(d) = &e.event.detail { ": " (d) }
                            }
                        }
                        None => p { "No SCIM request has changed anything yet. Assign people to the app in Okta, or push a group." },
                    }
                }))
            }
        }
    };

    let body = html! {
        p.muted {
            "Follow these steps to connect " (ctx.organization.name) " (" code { (ctx.organization.slug) } ") to Okta. "
            "Each step turns done as soon as it happens."
        }
        (saml)
        (scim)
        script src="/console/static/console.js" {}
    };
    Ok(html_response(
        StatusCode::OK,
        layout("Overview", Some(&ctx), body),
    ))
}
