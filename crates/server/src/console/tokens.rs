//! The SCIM tokens page: list, generate (the secret is shown once, on the page that answers
//! the POST, never in a URL), edit domains, revoke after a confirmation. Only the signed-in
//! admin's organization is ever read or changed; another organization's token is a 404.

use super::{
    error_page, html_response, internal_page, layout, see_other, split_domains, when_or,
    ConsoleAdmin, ConsoleResult, CsrfForm, RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use directory::console::ConsoleContext;
use directory::model::{Actor, ScimTokenRecord};
use directory::{Error, ErrorKind};
use maud::{html, Markup};

const LIST: &str = "/console/tokens";

fn actor(ctx: &ConsoleContext) -> Actor {
    Actor::ConsoleAdmin(ctx.admin.id)
}

fn scim_base(state: &AppState) -> String {
    format!("{}/scim/v2", state.config.base_url.trim_end_matches('/'))
}

/// What a refused form shows again.
#[derive(Default)]
struct Filled<'a> {
    name: &'a str,
    domains: &'a str,
}

fn create_form(ctx: &ConsoleContext, filled: &Filled, message: Option<&str>) -> Markup {
    html! {
        section.card {
            h2 #generate { "Generate a token" }
            @if let Some(m) = message {
                p.error role="alert" { (m) }
            }
            form.stack method="post" action=(LIST) {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength="100"
                    placeholder="okta-prod" value=(filled.name);
                label for="domains" { "Email domains" }
                textarea #domains name="domains" rows="3" required
                    aria-describedby="domains-help" { (filled.domains) }
                p.muted #domains-help {
                    "Users provisioned with this token must have an email address in one of these domains. "
                    "Separate them with commas, spaces or new lines. Type " code { "*" }
                    " on its own to allow any domain."
                }
                button type="submit" { "Generate token" }
            }
        }
    }
}

fn token_table(tokens: &[ScimTokenRecord]) -> Markup {
    html! {
        @if tokens.is_empty() {
            p.muted { "No tokens yet. Generate one below and paste it into your identity provider." }
        } @else {
            div.table-wrap {
                table {
                    thead {
                        tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Prefix" }
                            th scope="col" { "Domains" }
                            th scope="col" { "Created" }
                            th scope="col" { "Last used" }
                            th scope="col" { "Revoked" }
                            th scope="col" { "Actions" }
                        }
                    }
                    tbody {
                        @for t in tokens {
                            tr {
                                td { (t.name) }
                                td { code { (t.prefix) "…" } }
                                td { (t.domains) }
                                td { (when_or(Some(t.created_at), "")) }
                                td { (when_or(t.last_used_at, "never")) }
                                td { (when_or(t.revoked_at, "no")) }
                                td {
                                    @if t.revoked_at.is_none() {
                                        a href={ "/console/tokens/" (t.id) "/domains" } {
                                            "Edit domains" span.visually-hidden { " of " (t.name) }
                                        }
                                        " · "
                                        a href={ "/console/tokens/" (t.id) "/revoke" } {
                                            "Revoke" span.visually-hidden { " " (t.name) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The list and the generate form, newest token first.
async fn list_page(
    state: &AppState,
    ctx: &ConsoleContext,
    status: StatusCode,
    notice: Option<&str>,
    filled: &Filled<'_>,
    message: Option<String>,
) -> Response {
    let mut tokens = match state.admin.list_tokens(&ctx.organization).await {
        Ok(t) => t,
        Err(e) => return internal_page(&e),
    };
    tokens.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    let body = html! {
        @if let Some(n) = notice {
            p.notice role="status" { (n) }
        }
        section.card {
            h2 { "Tokens of " (ctx.organization.name) }
            p.muted {
                "Your identity provider sends these as a bearer token to the SCIM base URL "
                code { (scim_base(state)) } "."
            }
            (token_table(&tokens))
        }
        (create_form(ctx, filled, message.as_deref()))
    };
    html_response(status, layout("SCIM tokens", Some(ctx), body))
}

pub(super) async fn list(
    State(state): State<AppState>,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    // Read by hand so that an odd query string is ignored rather than refused.
    let notice = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "revoked=1"))
        .then_some("The token is revoked. Requests that use it are now refused.");
    Ok(list_page(
        &state,
        &ctx,
        StatusCode::OK,
        notice,
        &Filled::default(),
        None,
    )
    .await)
}

pub(super) async fn create(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let filled = Filled {
        name: form.get("name").unwrap_or(""),
        domains: form.get("domains").unwrap_or(""),
    };
    let refuse = |message: String| {
        list_page(
            &state,
            &ctx,
            StatusCode::BAD_REQUEST,
            None,
            &filled,
            Some(message),
        )
    };
    let name = filled.name.trim();
    if name.is_empty() {
        return Ok(refuse("Give the token a name, such as okta-prod.".into()).await);
    }
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Ok(refuse("The name must be at most 100 characters, on one line.".into()).await);
    }
    let domains = split_domains(filled.domains);
    let issued = match state
        .admin
        .create_token(&ctx.organization, Some(name), &domains, &actor(&ctx))
        .await
    {
        Ok(i) => i,
        Err(e) if e.kind == ErrorKind::Invalid => return Ok(refuse(e.detail).await),
        Err(e) => return Err(e.into()),
    };
    let base = scim_base(&state);
    let body = html! {
        p.notice role="status" {
            "Token " strong { (issued.record.name) } " is ready. Copy it now: this is the only time it is shown."
        }
        section.card {
            h2 { "Paste these into Okta" }
            p { "In the app's Provisioning tab, under Integration:" }
            dl.values {
                dt { "SCIM connector base URL" }
                dd {
                    code.secret #scim-base { (base) }
                    button.copy type="button" data-copy="scim-base" hidden { "Copy base URL" }
                }
                dt { "API Token" }
                dd {
                    code.secret #scim-token { (issued.secret) }
                    button.copy type="button" data-copy="scim-token" hidden { "Copy token" }
                }
            }
            p.muted {
                "Allowed email domains: " (issued.record.domains) ". "
                "If the token is lost, revoke it and generate another."
            }
        }
        p { a href=(LIST) { "Back to the tokens" } }
        script src="/console/static/console.js" {}
    };
    Ok(html_response(
        StatusCode::OK,
        layout("Token generated", Some(&ctx), body),
    ))
}

/// The token `id` of the admin's organization; a 404 page for anything else.
async fn own_token(
    state: &AppState,
    ctx: &ConsoleContext,
    id: &Result<Path<String>, PathRejection>,
    rid: &str,
) -> Result<ScimTokenRecord, Response> {
    let not_found = || {
        error_page(
            StatusCode::NOT_FOUND,
            "There is no such token in your organization.",
            rid,
        )
    };
    // An id that does not even decode is as unknown as any other.
    let Some(Ok(id)) = id.as_ref().ok().map(|p| p.0.parse::<directory::TokenId>()) else {
        return Err(not_found());
    };
    let tokens = state
        .admin
        .list_tokens(&ctx.organization)
        .await
        .map_err(|e| internal_page(&e))?;
    tokens
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(not_found)
}

fn domains_page(
    ctx: &ConsoleContext,
    token: &ScimTokenRecord,
    value: &str,
    message: Option<&str>,
) -> Markup {
    let action = format!("/console/tokens/{}/domains", token.id);
    layout(
        "Edit token domains",
        Some(ctx),
        html! {
            section.card {
                h2 { "Token " (token.name) }
                p.muted { "Prefix " code { (token.prefix) "…" } ". Currently allowed: " (token.domains) "." }
                @if let Some(m) = message {
                    p.error role="alert" { (m) }
                }
                form.stack method="post" action=(action) {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                    label for="domains" { "Email domains" }
                    textarea #domains name="domains" rows="3" required
                        aria-describedby="domains-help" { (value) }
                    p.muted #domains-help {
                        "Separate domains with commas, spaces or new lines; " code { "*" }
                        " on its own allows any. Requests for users outside these domains are refused from now on."
                    }
                    button type="submit" { "Save domains" }
                }
            }
            p { a href=(LIST) { "Back to the tokens" } }
        },
    )
}

pub(super) async fn domains_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let token = match own_token(&state, &ctx, &id, &rid).await {
        Ok(t) => t,
        Err(res) => return Ok(res),
    };
    let current = token.domains.to_string();
    Ok(html_response(
        StatusCode::OK,
        domains_page(&ctx, &token, &current, None),
    ))
}

pub(super) async fn domains_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let token = match own_token(&state, &ctx, &id, &rid).await {
        Ok(t) => t,
        Err(res) => return Ok(res),
    };
    let raw = form.get("domains").unwrap_or("");
    let refused = |status: StatusCode, message: &str| {
        html_response(status, domains_page(&ctx, &token, raw, Some(message)))
    };
    if token.revoked_at.is_some() {
        return Ok(refused(
            StatusCode::CONFLICT,
            "This token is revoked; its domains can no longer change.",
        ));
    }
    Ok(
        match state
            .admin
            .set_token_domains(
                &ctx.organization,
                &token.id.to_string(),
                &split_domains(raw),
                &actor(&ctx),
            )
            .await
        {
            Ok(_) => see_other(LIST, None),
            Err(e) => error_answer(&e, &rid, |status| refused(status, &e.detail)),
        },
    )
}

/// Maps a service refusal to a page; failures of the directory itself become the
/// reference page.
fn error_answer(e: &Error, rid: &str, form: impl FnOnce(StatusCode) -> Response) -> Response {
    match e.kind {
        ErrorKind::Invalid => form(StatusCode::BAD_REQUEST),
        ErrorKind::NotFound => error_page(
            StatusCode::NOT_FOUND,
            "There is no such token in your organization.",
            rid,
        ),
        ErrorKind::Conflict | ErrorKind::PreconditionFailed => form(StatusCode::CONFLICT),
        _ => internal_page(e),
    }
}

fn revoke_page(ctx: &ConsoleContext, token: &ScimTokenRecord) -> Markup {
    let action = format!("/console/tokens/{}/revoke", token.id);
    layout(
        "Revoke token",
        Some(ctx),
        html! {
            section.card {
                h2 { "Revoke " (token.name) "?" }
                p {
                    "Token " code { (token.prefix) "…" } " (domains " (token.domains) ") stops working at once: "
                    "your identity provider's SCIM requests with it are refused, so users and groups "
                    "stop being created, updated and deactivated here until you paste a new token into it. "
                    "Users and groups already provisioned stay as they are. This cannot be undone."
                }
                form.stack method="post" action=(action) {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                    button.danger type="submit" { "Revoke token" }
                }
            }
            p { a href=(LIST) { "Cancel" } }
        },
    )
}

pub(super) async fn revoke_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let token = match own_token(&state, &ctx, &id, &rid).await {
        Ok(t) => t,
        Err(res) => return Ok(res),
    };
    if token.revoked_at.is_some() {
        return Ok(error_page(
            StatusCode::CONFLICT,
            "This token is already revoked.",
            &rid,
        ));
    }
    Ok(html_response(StatusCode::OK, revoke_page(&ctx, &token)))
}

pub(super) async fn revoke_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _form): CsrfForm,
) -> ConsoleResult {
    let token = match own_token(&state, &ctx, &id, &rid).await {
        Ok(t) => t,
        Err(res) => return Ok(res),
    };
    if token.revoked_at.is_some() {
        return Ok(error_page(
            StatusCode::CONFLICT,
            "This token is already revoked.",
            &rid,
        ));
    }
    Ok(
        match state
            .admin
            .revoke_token(&ctx.organization, &token.id.to_string(), &actor(&ctx))
            .await
        {
            Ok(()) => see_other("/console/tokens?revoked=1", None),
            Err(e) => error_answer(&e, &rid, |status| error_page(status, &e.detail, &rid)),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::split_domains;

    #[test]
    fn domains_split_on_commas_spaces_and_newlines() {
        assert_eq!(
            split_domains("acme.com, acme.io\nexample.org\t*"),
            ["acme.com", "acme.io", "example.org", "*"]
        );
        assert!(split_domains(" ,\n ").is_empty());
    }
}
