//! `GET /console`: the first page after sign-in. Later pages (SAML, SCIM tokens, users,
//! groups, audit log) hang off it.

use super::{current_admin, html_response, layout, see_other};
use crate::app::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;

pub(super) async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(ctx) = current_admin(&state, &headers).await else {
        return see_other("/console/login", None);
    };
    let body = html! {
        section.card {
            h2 { "Organization" }
            dl {
                dt { "Name" } dd { (ctx.organization.name) }
                dt { "Slug" } dd { code { (ctx.organization.slug) } }
                dt { "Signed in as" } dd { (ctx.admin.email) }
            }
        }
        section.card {
            h2 { "SCIM provisioning" }
            p { a href="/console/tokens" { "SCIM tokens" } ": generate the API token your identity provider uses, edit its email domains, revoke it." }
        }
        section.card {
            h2 { "Set-up" }
            p.muted { "These sections are on their way to the console:" }
            ul.soon {
                li { "SAML single sign-on: Client ID, IdP metadata, test sign-in" }
                li { "Users and groups, with the Externally Managed tag" }
                li { "Audit log" }
            }
        }
    };
    html_response(StatusCode::OK, layout("Overview", Some(&ctx), body))
}
