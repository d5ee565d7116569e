//! The audit log page: everything the IdP, the admins and sign-ins did in this organization,
//! newest first, filterable by actor, resource, outcome and time, paged by position (never by
//! offset, so a page costs the same at the end of a long log as at its start).
//!
//! The filter form is a plain GET: it changes nothing, needs no CSRF token, and its URL can be
//! bookmarked or shared with another admin of the organization.

use super::{error_page, html_response, layout, when, ConsoleAdmin, ConsoleResult, RequestId};
use crate::http::audit_query::{self, AuditFilter, ACTOR_KINDS};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use directory::admin::ActorNames;
use directory::query::AuditOutcome;
use directory::store::StoredAuditEvent;
use maud::{html, Markup};

const PAGE_SIZE: u32 = 50;

/// Resource types the directory records, with their names for people.
const RESOURCE_TYPES: &[(&str, &str)] = &[
    ("User", "User"),
    ("Group", "Group"),
    ("token", "SCIM token"),
    ("saml_connection", "SAML connection"),
    ("console_admin", "Console admin"),
];

pub(super) async fn page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    RequestId(rid): RequestId,
    ConsoleAdmin(ctx): ConsoleAdmin,
) -> ConsoleResult {
    let filter = match audit_query::parse(raw.as_deref(), PAGE_SIZE) {
        Ok(f) => f,
        Err(message) => return Ok(error_page(StatusCode::BAD_REQUEST, &message, &rid)),
    };
    // One more than a page, to learn whether there is a next one in the direction of travel.
    let mut query = filter.query.clone();
    let limit = query.limit;
    query.limit = limit + 1;
    let forward = query.before_seq.is_none() && query.after_seq.is_some();
    let mut events = state.admin.audit(&ctx.organization, &query).await?;
    let more = events.len() > limit as usize;
    if more {
        // Forward pages come back newest first: the extra event is the newest one.
        if forward {
            events.remove(0);
        } else {
            events.pop();
        }
    }
    let names = state
        .admin
        .audit_actor_names(&ctx.organization, &events)
        .await?;
    let cursor_given = filter.query.before_seq.is_some() || filter.query.after_seq.is_some();
    let (newer, older) = if forward {
        (more, true)
    } else {
        (cursor_given, more)
    };
    let body = html! {
        (filter_form(&filter))
        section.card aria-labelledby="events-heading" {
            h2 #events-heading { "Events" }
            @if events.is_empty() {
                p #audit-empty { "No events match these filters." }
                @if cursor_given {
                    p { a href={ "/console/audit?" (filter.link_params()) } { "Back to the newest events" } }
                }
            } @else {
                (event_table(&events, &names))
            }
            (pager(&filter, &events, newer && !events.is_empty(), older && !events.is_empty()))
        }
    };
    Ok(html_response(
        StatusCode::OK,
        layout("Audit log", Some(&ctx), body),
    ))
}

fn filter_form(f: &AuditFilter) -> Markup {
    // A specific actor (reached by clicking one in the table) stays selectable as itself.
    let specific_actor = f.actor.contains(':').then_some(f.actor.as_str());
    html! {
        section.card {
            h2 { "Filter" }
            form.filters #audit-filter method="get" action="/console/audit" {
                div.field {
                    label for="actor" { "Actor" }
                    select #actor name="actor" {
                        option value="" { "Anyone" }
                        @if let Some(a) = specific_actor {
                            option value=(a) selected { "This " (actor_kind_name(a.split(':').next().unwrap_or(""))) " only" }
                        }
                        @for (value, name) in ACTOR_KINDS {
                            option value=(value) selected[f.actor == *value] { (name) "s" }
                        }
                    }
                }
                div.field {
                    label for="resource_type" { "Resource type" }
                    select #resource_type name="resource_type" {
                        option value="" { "Any" }
                        @for (value, name) in RESOURCE_TYPES {
                            option value=(value) selected[f.resource_type == *value] { (name) }
                        }
                    }
                }
                div.field {
                    label for="resource" { "Resource id" }
                    input #resource type="text" name="resource" value=(f.resource)
                        maxlength="512" aria-describedby="resource-help";
                    span.muted #resource-help { "A user's or group's id, as on its page." }
                }
                div.field {
                    label for="outcome" { "Outcome" }
                    select #outcome name="outcome" {
                        option value="" { "Any" }
                        option value="succeeded" selected[f.outcome == "succeeded"] { "Succeeded" }
                        option value="refused" selected[f.outcome == "refused"] { "Refused or failed" }
                    }
                }
                div.field {
                    label for="since" { "From (UTC)" }
                    input #since type="datetime-local" name="since" value=(f.since);
                }
                div.field {
                    label for="until" { "Until (UTC)" }
                    input #until type="datetime-local" name="until" value=(f.until);
                }
                @if !f.operation.is_empty() {
                    input type="hidden" name="operation" value=(f.operation);
                }
                div.field.actions {
                    button #apply-filter type="submit" { "Apply" }
                    a href="/console/audit" { "Clear filters" }
                }
            }
        }
    }
}

fn actor_kind_name(kind: &str) -> &'static str {
    ACTOR_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, n)| *n)
        .unwrap_or("actor")
}

fn event_table(events: &[StoredAuditEvent], names: &ActorNames) -> Markup {
    html! {
        div.table-wrap {
            table #audit-events {
                thead {
                    tr {
                        th scope="col" { "When (UTC)" }
                        th scope="col" { "Actor" }
                        th scope="col" { "Action" }
                        th scope="col" { "Resource" }
                        th scope="col" { "Outcome" }
                        th scope="col" { "Detail" }
                        th scope="col" { "Reference" }
                    }
                }
                tbody {
                    @for e in events {
                        @let ev = &e.event;
                        tr {
                            td { (when(ev.at)) }
                            td { (actor_cell(&ev.actor_kind, ev.actor_id.as_deref(), names)) }
                            td { code { (ev.operation) } }
                            td { (resource_cell(ev.resource_type.as_deref(), ev.resource_id.as_deref())) }
                            td {
                                @if !AuditOutcome::of(ev.status).succeeded() {
                                    span.tag.off { "Refused" } " " (ev.status)
                                } @else {
                                    "OK " (ev.status)
                                }
                                // Identical refusals folded into this row (the ACS's).
                                @if e.repeated > 1 {
                                    br;
                                    span.repeated title="identical events folded into this row" {
                                        "× " (e.repeated)
                                        @if let Some(last) = e.last_at { ", last " (when(last)) }
                                    }
                                }
                            }
                            td { (ev.detail.as_deref().unwrap_or("")) }
                            td { @if let Some(r) = &ev.request_id { code { (r) } } }
                        }
                    }
                }
            }
        }
    }
}

/// The actor, named where we can, linking to every event of that same actor.
fn actor_cell(kind: &str, id: Option<&str>, names: &ActorNames) -> Markup {
    let label = actor_kind_name(kind);
    let name = id.and_then(|id| names.get(&(kind.to_string(), id.to_string())));
    let filter = match id {
        Some(id) => format!("{kind}:{id}"),
        None => kind.to_string(),
    };
    let href = format!(
        "/console/audit?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("actor", &filter)
            .finish()
    );
    html! {
        a href=(href) title="Only this actor's events" {
            (label)
            @if let Some(n) = name {
                " " strong { (n) }
            } @else if let Some(id) = id {
                " " code { (short(id)) }
            }
        }
    }
}

fn resource_cell(kind: Option<&str>, id: Option<&str>) -> Markup {
    let Some(id) = id else {
        return html! {};
    };
    let page = match kind {
        Some("User") if id.parse::<uuid::Uuid>().is_ok() => Some(format!("/console/users/{id}")),
        Some("Group") if id.parse::<uuid::Uuid>().is_ok() => Some(format!("/console/groups/{id}")),
        _ => None,
    };
    let history = format!(
        "/console/audit?{}",
        form_urlencoded::Serializer::new(String::new())
            .append_pair("resource", id)
            .finish()
    );
    html! {
        (kind.unwrap_or("")) " "
        @if let Some(p) = page {
            a href=(p) { code { (short(id)) } }
        } @else {
            code { (short(id)) }
        }
        " " a href=(history) { "history" span.visually-hidden { " of " (id) } }
    }
}

/// Ids are long; the first 8 characters tell them apart on a page.
fn short(id: &str) -> String {
    if id.chars().count() > 12 {
        let head: String = id.chars().take(8).collect();
        format!("{head}…")
    } else {
        id.to_string()
    }
}

fn pager(f: &AuditFilter, events: &[StoredAuditEvent], newer: bool, older: bool) -> Markup {
    let params = f.link_params();
    let link = |cursor: &str, seq: i64| {
        if params.is_empty() {
            format!("/console/audit?{cursor}={seq}")
        } else {
            format!("/console/audit?{params}&{cursor}={seq}")
        }
    };
    html! {
        nav.pager aria-label="Pages of events" {
            @if let (true, Some(first)) = (newer, events.first()) {
                a #audit-newer href=(link("after", first.seq)) { "← Newer events" }
            }
            @if let (true, Some(last)) = (older, events.last()) {
                a #audit-older href=(link("before", last.seq)) { "Older events →" }
            }
        }
    }
}
