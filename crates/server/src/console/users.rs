//! The users pages: a searchable list paged by keyset (fast at a million users), a user's page
//! (attributes, groups, sign-in sessions, history), and the changes an IT admin may make to
//! local users. Externally Managed users are read-only; changing one answers 409 with the
//! reason. Only the signed-in admin's organization is ever read or changed.

use super::{
    error_page, html_response, internal_page, layout, when, ConsoleAdmin, ConsoleResult, CsrfForm,
    RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::console::ConsoleContext;
use directory::local_users::{name_part, ListParams, UserEdit, MANAGED_BY_IDP, SCAN_LIMIT};
use directory::model::{Actor, ManagedBy, UserRecord};
use directory::{Error, ErrorKind};
use maud::{html, Markup};

const LIST: &str = "/console/users";

fn actor(ctx: &ConsoleContext) -> Actor {
    Actor::ConsoleAdmin(ctx.admin.id)
}

/// The query string's pairs, decoded leniently; unknown names are ignored.
fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// A 303 to a page of ours whose address is built from an id.
fn redirect(location: String) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn user_href(id: impl std::fmt::Display) -> String {
    format!("{LIST}/{id}")
}

/// The source tag every list and page shows.
fn tag(user: &UserRecord) -> Markup {
    html! {
        @match user.managed_by {
            ManagedBy::Scim => span.tag.em title="Provisioned by your identity provider over SCIM" { "Externally Managed" },
            ManagedBy::Local => span.tag.local { "Local" },
        }
    }
}

fn status_text(user: &UserRecord) -> &'static str {
    if user.active {
        "Active"
    } else {
        "Deactivated"
    }
}

/// A refusal of the directory as a page: its status and its sentence.
fn refusal(e: &Error, rid: &str) -> Response {
    match e.kind {
        ErrorKind::Internal => internal_page(e),
        _ => error_page(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            &e.detail,
            rid,
        ),
    }
}

fn selected_option(value: &str, label: &str, current: &str) -> Markup {
    html! {
        @if value == current {
            option value=(value) selected { (label) }
        } @else {
            option value=(value) { (label) }
        }
    }
}

/// `5000` as `5,000`.
fn thousands(n: u32) -> String {
    let digits: Vec<char> = n.to_string().chars().rev().collect();
    let groups: Vec<String> = digits.chunks(3).map(|g| g.iter().rev().collect()).collect();
    groups.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// The list's address with the same search and filters and another cursor.
fn list_href(p: &ListParams, cursor: (&str, i64)) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [("q", &p.q), ("status", &p.status), ("source", &p.source)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.append_pair(cursor.0, &cursor.1.to_string());
    format!("{LIST}?{}", s.finish())
}

pub(super) async fn list(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    let pairs = query_pairs(&req);
    let params = ListParams {
        q: param(&pairs, "q"),
        status: param(&pairs, "status"),
        source: param(&pairs, "source"),
        after: param(&pairs, "after"),
        before: param(&pairs, "before"),
        limit: None,
    };
    let page = match state.users.list(ctx.organization.id, &params).await {
        Ok(p) => p,
        Err(e) => return Ok(refusal(&e, &rid)),
    };
    let q = params.q.clone().unwrap_or_default();
    let status = params.status.clone().unwrap_or_default();
    let source = params.source.clone().unwrap_or_default();
    let body = html! {
        p { a #new-user href={ (LIST) "/new" } { "Create a local user" } }
        section.card {
            h2 { "Find users" }
            form.filters #user-search method="get" action=(LIST) {
                div.field {
                    label for="q" { "Search" }
                    input #q type="search" name="q" value=(q) maxlength="256"
                        aria-describedby="q-help";
                }
                div.field {
                    label for="status" { "Status" }
                    select #status name="status" {
                        (selected_option("all", "All", &status))
                        (selected_option("active", "Active", &status))
                        (selected_option("deactivated", "Deactivated", &status))
                    }
                }
                div.field {
                    label for="source" { "Source" }
                    select #source name="source" {
                        (selected_option("all", "All", &source))
                        (selected_option("scim", "Externally Managed", &source))
                        (selected_option("local", "Local", &source))
                    }
                }
                div.field.actions {
                    button #search-submit type="submit" { "Search" }
                }
            }
            p.muted #q-help {
                "Finds users whose userName, display name or an email address starts with what you type "
                "(a prefix match, not a match anywhere in the text), ignoring case."
            }
        }
        section.card {
            @if page.partial {
                // A broad search stopped at its bound: say how far it looked, offer the rest.
                @let backward = params.before.as_deref().is_some_and(|b| !b.trim().is_empty());
                @let forward_from = params.after.as_deref().is_some_and(|a| !a.trim().is_empty());
                @let which = if backward { "previous" } else if forward_from { "next" } else { "first" };
                @let n = page.users.len();
                p #search-partial role="status" {
                    "Searched the " (which) " "
                    (thousands(SCAN_LIMIT)) " users: " (n)
                    (if n == 1 { " match" } else { " matches" }) " so far. More may match "
                    (if backward { "further back" } else { "further on" }) " — "
                    @if backward {
                        @if let Some(before) = page.prev_before {
                            a #continue-search href=(list_href(&params, ("before", before))) {
                                "← Continue searching"
                            }
                        }
                    } @else if let Some(after) = page.next_after {
                        a #continue-search href=(list_href(&params, ("after", after))) {
                            "Continue searching →"
                        }
                    }
                }
            }
            @if page.users.is_empty() {
                @if !page.partial {
                    p.muted #no-users { "No users match." }
                }
            } @else {
                div.table-wrap {
                    table #users {
                        thead {
                            tr {
                                th scope="col" { "userName" }
                                th scope="col" { "Display name" }
                                th scope="col" { "Emails" }
                                th scope="col" { "Status" }
                                th scope="col" { "Source" }
                            }
                        }
                        tbody {
                            @for u in &page.users {
                                tr id={ "user-" (u.id) } {
                                    td { a.user-link href=(user_href(u.id)) { (u.user_name) } }
                                    td { (u.display_name.as_deref().unwrap_or("")) }
                                    td { (u.emails.join(", ")) }
                                    td { (status_text(u)) }
                                    td { (tag(u)) }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages of users" {
                @if let Some(before) = page.prev_before {
                    a #prev-page rel="prev" href=(list_href(&params, ("before", before))) { "Previous" }
                }
                " "
                @if let Some(after) = page.next_after {
                    a #next-page rel="next" href=(list_href(&params, ("after", after))) { "Next" }
                }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        layout("Users", Some(&ctx), body),
    ))
}

fn path_id(id: &Result<Path<String>, PathRejection>) -> String {
    id.as_ref().map(|p| p.0.clone()).unwrap_or_default()
}

#[derive(Default)]
struct NewFilled<'a> {
    user_name: &'a str,
    display_name: &'a str,
    email: &'a str,
}

fn new_page(ctx: &ConsoleContext, f: &NewFilled, message: Option<&str>) -> Markup {
    layout(
        "Create a local user",
        Some(ctx),
        html! {
            section.card {
                p.muted {
                    "A local user is managed here, not by your identity provider. "
                    "Users your IdP provisions over SCIM appear on their own, tagged Externally Managed."
                }
                @if let Some(m) = message {
                    p.error #form-error role="alert" { (m) }
                }
                form.stack #new-user-form method="post" action={ (LIST) "/new" } {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                    label for="userName" { "userName" }
                    input #userName type="text" name="userName" required maxlength="256"
                        placeholder="jane@example.com" value=(f.user_name);
                    label for="displayName" { "Display name" }
                    input #displayName type="text" name="displayName" maxlength="256" value=(f.display_name);
                    label for="email" { "Email" }
                    input #email type="email" name="email" maxlength="254" value=(f.email);
                    button #create-user type="submit" { "Create user" }
                }
            }
            p { a href=(LIST) { "Back to the users" } }
        },
    )
}

pub(super) async fn new_form(
    State(_state): State<AppState>,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    Ok(html_response(
        StatusCode::OK,
        new_page(&ctx, &NewFilled::default(), None),
    ))
}

pub(super) async fn new_submit(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let filled = NewFilled {
        user_name: form.get("userName").unwrap_or(""),
        display_name: form.get("displayName").unwrap_or(""),
        email: form.get("email").unwrap_or(""),
    };
    Ok(
        match state
            .users
            .create(
                ctx.organization.id,
                filled.user_name,
                Some(filled.display_name),
                Some(filled.email),
                &actor(&ctx),
            )
            .await
        {
            Ok(user) => redirect(format!("{}?created=1", user_href(user.id))),
            Err(e) if e.kind == ErrorKind::Internal => internal_page(&e),
            Err(e) => html_response(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                new_page(&ctx, &filled, Some(&e.detail)),
            ),
        },
    )
}

fn edit_form(ctx: &ConsoleContext, u: &UserRecord, message: Option<&str>) -> Markup {
    let given = name_part(u, "givenName").unwrap_or_default();
    let family = name_part(u, "familyName").unwrap_or_default();
    html! {
        section.card {
            h2 #edit { "Edit" }
            @if let Some(m) = message {
                p.error #form-error role="alert" { (m) }
            }
            form.stack #edit-user method="post" action=(user_href(u.id)) {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                label for="displayName" { "Display name" }
                input #displayName type="text" name="displayName" maxlength="256"
                    value=(u.display_name.as_deref().unwrap_or(""));
                label for="givenName" { "Given name" }
                input #givenName type="text" name="givenName" maxlength="256" value=(given);
                label for="familyName" { "Family name" }
                input #familyName type="text" name="familyName" maxlength="256" value=(family);
                label for="emails" { "Emails" }
                textarea #emails name="emails" rows="3" aria-describedby="emails-help" { (u.emails.join("\n")) }
                p.muted #emails-help { "One address per line; the first is the primary one." }
                button #save-user type="submit" { "Save" }
            }
            p {
                @if u.active {
                    a #deactivate-user href={ (user_href(u.id)) "/deactivate" } { "Deactivate this user" }
                } @else {
                    a #reactivate-user href={ (user_href(u.id)) "/reactivate" } { "Reactivate this user" }
                }
            }
        }
    }
}

/// How a user's page answers: its status, and the notice or form error it shows.
struct Shown<'a> {
    status: StatusCode,
    notice: Option<&'a str>,
    message: Option<&'a str>,
}

async fn user_page(
    state: &AppState,
    ctx: &ConsoleContext,
    id: &str,
    history_before: Option<i64>,
    shown: Shown<'_>,
    rid: &str,
) -> Response {
    let Shown {
        status,
        notice,
        message,
    } = shown;
    let d = match state
        .users
        .detail(ctx.organization.id, id, history_before)
        .await
    {
        Ok(d) => d,
        Err(e) => return refusal(&e, rid),
    };
    let u = &d.user;
    let href = user_href(u.id);
    let body = html! {
        @if let Some(n) = notice {
            p.notice #notice role="status" { (n) }
        }
        section.card {
            h2 { (u.user_name) " " (tag(u)) }
            @if u.managed_by == ManagedBy::Scim {
                p.warning #managed-by-idp { (MANAGED_BY_IDP) }
            }
            dl.values #user-attributes {
                dt { "userName" } dd { (u.user_name) }
                dt { "Name" } dd {
                    (name_part(u, "givenName").unwrap_or_default()) " "
                    (name_part(u, "familyName").unwrap_or_default())
                }
                dt { "Display name" } dd { (u.display_name.as_deref().unwrap_or("")) }
                dt { "Emails" } dd { (u.emails.join(", ")) }
                dt { "externalId" } dd { (u.external_id.as_deref().unwrap_or("")) }
                dt { "Status" } dd #user-status { (status_text(u)) }
                dt { "Created" } dd { (when(u.created_at)) }
                dt { "Updated" } dd { (when(u.updated_at)) }
                dt { "Source" } dd {
                    @match u.managed_by {
                        ManagedBy::Scim => "Externally Managed (SCIM)",
                        ManagedBy::Local => "Local (this console)",
                    }
                }
            }
        }
        section.card #user-groups {
            h2 { "Groups" }
            @if d.groups.is_empty() {
                p.muted { "Not a member of any group." }
            } @else {
                ul {
                    @for (gid, name, _) in &d.groups {
                        li { a href={ "/console/groups/" (gid) } { (name) } }
                    }
                }
            }
        }
        section.card #user-sessions {
            h2 { "Sign-in sessions" }
            @if d.sessions.is_empty() {
                p.muted #no-sessions { "No open SAML sign-in sessions." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr {
                            th scope="col" { "Started" }
                            th scope="col" { "Last seen" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Action" }
                        } }
                        tbody {
                            @for s in &d.sessions {
                                tr {
                                    td { (when(s.created_at)) }
                                    td { (when(s.last_seen_at)) }
                                    td { (when(s.idle_expires_at.min(s.absolute_expires_at))) }
                                    td {
                                        form.inline.end-session method="post" action={ (href) "/sessions/end" } {
                                            input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                                            input type="hidden" name="session" value=(s.id_hash);
                                            button type="submit" { "End this session" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                form #end-all-sessions method="post" action={ (href) "/sessions/end-all" } {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                    button #end-all-sessions-submit type="submit" { "End all sessions" }
                }
            }
        }
        @if u.managed_by == ManagedBy::Local {
            (edit_form(ctx, u, message))
        }
        section.card #user-history {
            h2 { "History" }
            @if d.history.is_empty() {
                p.muted { "Nothing recorded yet." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr {
                            th scope="col" { "When" }
                            th scope="col" { "Who" }
                            th scope="col" { "What" }
                            th scope="col" { "Outcome" }
                            th scope="col" { "Detail" }
                        } }
                        tbody {
                            @for e in &d.history {
                                tr {
                                    td { (when(e.event.at)) }
                                    td { (e.event.actor_kind) }
                                    td { code { (e.event.operation) } }
                                    td { (e.event.status) }
                                    td { (e.event.detail.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(before) = d.more_history {
                p { a #more-history href={ (href) "?history_before=" (before) } { "Older events" } }
            }
        }
        p { a href=(LIST) { "Back to the users" } }
    };
    html_response(status, layout(&u.user_name, Some(ctx), body))
}

pub(super) async fn show(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    let pairs = query_pairs(&req);
    // An odd cursor is ignored: the newest history is shown.
    let history_before = param(&pairs, "history_before").and_then(|v| v.parse::<i64>().ok());
    let flag = |name: &str| param(&pairs, name).is_some_and(|v| v == "1");
    let notice = if flag("created") {
        Some("The user is created.")
    } else if flag("saved") {
        Some("Saved.")
    } else if flag("deactivated") {
        Some("The user is deactivated and signed out everywhere.")
    } else if flag("reactivated") {
        Some("The user is active again.")
    } else if flag("ended") {
        Some("Sessions ended: the user must sign in again.")
    } else {
        None
    };
    Ok(user_page(
        &state,
        &ctx,
        &path_id(&id),
        history_before,
        Shown {
            status: StatusCode::OK,
            notice,
            message: None,
        },
        &rid,
    )
    .await)
}

/// The edit form's POST: a local user's display name, name parts and emails.
pub(super) async fn update(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let id = path_id(&id);
    let edit = UserEdit {
        display_name: form.get("displayName").map(str::to_string),
        given_name: form.get("givenName").map(str::to_string),
        family_name: form.get("familyName").map(str::to_string),
        emails: form
            .get("emails")
            .map(|v| v.lines().map(str::to_string).collect()),
        active: None,
    };
    Ok(
        match state
            .users
            .update(ctx.organization.id, &id, &edit, &actor(&ctx))
            .await
        {
            Ok(u) => redirect(format!("{}?saved=1", user_href(u.id))),
            Err(e) if e.kind == ErrorKind::Invalid => {
                user_page(
                    &state,
                    &ctx,
                    &id,
                    None,
                    Shown {
                        status: StatusCode::BAD_REQUEST,
                        notice: None,
                        message: Some(&e.detail),
                    },
                    &rid,
                )
                .await
            }
            Err(e) => refusal(&e, &rid),
        },
    )
}

fn confirm_page(ctx: &ConsoleContext, u: &UserRecord, deactivate: bool) -> Markup {
    let (verb, action) = if deactivate {
        ("Deactivate", "deactivate")
    } else {
        ("Reactivate", "reactivate")
    };
    layout(
        &format!("{verb} {}", u.user_name),
        Some(ctx),
        html! {
            section.card {
                @if deactivate {
                    p { "The user will no longer be able to sign in, and every session they have open ends now. You can reactivate them later." }
                } @else {
                    p { "The user will be able to sign in again." }
                }
                form #confirm-form method="post" action={ (user_href(u.id)) "/" (action) } {
                    input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                    button #confirm type="submit" { (verb) " " (u.user_name) }
                }
                p { a #cancel href=(user_href(u.id)) { "Cancel" } }
            }
        },
    )
}

/// The confirmation page of a deactivation or reactivation.
async fn confirm(
    state: AppState,
    id: Result<Path<String>, PathRejection>,
    rid: String,
    ctx: ConsoleContext,
    deactivate: bool,
) -> Response {
    let user = match state.users.get(ctx.organization.id, &path_id(&id)).await {
        Ok(u) => u,
        Err(e) => return refusal(&e, &rid),
    };
    if user.managed_by == ManagedBy::Scim {
        return error_page(StatusCode::CONFLICT, MANAGED_BY_IDP, &rid);
    }
    html_response(StatusCode::OK, confirm_page(&ctx, &user, deactivate))
}

async fn set_active(
    state: AppState,
    id: Result<Path<String>, PathRejection>,
    rid: String,
    ctx: ConsoleContext,
    active: bool,
) -> Response {
    let edit = UserEdit {
        active: Some(active),
        ..Default::default()
    };
    match state
        .users
        .update(ctx.organization.id, &path_id(&id), &edit, &actor(&ctx))
        .await
    {
        Ok(u) => {
            let flag = if active { "reactivated" } else { "deactivated" };
            redirect(format!("{}?{flag}=1", user_href(u.id)))
        }
        Err(e) => refusal(&e, &rid),
    }
}

pub(super) async fn deactivate_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    Ok(confirm(state, id, rid, ctx, true).await)
}

pub(super) async fn reactivate_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    Ok(confirm(state, id, rid, ctx, false).await)
}

pub(super) async fn deactivate_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _): CsrfForm,
) -> ConsoleResult {
    Ok(set_active(state, id, rid, ctx, false).await)
}

pub(super) async fn reactivate_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _): CsrfForm,
) -> ConsoleResult {
    Ok(set_active(state, id, rid, ctx, true).await)
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let id = path_id(&id);
    let session = form.get("session").unwrap_or("");
    Ok(
        match state
            .users
            .end_session(ctx.organization.id, &id, session, &actor(&ctx))
            .await
        {
            Ok(()) => redirect(format!("{}?ended=1", user_href(id.trim()))),
            Err(e) => refusal(&e, &rid),
        },
    )
}

pub(super) async fn end_all_sessions(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _): CsrfForm,
) -> ConsoleResult {
    let id = path_id(&id);
    Ok(
        match state
            .users
            .end_all_sessions(ctx.organization.id, &id, &actor(&ctx))
            .await
        {
            Ok(_) => redirect(format!("{}?ended=1", user_href(id.trim()))),
            Err(e) => refusal(&e, &rid),
        },
    )
}
