//! The groups pages: every group of the organization, marked Externally Managed (SCIM),
//! Local, or handed over to the IdP and not yet linked; members in pages; local groups
//! created, renamed, their members changed, deleted and handed over to the IdP. A group the
//! IdP manages is read-only with the reason shown, and a form posted to it by hand is a 409
//! page with that reason. Only the signed-in admin's organization is ever read or changed.

use super::{
    error_page, html_response, internal_page, layout, see_other, ConsoleAdmin, ConsoleResult,
    CsrfForm, RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::console::ConsoleContext;
use directory::local_groups::{split_people, GroupSource, HANDED_OVER_REASON, SCIM_MANAGED_REASON};
use directory::model::{Actor, GroupRecord, MemberKind};
use directory::{Error, ErrorKind};
use maud::{html, Markup};

const LIST: &str = "/console/groups";

fn actor(ctx: &ConsoleContext) -> Actor {
    Actor::ConsoleAdmin(ctx.admin.id)
}

fn group_url(g: &GroupRecord) -> String {
    format!("{LIST}/{}", g.id)
}

/// The query string's fields, decoded leniently: odd ones are ignored, never refused.
fn query_field(req: &Request, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.chars().take(512).collect::<String>())
        .filter(|v| !v.trim().is_empty())
}

/// A 303 to one of our own pages.
fn see_other_to(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) fn source_tag(g: &GroupRecord) -> Markup {
    match GroupSource::of(g) {
        GroupSource::Scim => {
            html! { span.tag.em title="Managed by your identity provider over SCIM" { "Externally Managed" } }
        }
        GroupSource::HandedOver => {
            html! { span.tag.handover title="Handed over to your identity provider; waiting for it to link the group" { "Handed over, not yet linked" } }
        }
        GroupSource::Local => html! { span.tag.local { "Local" } },
    }
}

fn source_words(g: &GroupRecord) -> &'static str {
    match GroupSource::of(g) {
        GroupSource::Scim => "Your identity provider, over SCIM (Externally Managed)",
        GroupSource::HandedOver => {
            "Handed over to your identity provider, which has not linked it yet"
        }
        GroupSource::Local => "This console (local group, invisible to SCIM)",
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    let search = query_field(&req, "q");
    let cursor = query_field(&req, "cursor");
    let deleted = query_field(&req, "deleted").is_some();
    let page = match state
        .groups
        .list(
            &ctx.organization,
            search.as_deref(),
            cursor.as_deref(),
            None,
        )
        .await
    {
        Ok(p) => p,
        Err(e) if e.kind == ErrorKind::Invalid => {
            return Ok(error_page(StatusCode::BAD_REQUEST, &e.detail, &rid))
        }
        Err(e) => return Err(e.into()),
    };
    let next = page.next.as_ref().map(|c| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &search {
            q.append_pair("q", s);
        }
        q.append_pair("cursor", c);
        format!("{LIST}?{}", q.finish())
    });
    let body = html! {
        @if deleted {
            p.notice #group-result role="status" { "The group is deleted." }
        }
        section.card {
            form.inline #group-search-form method="get" action=(LIST) role="search" {
                label for="group-search" { "Name starts with" }
                input #group-search type="search" name="q" maxlength="256" value=[search.as_deref()];
                button type="submit" { "Search" }
            }
            p { a #new-group-link href="/console/groups/new" { "Create a local group" } }
            @if page.items.is_empty() {
                p.muted #groups-empty {
                    @if search.is_some() { "No group's name starts with that." }
                    @else { "No groups yet. Groups your identity provider pushes over SCIM appear here, tagged Externally Managed." }
                }
            } @else {
                div.table-wrap {
                    table #groups-table {
                        thead {
                            tr {
                                th scope="col" { "Name" }
                                th scope="col" { "Source" }
                                th scope="col" { "externalId" }
                            }
                        }
                        tbody {
                            @for g in &page.items {
                                tr {
                                    td { a href=(group_url(g)) { (g.display_name) } }
                                    td { (source_tag(g)) }
                                    td { @if let Some(x) = &g.external_id { code { (x) } } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages of groups" {
                @if cursor.is_some() {
                    a #groups-first href={ (LIST) @if let Some(s) = &search { "?" (form_urlencoded::Serializer::new(String::new()).append_pair("q", s).finish()) } } { "First page" }
                }
                @if let Some(n) = &next {
                    a #groups-next href=(n) { "Next page" }
                }
            }
        }
    };
    Ok(html_response(
        StatusCode::OK,
        layout("Groups", Some(&ctx), body),
    ))
}

/// The group `id` of the admin's organization; a 404 page for anything else.
async fn own_group(
    state: &AppState,
    ctx: &ConsoleContext,
    id: &Result<Path<String>, PathRejection>,
    rid: &str,
) -> Result<GroupRecord, Response> {
    let Ok(Path(id)) = id else {
        return Err(not_found_page(rid));
    };
    match state.groups.get(&ctx.organization, id).await {
        Ok(g) => Ok(g),
        Err(e) if e.kind == ErrorKind::NotFound => Err(not_found_page(rid)),
        Err(e) => Err(internal_page(&e)),
    }
}

fn not_found_page(rid: &str) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is no such group in your organization.",
        rid,
    )
}

/// The answer to a change the IdP owns: a 409 page that says why.
fn read_only_page(ctx: &ConsoleContext, g: &GroupRecord, reason: &str) -> Response {
    html_response(
        StatusCode::CONFLICT,
        layout(
            "This group is read-only",
            Some(ctx),
            html! {
                section.card {
                    h2 { (g.display_name) " " (source_tag(g)) }
                    p.warning #managed-by-idp role="alert" { (reason) }
                }
                p { a href=(group_url(g)) { "Back to the group" } }
            },
        ),
    )
}

/// Messages a group page shows after a change, by the `done` query field.
fn done_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("The group is created."),
        "renamed" => Some("The group is renamed."),
        "added" => Some("The members are added."),
        "removed" => Some("The members are removed."),
        "handed-over" => Some("The group is handed over: your identity provider can now see it over SCIM and link it."),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn group_page(
    state: &AppState,
    ctx: &ConsoleContext,
    g: &GroupRecord,
    cursor: Option<&str>,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
    rid: &str,
) -> Response {
    let members = match state
        .groups
        .members(&ctx.organization, g, cursor, None)
        .await
    {
        Ok(m) => m,
        Err(e) if e.kind == ErrorKind::Invalid => {
            return error_page(StatusCode::BAD_REQUEST, &e.detail, rid)
        }
        Err(e) => return internal_page(&e),
    };
    let url = group_url(g);
    let source = GroupSource::of(g);
    let reason = source.read_only_reason();
    let editable = reason.is_none();
    let csrf = &ctx.session.csrf_token;
    let body = html! {
        @if let Some(n) = notice {
            p.notice #group-result role="status" { (n) }
        }
        @if let Some(m) = error {
            p.error #group-error role="alert" { (m) }
        }
        section.card {
            h2 #group-name-heading { (g.display_name) " " (source_tag(g)) }
            @if let Some(r) = reason {
                p.warning #managed-by-idp role="note" { (r) }
            }
            dl.values {
                dt { "Source" }
                dd #group-source data-source=(source.as_str()) { (source_words(g)) }
                dt { "externalId" }
                dd #group-external-id { @if let Some(x) = &g.external_id { code { (x) } } @else { "none" } }
                dt { "Id" }
                dd { code #group-id { (g.id) } }
            }
        }
        section.card {
            h2 { "Members" }
            @if members.items.is_empty() {
                p.muted #members-empty {
                    @if cursor.is_some() { "No more members." } @else { "No members." }
                }
            } @else if editable {
                form #remove-members-form method="post" action={ (url) "/members/remove" } {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    (member_table(&members.items, true))
                    button #remove-selected type="submit" { "Remove selected" }
                }
            } @else {
                (member_table(&members.items, false))
            }
            nav.pager aria-label="Pages of members" {
                @if cursor.is_some() {
                    a #members-first href=(url) { "First page" }
                }
                @if let Some(n) = &members.next {
                    a #members-next href={ (url) "?cursor=" (n) } { "Next page" }
                }
            }
        }
        @if editable {
            section.card {
                h2 { "Add people" }
                form.stack #add-members-form method="post" action={ (url) "/members/add" } {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    label for="people" { "userNames or email addresses" }
                    textarea #people name="people" rows="3" required aria-describedby="people-help" {}
                    p.muted #people-help { "One or several, separated by commas, spaces or new lines." }
                    button #add-members type="submit" { "Add to group" }
                }
            }
            section.card {
                h2 { "Rename" }
                form.stack #rename-form method="post" action={ (url) "/rename" } {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    label for="group-name" { "Name" }
                    input #group-name type="text" name="name" required maxlength="256" value=(g.display_name);
                    button #rename type="submit" { "Rename" }
                }
            }
            section.card {
                h2 { "Hand over or delete" }
                p {
                    a #handover-link href={ (url) "/handover" } { "Hand over to the IdP" }
                    " — let your identity provider link this group and manage it from then on."
                }
                p { a #delete-link href={ (url) "/delete" } { "Delete this group" } }
            }
        }
        p { a href=(LIST) { "Back to the groups" } }
    };
    html_response(status, layout(&g.display_name, Some(ctx), body))
}

fn member_table(members: &[directory::model::Member], removable: bool) -> Markup {
    html! {
        div.table-wrap {
            table #members-table {
                thead {
                    tr {
                        @if removable { th scope="col" { span.visually-hidden { "Select" } } }
                        th scope="col" { "Name" }
                        th scope="col" { "Kind" }
                        @if removable { th scope="col" { "Actions" } }
                    }
                }
                tbody {
                    @for m in members {
                        @let name = m.display.clone().unwrap_or_else(|| m.id.clone());
                        @let href = match m.kind {
                            MemberKind::User => format!("/console/users/{}", m.id),
                            MemberKind::Group => format!("{LIST}/{}", m.id),
                        };
                        tr {
                            @if removable {
                                td {
                                    input type="checkbox" name="member" value=(m.id) id={ "member-" (m.id) };
                                    label.visually-hidden for={ "member-" (m.id) } { "Select " (name) }
                                }
                            }
                            td { a href=(href) { (name) } }
                            td { (m.kind.as_str()) }
                            @if removable {
                                td {
                                    button.link type="submit" name="remove_one" value=(m.id) id={ "remove-" (m.id) } {
                                        "Remove" span.visually-hidden { " " (name) }
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

pub(super) async fn show(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    let cursor = query_field(&req, "cursor");
    let done = query_field(&req, "done");
    Ok(group_page(
        &state,
        &ctx,
        &g,
        cursor.as_deref(),
        StatusCode::OK,
        done_notice(done.as_deref()),
        None,
        &rid,
    )
    .await)
}

/// Maps the outcome of a change to the page that answers it.
async fn answer(
    state: &AppState,
    ctx: &ConsoleContext,
    g: &GroupRecord,
    result: Result<&str, Error>,
    rid: &str,
) -> Response {
    match result {
        Ok(done) => see_other_to(&format!("{}?done={done}", group_url(g))),
        Err(e) => match e.kind {
            ErrorKind::NotFound => not_found_page(rid),
            ErrorKind::Conflict
                if e.detail == SCIM_MANAGED_REASON || e.detail == HANDED_OVER_REASON =>
            {
                read_only_page(ctx, g, &e.detail)
            }
            ErrorKind::Conflict => {
                group_page(
                    state,
                    ctx,
                    g,
                    None,
                    StatusCode::CONFLICT,
                    None,
                    Some(&e.detail),
                    rid,
                )
                .await
            }
            ErrorKind::Invalid => {
                group_page(
                    state,
                    ctx,
                    g,
                    None,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some(&e.detail),
                    rid,
                )
                .await
            }
            _ => internal_page(&e),
        },
    }
}

pub(super) async fn rename(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    let name = form.get("name").unwrap_or("");
    let result = state
        .groups
        .rename(&ctx.organization, &g.id.to_string(), name, &actor(&ctx))
        .await
        .map(|_| "renamed");
    Ok(answer(&state, &ctx, &g, result, &rid).await)
}

pub(super) async fn add_members(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    let people = split_people(form.get("people").unwrap_or(""));
    let result = state
        .groups
        .add_members(&ctx.organization, &g.id.to_string(), &people, &actor(&ctx))
        .await
        .map(|_| "added");
    Ok(answer(&state, &ctx, &g, result, &rid).await)
}

pub(super) async fn remove_members(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    // A member's own button removes that member; the other button, every checked one.
    let ids: Vec<String> = match form.get("remove_one").filter(|v| !v.trim().is_empty()) {
        Some(one) => vec![one.to_string()],
        None => form
            .0
            .iter()
            .filter(|(k, v)| k == "member" && !v.trim().is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let result = state
        .groups
        .remove_members(&ctx.organization, &g.id.to_string(), &ids, &actor(&ctx))
        .await
        .map(|_| "removed");
    Ok(answer(&state, &ctx, &g, result, &rid).await)
}

fn confirm_page(
    ctx: &ConsoleContext,
    g: &GroupRecord,
    title: &str,
    action: &str,
    button_id: &str,
    button: &str,
    explain: Markup,
) -> Response {
    html_response(
        StatusCode::OK,
        layout(
            title,
            Some(ctx),
            html! {
                section.card {
                    h2 { (g.display_name) " " (source_tag(g)) }
                    (explain)
                    form.stack id={ (button_id) "-form" } method="post" action=(action) {
                        input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                        button.danger id=(button_id) type="submit" { (button) }
                    }
                }
                p { a #cancel href=(group_url(g)) { "Cancel" } }
            },
        ),
    )
}

pub(super) async fn handover_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    if let Some(reason) = GroupSource::of(&g).read_only_reason() {
        return Ok(read_only_page(&ctx, &g, reason));
    }
    Ok(confirm_page(
        &ctx,
        &g,
        "Hand over to the IdP",
        &format!("{}/handover", group_url(&g)),
        "handover-confirm",
        "Hand over to the IdP",
        html! {
            p { "What changes when you hand this group over to your identity provider:" }
            ul #handover-explain {
                li { "The group becomes visible to your identity provider over SCIM, so it can link it: in Okta, Push Groups → " strong { "link existing group" } " and choose " strong { (g.display_name) } "." }
                li { "From then on its name and members are managed only by your identity provider; here they are read-only." }
                li { "Its current members stay until your identity provider changes them (a push replaces them with the members it has)." }
                li { "This cannot be undone from the console." }
            }
        },
    ))
}

pub(super) async fn handover_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _form): CsrfForm,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    let result = state
        .groups
        .hand_over(&ctx.organization, &g.id.to_string(), &actor(&ctx))
        .await
        .map(|_| "handed-over");
    Ok(answer(&state, &ctx, &g, result, &rid).await)
}

pub(super) async fn delete_form(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    if let Some(reason) = GroupSource::of(&g).read_only_reason() {
        return Ok(read_only_page(&ctx, &g, reason));
    }
    Ok(confirm_page(
        &ctx,
        &g,
        "Delete group",
        &format!("{}/delete", group_url(&g)),
        "delete-confirm",
        "Delete group",
        html! {
            p #delete-explain {
                "The group and its memberships are deleted; the people in it stay. "
                "This cannot be undone."
            }
        },
    ))
}

pub(super) async fn delete_submit(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, _form): CsrfForm,
) -> ConsoleResult {
    let g = match own_group(&state, &ctx, &id, &rid).await {
        Ok(g) => g,
        Err(res) => return Ok(res),
    };
    Ok(
        match state
            .groups
            .delete(&ctx.organization, &g.id.to_string(), &actor(&ctx))
            .await
        {
            Ok(()) => see_other("/console/groups?deleted=1", None),
            Err(e) => answer(&state, &ctx, &g, Err(e), &rid).await,
        },
    )
}

fn new_page(
    ctx: &ConsoleContext,
    status: StatusCode,
    name: &str,
    people: &str,
    error: Option<&str>,
) -> Response {
    html_response(
        status,
        layout(
            "Create a local group",
            Some(ctx),
            html! {
                section.card {
                    p.muted {
                        "A local group is managed here and invisible to SCIM. "
                        "Groups your identity provider pushes are created by it, not here."
                    }
                    @if let Some(m) = error {
                        p.error #group-error role="alert" { (m) }
                    }
                    form.stack #new-group-form method="post" action="/console/groups/new" {
                        input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                        label for="group-name" { "Name" }
                        input #group-name type="text" name="name" required maxlength="256" value=(name);
                        label for="people" { "Members (optional)" }
                        textarea #people name="people" rows="3" aria-describedby="people-help" { (people) }
                        p.muted #people-help { "userNames or email addresses, separated by commas, spaces or new lines." }
                        button #create-group type="submit" { "Create group" }
                    }
                }
                p { a href=(LIST) { "Back to the groups" } }
            },
        ),
    )
}

pub(super) async fn new_form(
    State(_state): State<AppState>,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    Ok(new_page(&ctx, StatusCode::OK, "", "", None))
}

pub(super) async fn create(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let name = form.get("name").unwrap_or("");
    let people_raw = form.get("people").unwrap_or("");
    Ok(
        match state
            .groups
            .create(
                &ctx.organization,
                name,
                &split_people(people_raw),
                &actor(&ctx),
            )
            .await
        {
            Ok(g) => see_other_to(&format!("{}?done=created", group_url(&g))),
            Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => new_page(
                &ctx,
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
                name,
                people_raw,
                Some(&e.detail),
            ),
            Err(e) => internal_page(&e),
        },
    )
}
