//! The admins page: the organization's admins, inviting one (the link is shown once, on the
//! page that answers the POST), removing one after a confirmation, and the admin roles that
//! let people sign in through the organization's SAML SSO (the admin group, local users
//! granted the role). Only the signed-in admin's organization is ever read or changed.

use super::{
    error_page, html_response, internal_page, layout, see_other, when_or, ConsoleAdmin,
    ConsoleResult, CsrfForm, RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use directory::console::{ConsoleContext, IssuedInvite};
use directory::console_roles::AdminRoles;
use directory::model::{Actor, AdminAccount};
use directory::{Error, ErrorKind};
use maud::{html, Markup};

const PAGE: &str = "/console/admins";

/// How an admin signs in: with a password, through SSO, or both.
fn sign_in_method(a: &AdminAccount) -> &'static str {
    match (a.password_hash.is_some(), a.user_id.is_some()) {
        (true, true) => "Password and SSO",
        (true, false) => "Password",
        (false, true) => "SSO",
        (false, false) => "Password (once the invitation is accepted)",
    }
}

fn status_of(a: &AdminAccount) -> &'static str {
    if a.password_hash.is_some() || a.user_id.is_some() {
        "Active"
    } else {
        "Invited"
    }
}

/// What the page shows besides the lists: a notice, a fresh invitation, a refusal in one of
/// its forms, and the values to fill back in.
#[derive(Default)]
struct Extras<'a> {
    notice: Option<&'a str>,
    invited: Option<&'a IssuedInvite>,
    invite_error: Option<&'a str>,
    invite_email: &'a str,
    group_error: Option<&'a str>,
    group_value: &'a str,
    user_error: Option<&'a str>,
    user_value: &'a str,
}

fn admins_table(ctx: &ConsoleContext, admins: &[AdminAccount]) -> Markup {
    html! {
        div.table-wrap {
            table #admins {
                thead {
                    tr {
                        th scope="col" { "Email" }
                        th scope="col" { "Signs in with" }
                        th scope="col" { "Status" }
                        th scope="col" { "Created" }
                        th scope="col" { "Last sign-in" }
                        th scope="col" { "Actions" }
                    }
                }
                tbody {
                    @for a in admins {
                        tr id={ "admin-" (a.id) } {
                            td { (a.email) }
                            td { (sign_in_method(a)) }
                            td { (status_of(a)) }
                            td { (when_or(Some(a.created_at), "")) }
                            td { (when_or(a.last_sign_in_at, "never")) }
                            td {
                                @if a.id == ctx.admin.id {
                                    span.muted { "You" }
                                } @else {
                                    a id={ "remove-admin-" (a.id) } href={ "/console/admins/" (a.id) "/remove" } {
                                        "Remove" span.visually-hidden { " " (a.email) }
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

fn invite_section(ctx: &ConsoleContext, x: &Extras) -> Markup {
    html! {
        section.card {
            h2 #invite { "Invite an admin" }
            @if let Some(issued) = x.invited {
                div #invite-result role="status" {
                    p.notice {
                        "Send this link to " strong { (issued.admin.email) } ". It works once, until "
                        (when_or(Some(issued.expires_at), "")) ", and is shown only now."
                    }
                    p {
                        code.secret #invite-link { (issued.link) }
                        " "
                        button.copy #copy-invite-link type="button" data-copy="invite-link" hidden { "Copy link" }
                    }
                }
            }
            @if let Some(m) = x.invite_error {
                p.error #invite-error role="alert" { (m) }
            }
            form.stack #invite-form method="post" action=(PAGE) {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                label for="invite-email" { "Email" }
                input #invite-email type="email" name="email" required maxlength="254"
                    autocomplete="off" value=(x.invite_email) aria-describedby="invite-help";
                p.muted #invite-help {
                    "They get a one-time link to set a password. Inviting an existing admin again lets them set a new password."
                }
                button #invite-admin type="submit" { "Invite admin" }
            }
        }
    }
}

fn roles_section(ctx: &ConsoleContext, roles: &AdminRoles, x: &Extras) -> Markup {
    let csrf = &ctx.session.csrf_token;
    html! {
        section.card #admin-roles {
            h2 { "Sign-in through your organization's SSO" }
            p.muted {
                "People who hold the admin role sign in with “Sign in with your organization's SSO” on the console's sign-in page. "
                "Their console session ends at their next request once they lose the role "
                "(deactivated or deleted by your identity provider, removed from the admin group, or the role revoked here)."
            }
            h3 { "Admin group" }
            @match &roles.group {
                Some(g) => p #admin-group-current {
                    "Everyone directly in the SCIM-managed group " strong { (g.display_name) }
                    " is an admin here (members of groups nested in it are not)."
                },
                None => p #admin-group-current.muted { "No group makes its members admins." },
            }
            @if let Some(m) = x.group_error {
                p.error #admin-group-error role="alert" { (m) }
            }
            form.stack #admin-group-form method="post" action="/console/admins/group" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                label for="admin-group" { "Group name (as your identity provider pushes it)" }
                input #admin-group type="text" name="group" required maxlength="512"
                    placeholder="IT-Admins" value=(x.group_value) autocomplete="off";
                button #set-admin-group type="submit" { "Make its members admins" }
            }
            @if roles.group.is_some() {
                form.inline method="post" action="/console/admins/group/clear" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    button.danger #clear-admin-group type="submit" { "Stop using this group" }
                }
            }
            h3 { "Local users with the admin role" }
            @if roles.users.is_empty() {
                p.muted #admin-users-empty { "No local user holds the role." }
            }
            // Always there (empty or not), so the list has one stable id.
            ul #admin-users {
                @for u in &roles.users {
                    li {
                        (u.user_name)
                        @if !u.active { " (deactivated)" }
                        " "
                        form.inline method="post" action={ "/console/admins/users/" (u.id) "/revoke" } {
                            input type="hidden" name=(CSRF_FIELD) value=(csrf);
                            button id={ "revoke-admin-role-" (u.id) } type="submit" {
                                "Revoke" span.visually-hidden { " the role of " (u.user_name) }
                            }
                        }
                    }
                }
            }
            @if let Some(m) = x.user_error {
                p.error #admin-user-error role="alert" { (m) }
            }
            form.stack #admin-user-form method="post" action="/console/admins/users" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                label for="admin-user" { "userName of a local user" }
                input #admin-user type="text" name="user_name" required maxlength="512"
                    value=(x.user_value) autocomplete="off" aria-describedby="admin-user-help";
                p.muted #admin-user-help {
                    "Externally Managed users get the role through the admin group: your identity provider decides about them."
                }
                button #grant-admin-role type="submit" { "Grant the admin role" }
            }
        }
    }
}

async fn admins_page(
    state: &AppState,
    ctx: &ConsoleContext,
    status: StatusCode,
    x: &Extras<'_>,
) -> Response {
    let admins = match state.console.list_admins(&ctx.organization).await {
        Ok(a) => a,
        Err(e) => return internal_page(&e),
    };
    let roles = match state.console.admin_roles(&ctx.organization).await {
        Ok(r) => r,
        Err(e) => return internal_page(&e),
    };
    let body = html! {
        @if let Some(n) = x.notice {
            p.notice #admins-notice role="status" { (n) }
        }
        section.card {
            h2 { "Admins of " (ctx.organization.name) }
            (admins_table(ctx, &admins))
        }
        (invite_section(ctx, x))
        (roles_section(ctx, &roles, x))
        script src="/console/static/console.js" {}
    };
    html_response(status, layout("Admins", Some(ctx), body))
}

pub(super) async fn page(
    State(state): State<AppState>,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    // Read by hand so that an odd query string is ignored rather than refused.
    let query = req.uri().query().unwrap_or_default().to_string();
    drop(req);
    let flag = |name: &str| query.split('&').any(|p| p == format!("{name}=1"));
    let notice = if flag("removed") {
        Some("The admin is removed and their console sessions have ended.")
    } else if flag("group") {
        Some("The admin group is saved. Its members can sign in through your SSO now.")
    } else if flag("cleared") {
        Some("No group grants the admin role any more.")
    } else if flag("granted") {
        Some("The admin role is granted.")
    } else if flag("revoked") {
        Some("The admin role is revoked.")
    } else {
        None
    };
    let x = Extras {
        notice,
        ..Extras::default()
    };
    Ok(admins_page(&state, &ctx, StatusCode::OK, &x).await)
}

/// A refusal of the service as a status; failures of the directory itself are `None`.
fn refusal_status(e: &Error) -> Option<StatusCode> {
    match e.kind {
        ErrorKind::Invalid => Some(StatusCode::BAD_REQUEST),
        ErrorKind::NotFound => Some(StatusCode::NOT_FOUND),
        ErrorKind::Conflict => Some(StatusCode::CONFLICT),
        _ => None,
    }
}

/// Sentence case for a service message shown on its own.
fn sentence(detail: &str) -> String {
    let mut c = detail.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

pub(super) async fn invite(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let email = form.get("email").unwrap_or("");
    Ok(
        match state
            .console
            .invite(&ctx.organization, email, &Actor::ConsoleAdmin(ctx.admin.id))
            .await
        {
            Ok(issued) => {
                let x = Extras {
                    invited: Some(&issued),
                    ..Extras::default()
                };
                admins_page(&state, &ctx, StatusCode::OK, &x).await
            }
            Err(e) if e.kind == ErrorKind::Invalid => {
                let message = sentence(&e.detail);
                let x = Extras {
                    invite_error: Some(&message),
                    invite_email: email,
                    ..Extras::default()
                };
                admins_page(&state, &ctx, StatusCode::BAD_REQUEST, &x).await
            }
            Err(e) => internal_page(&e),
        },
    )
}

/// The admin `id` of the signed-in admin's organization; a 404 page for anything else.
async fn own_admin(
    state: &AppState,
    ctx: &ConsoleContext,
    id: &Result<Path<String>, PathRejection>,
    rid: &str,
) -> Result<AdminAccount, Response> {
    let not_found = || {
        error_page(
            StatusCode::NOT_FOUND,
            "There is no such admin in your organization.",
            rid,
        )
    };
    let Some(Ok(id)) = id
        .as_ref()
        .ok()
        .map(|p| p.0.parse::<directory::ids::AdminId>())
    else {
        return Err(not_found());
    };
    let admins = state
        .console
        .list_admins(&ctx.organization)
        .await
        .map_err(|e| internal_page(&e))?;
    admins
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(not_found)
}

fn cannot_remove_yourself(rid: &str) -> Response {
    error_page(
        StatusCode::CONFLICT,
        "You cannot remove yourself. Ask another admin of your organization to do it.",
        rid,
    )
}

pub(super) async fn remove_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let admin = match own_admin(&state, &ctx, &id, &rid).await {
        Ok(a) => a,
        Err(res) => return Ok(res),
    };
    if admin.id == ctx.admin.id {
        return Ok(cannot_remove_yourself(&rid));
    }
    let action = format!("/console/admins/{}/remove", admin.id);
    let body = html! {
        section.card {
            h2 { "Remove " (admin.email) "?" }
            p {
                (admin.email) " can no longer sign in to this console with a password, their "
                "pending invitation links stop working, and their open console sessions end now."
            }
            @if admin.user_id.is_some() {
                p {
                    "They signed in through your SSO: while they still hold the admin role "
                    "(the admin group or a granted role below) they can sign in that way again. "
                    "Take the role away too to keep them out."
                }
            }
            form.stack #remove-admin-form method="post" action=(action) {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                button.danger #confirm-remove-admin type="submit" { "Remove admin" }
            }
        }
        p { a href=(PAGE) { "Cancel" } }
    };
    Ok(html_response(
        StatusCode::OK,
        layout("Remove admin", Some(&ctx), body),
    ))
}

pub(super) async fn remove_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _form): CsrfForm,
) -> ConsoleResult {
    let admin = match own_admin(&state, &ctx, &id, &rid).await {
        Ok(a) => a,
        Err(res) => return Ok(res),
    };
    if admin.id == ctx.admin.id {
        return Ok(cannot_remove_yourself(&rid));
    }
    Ok(
        match state
            .console
            .remove_admin(&ctx, &admin.id.to_string())
            .await
        {
            Ok(_) => see_other("/console/admins?removed=1", None),
            Err(e) => match refusal_status(&e) {
                Some(status) => error_page(status, &sentence(&e.detail), &rid),
                None => internal_page(&e),
            },
        },
    )
}

pub(super) async fn set_group(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let name = form.get("group").unwrap_or("");
    Ok(match state.console.set_admin_group(&ctx, name).await {
        Ok(_) => see_other("/console/admins?group=1", None),
        Err(e) => match refusal_status(&e) {
            Some(status) => {
                let message = sentence(&e.detail);
                let x = Extras {
                    group_error: Some(&message),
                    group_value: name,
                    ..Extras::default()
                };
                admins_page(&state, &ctx, status, &x).await
            }
            None => internal_page(&e),
        },
    })
}

pub(super) async fn clear_group(
    State(state): State<AppState>,
    CsrfForm(ctx, _form): CsrfForm,
) -> ConsoleResult {
    Ok(match state.console.clear_admin_group(&ctx).await {
        Ok(()) => see_other("/console/admins?cleared=1", None),
        Err(e) => internal_page(&e),
    })
}

pub(super) async fn grant(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let name = form.get("user_name").unwrap_or("");
    Ok(match state.console.grant_admin_role(&ctx, name).await {
        Ok(_) => see_other("/console/admins?granted=1", None),
        Err(e) => match refusal_status(&e) {
            Some(status) => {
                let message = sentence(&e.detail);
                let x = Extras {
                    user_error: Some(&message),
                    user_value: name,
                    ..Extras::default()
                };
                admins_page(&state, &ctx, status, &x).await
            }
            None => internal_page(&e),
        },
    })
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _form): CsrfForm,
) -> ConsoleResult {
    let id = id.map(|p| p.0).unwrap_or_default();
    Ok(match state.console.revoke_admin_role(&ctx, &id).await {
        Ok(()) => see_other("/console/admins?revoked=1", None),
        Err(e) => match refusal_status(&e) {
            Some(status) => error_page(status, &sentence(&e.detail), &rid),
            None => internal_page(&e),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn service_details_become_sentences() {
        assert_eq!(sentence("no such group"), "No such group.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence(""), "");
    }
}
