//! The SAML page: generate the Client ID, the values to paste into Okta, upload the IdP
//! metadata (file picker or drag-and-drop), the IdP's certificates and their expiry, a test
//! sign-in in a new window and its result, and the connection's switches.
//!
//! The rules (what is wrong with a file, when a certificate warns) are the directory's
//! (`directory::setup`); these handlers read, call and render.

use super::multipart::{self, Multipart};
use super::{
    csrf_refused, current_admin, error_page, html_response, internal_page, layout, session_csrf_ok,
    split_domains, when, ConsoleAdmin, ConsoleResult, CsrfForm, Form, RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use directory::console::ConsoleContext;
use directory::login_domains::{
    status_sentence, txt_record_name, txt_record_value, CheckOutcome, CHECKS_PER_WINDOW,
    CHECK_WINDOW,
};
use directory::model::{Actor, DomainClaim, DomainProof, SamlConnection};
use directory::query::AuditOutcome;
use directory::setup::{
    certificate_state, check_idp_metadata, setup_status, CertificateState, MetadataProblemKind,
    SetupStatus, StatusParts, MAX_METADATA_BYTES,
};
use directory::store::StoredAuditEvent;
use directory::ErrorKind;
use maud::{html, Markup};
use time::OffsetDateTime;

pub(super) const PAGE: &str = "/console/saml";
/// Where the test sign-in lands: a path of ours, so `return_to` keeps it.
pub(super) const TEST_RESULT: &str = "/console/saml/test-result";
/// The upload form carries the file and a CSRF field; a little room over the file's limit.
const UPLOAD_BODY_LIMIT: usize = MAX_METADATA_BYTES + 16 * 1024;

/// What Okta's "Create SAML Integration" form asks for besides our URLs.
pub(super) const NAME_ID_FORMAT: &str = "EmailAddress";
pub(super) const APPLICATION_USERNAME: &str = "Email";

fn actor(ctx: &ConsoleContext) -> Actor {
    Actor::ConsoleAdmin(ctx.admin.id)
}

/// A value to paste, with its copy button (shown only when the script can copy).
pub(super) fn copy_value(id: &str, label: &str, value: &str) -> Markup {
    html! {
        dt { (label) }
        dd {
            code #(id) { (value) }
            " "
            button.copy type="button" data-copy=(id) hidden { "Copy" span.visually-hidden { " " (label) } }
        }
    }
}

/// A message on one of the page's forms, and what the form showed.
#[derive(Default)]
struct Messages<'a> {
    setup_error: Option<String>,
    setup_domains: Option<&'a str>,
    metadata_error: Option<String>,
    metadata_ok: bool,
    settings_error: Option<String>,
    settings_saved: bool,
    /// The settings form as submitted: jit, idp_initiated, domains.
    settings_filled: Option<(bool, bool, &'a str)>,
    /// The result of "Check now": the domain, whether it is verified now, what to tell.
    domain_check: Option<(String, bool, String)>,
}

fn last_attempt(last: Option<&StoredAuditEvent>) -> Markup {
    html! {
        div #last-sign-in {
            @match last {
                None => p.muted { "No sign-in attempt yet." },
                Some(e) => {
                    @let ok = AuditOutcome::of(e.event.status).succeeded();
                    p class=(if ok { "ok" } else { "error" }) {
                        strong { "Last sign-in attempt: " }
                        (when(e.event.at)) " — "
                        @if ok { "succeeded" } @else { "refused (" (e.event.status) ")" }
                        @if let Some(d) = &e.event.detail {
                            ": " (d)
                        }
                        @if let Some(r) = &e.event.request_id {
                            " " span.muted { "(reference " code { (r) } ")" }
                        }
                    }
                }
            }
        }
    }
}

fn client_id_card(
    state: &AppState,
    ctx: &ConsoleContext,
    conn: Option<&SamlConnection>,
    m: &Messages,
) -> Markup {
    html! {
        section.card #client-id-card {
            h2 { "1. Client ID and the values for Okta" }
            @match conn {
                None => {
                    p {
                        "Your organization has no SAML connection yet. Generate a Client ID: "
                        "Portcullis then shows the values to paste into Okta, and you upload Okta's metadata here."
                    }
                    @if let Some(e) = &m.setup_error {
                        p.error #setup-error role="alert" { (e) }
                    }
                    form.stack #setup-form method="post" action="/console/saml/setup" {
                        input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                        label for="setup-domains" { "Login email domains (optional)" }
                        textarea #setup-domains name="domains" rows="2" aria-describedby="setup-domains-help" {
                            (m.setup_domains.unwrap_or(""))
                        }
                        p.muted #setup-domains-help {
                            "People whose email is in these domains are sent to Okta from the sign-in page. "
                            "Leave empty to use the domains of your SCIM tokens. Separate domains with commas or spaces."
                        }
                        button #generate-client-id type="submit" { "Generate Client ID" }
                    }
                }
                Some(c) => {
                    @let urls = state.sso.urls(&c.client_id);
                    p {
                        "In Okta, open the application's " strong { "Sign On" } " tab, click " strong { "Edit" }
                        ", and under " strong { "Advanced Sign-On Settings" } " enter the Client ID. "
                        "For a custom SAML app, the " strong { "Create SAML Integration" } " form asks for the values below, in this order."
                    }
                    dl.values {
                        (copy_value("client-id", "Client ID", &c.client_id))
                        (copy_value("sso-url", "Single sign-on URL", &urls.acs_url))
                        (copy_value("audience-uri", "Audience URI (SP Entity ID)", &urls.entity_id))
                        (copy_value("name-id-format", "Name ID format", NAME_ID_FORMAT))
                        (copy_value("app-username", "Application username", APPLICATION_USERNAME))
                        (copy_value("login-url", "Login URL (sign-in started from Portcullis)", &urls.login_url))
                        (copy_value("sp-metadata-url", "SP metadata URL", &urls.metadata_url))
                    }
                    p { a #sp-metadata-link href=(format!("/saml/{}/metadata", c.client_id)) { "Open the SP metadata" } }
                }
            }
        }
    }
}

fn cert_rows(status: &SetupStatus, now: OffsetDateTime) -> Markup {
    let Some(idp) = &status.idp else {
        return html! {};
    };
    html! {
        div.table-wrap {
            table #idp-certificates {
                caption.visually-hidden { "Signing certificates of the identity provider" }
                thead {
                    tr {
                        th scope="col" { "Subject" }
                        th scope="col" { "Not before" }
                        th scope="col" { "Not after" }
                        th scope="col" { "State" }
                    }
                }
                tbody {
                    @for cert in &idp.signing_certificates {
                        @let state = certificate_state(cert, now);
                        tr {
                            td { (cert.subject) }
                            td { (when(cert.not_before)) }
                            td { (when(cert.not_after)) }
                            td {
                                @match state {
                                    CertificateState::Valid => span { "Valid" },
                                    CertificateState::NotYetValid => span.warning { "Not valid yet" },
                                    CertificateState::ExpiresSoon { days } => span.warning {
                                        "Expires in " (days) " day" @if days != 1 { "s" }
                                        ": activate a new certificate in Okta and upload the metadata again"
                                    },
                                    CertificateState::Expired => span.error { "Expired: sign-ins signed with it are refused" },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn metadata_card(
    ctx: &ConsoleContext,
    status: &SetupStatus,
    m: &Messages,
    now: OffsetDateTime,
) -> Markup {
    html! {
        section.card #metadata-card {
            h2 { "2. Identity provider metadata" }
            @if m.metadata_ok {
                p.ok #metadata-ok role="status" { "The metadata is uploaded: Portcullis now trusts this identity provider." }
            }
            @match &status.idp {
                None => p.muted { "No metadata uploaded yet." },
                Some(idp) => {
                    dl {
                        dt { "Identity provider (entity ID)" } dd { code #idp-entity-id { (idp.entity_id) } }
                        dt { "Sign-in address (SSO URL)" }
                        dd {
                            @match idp.redirect_sso_url().or_else(|| idp.sso_url(saml::metadata::BINDING_HTTP_POST)) {
                                Some(u) => code #idp-sso-url { (u) },
                                None => span.muted { "none" },
                            }
                        }
                        @if let Some(at) = status.connection.as_ref().and_then(|c| c.idp_metadata_uploaded_at) {
                            dt { "Uploaded" } dd { (when(at)) }
                        }
                    }
                    (cert_rows(status, now))
                }
            }
            p {
                "In Okta, on the application's " strong { "Sign On" } " tab, open the " strong { "Identity Provider metadata" }
                " link, save the page as an " code { ".xml" } " file, and upload it here. "
                "When Okta rotates its certificate, upload the new metadata the same way."
            }
            @if let Some(e) = &m.metadata_error {
                p.error #metadata-error role="alert" { (e) }
            }
            form.stack #metadata-form method="post" action="/console/saml/metadata" enctype="multipart/form-data" {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                div.dropzone #metadata-drop data-drop-into="metadata-file" {
                    label for="metadata-file" { "Metadata file (.xml)" }
                    input #metadata-file type="file" name="metadata" accept=".xml,application/xml,text/xml,application/samlmetadata+xml" required aria-describedby="metadata-help";
                    p.muted #metadata-help { "Choose the file, or drop it here. At most 256 KiB." }
                }
                button #upload-metadata type="submit" { "Upload metadata" }
            }
        }
    }
}

fn test_card(status: &SetupStatus) -> Markup {
    let conn = status.connection.as_ref();
    let can_test = status
        .idp
        .as_ref()
        .is_some_and(|i| i.redirect_sso_url().is_some());
    html! {
        section.card #test-card {
            h2 { "3. Test sign-in" }
            @match conn {
                Some(c) if can_test => {
                    p {
                        "Sign in through Okta as a person assigned to the application (someone in this directory"
                        @if c.jit { ", or anyone Okta sends, since just-in-time creation is on" }
                        "). It opens in a new window and reports the result there; reload this page to see the attempt below."
                    }
                    p {
                        a.button #test-sign-in target="_blank" rel="noopener"
                            href=(format!("/saml/{}/login?return_to={}", c.client_id, TEST_RESULT)) {
                            "Test sign-in" span.visually-hidden { " (opens in a new window)" }
                        }
                    }
                }
                Some(_) if status.idp.is_some() => p.muted {
                    "The uploaded metadata has no HTTP-Redirect sign-in address, so a sign-in cannot start from Portcullis; people can still sign in from the Okta dashboard."
                },
                _ => p.muted { "Upload the identity provider metadata first." },
            }
            (last_attempt(status.last_signin.as_ref()))
        }
    }
}

fn settings_card(
    ctx: &ConsoleContext,
    conn: &SamlConnection,
    claims: &[DomainClaim],
    m: &Messages,
) -> Markup {
    let joined = claims
        .iter()
        .map(|c| c.domain.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (jit, idp_initiated, domains) =
        m.settings_filled
            .unwrap_or((conn.jit, conn.idp_initiated, joined.as_str()));
    html! {
        section.card #settings-card {
            h2 { "Settings" }
            @if m.settings_saved {
                p.ok #settings-ok role="status" { "Settings saved." }
            }
            @if let Some(e) = &m.settings_error {
                p.error #settings-error role="alert" { (e) }
            }
            form.stack #saml-settings method="post" action="/console/saml/settings" {
                input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                div.check {
                    input #jit type="checkbox" name="jit" value="on" checked[jit] aria-describedby="jit-help";
                    label for="jit" { "Create people on first sign-in (just-in-time)" }
                }
                p.muted #jit-help { "When on, a person Okta signs in who is not in this directory yet is created; when off, they are refused until SCIM provisions them." }
                div.check {
                    input #idp-initiated type="checkbox" name="idp_initiated" value="on" checked[idp_initiated] aria-describedby="idp-initiated-help";
                    label for="idp-initiated" { "Allow sign-in from the Okta dashboard (IdP-initiated)" }
                }
                p.muted #idp-initiated-help { "When off, only sign-ins that start at Portcullis (the login URL) are accepted; clicking the app's tile in Okta is refused." }
                label for="login-domains" { "Login email domains" }
                textarea #login-domains name="domains" rows="2" aria-describedby="login-domains-help" { (domains) }
                p.muted #login-domains-help { "People whose email is in these domains are sent to Okta from the sign-in page, once each domain is verified (below). Separate domains with commas or spaces; leave empty for none. Public mail domains such as gmail.com cannot be login domains." }
                button #save-settings type="submit" { "Save settings" }
            }
        }
    }
}

/// Each login domain, where it stands, and how to prove it: the TXT record to publish (with
/// copy buttons) and "Check now".
fn domains_card(ctx: &ConsoleContext, claims: &[DomainClaim], m: &Messages) -> Markup {
    html! {
        section.card #login-domains-card {
            h2 { "Login domains" }
            p {
                "A login domain sends people to your sign-in only once it is verified. To verify one, publish the TXT record shown "
                "in your domain's DNS, wait for it to be visible, and press " strong { "Check now" } ". "
                "Portcullis checks the record again every few hours; keep it published. "
                "Your Portcullis operator can also approve a domain."
            }
            @if let Some((domain, ok, message)) = &m.domain_check {
                p class=(if *ok { "ok" } else { "error" }) #domain-check-result role=(if *ok { "status" } else { "alert" }) {
                    strong { (domain) ": " } (message)
                }
            }
            @if claims.is_empty() {
                p.muted #no-login-domains { "No login domains yet: add them in the settings above." }
            }
            @for (i, claim) in claims.iter().enumerate() {
                div.login-domain id=(format!("login-domain-{i}")) {
                    h3 { code { (claim.domain) } " — " @if claim.is_verified() { span.ok { "verified" } } @else { span.warning { "not verified" } } }
                    p.domain-status { (status_sentence(claim)) }
                    @if !claim.is_verified() || claim.proof == Some(DomainProof::Dns) {
                        dl.values {
                            (copy_value(&format!("txt-name-{i}"), "TXT record name", &txt_record_name(&claim.domain)))
                            (copy_value(&format!("txt-value-{i}"), "TXT record value", &txt_record_value(claim)))
                        }
                        form method="post" action="/console/saml/domains/check" {
                            input type="hidden" name=(CSRF_FIELD) value=(ctx.session.csrf_token);
                            input type="hidden" name="domain" value=(claim.domain);
                            button.check-domain type="submit" { "Check now" span.visually-hidden { " " (claim.domain) } }
                        }
                    }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    ctx: &ConsoleContext,
    status_code: StatusCode,
    m: &Messages<'_>,
) -> Response {
    let status = match setup_status(
        state.store.as_ref(),
        &ctx.organization,
        StatusParts {
            last_signin: true,
            scim: false,
        },
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return internal_page(&e),
    };
    let claims = match state.domains.claims(&ctx.organization).await {
        Ok(c) => c,
        Err(e) => return internal_page(&e),
    };
    let now = state.clock.now();
    let body = html! {
        (client_id_card(state, ctx, status.connection.as_ref(), m))
        @if let Some(conn) = &status.connection {
            (metadata_card(ctx, &status, m, now))
            (test_card(&status))
            (settings_card(ctx, conn, &claims, m))
            (domains_card(ctx, &claims, m))
        }
        script src="/console/static/console.js" {}
    };
    html_response(status_code, layout("SAML sign-in", Some(ctx), body))
}

pub(super) async fn page(
    State(state): State<AppState>,
    ConsoleAdmin(ctx): ConsoleAdmin,
    req: Request,
) -> ConsoleResult {
    // Read by hand so that an odd query string is ignored rather than refused.
    let flags: Vec<&str> = req.uri().query().unwrap_or("").split('&').collect();
    let m = Messages {
        metadata_ok: flags.contains(&"metadata=ok"),
        settings_saved: flags.contains(&"settings=saved"),
        domain_check: flags.contains(&"domain=verified").then(|| {
            (
                "Login domain".to_string(),
                true,
                "verified: its people are now sent to your sign-in.".to_string(),
            )
        }),
        ..Messages::default()
    };
    Ok(render(&state, &ctx, StatusCode::OK, &m).await)
}

pub(super) async fn setup(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let raw = form.get("domains").unwrap_or("");
    Ok(
        match state
            .sso
            .setup(&ctx.organization, &split_domains(raw), &actor(&ctx))
            .await
        {
            Ok(_) => super::see_other(PAGE, None),
            Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
                let status = if e.kind == ErrorKind::Invalid {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::CONFLICT
                };
                let m = Messages {
                    setup_error: Some(sentence(&e.detail)),
                    setup_domains: Some(raw),
                    ..Messages::default()
                };
                render(&state, &ctx, status, &m).await
            }
            Err(e) => internal_page(&e),
        },
    )
}

/// A service message as a sentence on a page.
fn sentence(detail: &str) -> String {
    let mut c = detail.chars();
    let mut s: String = match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => return String::new(),
    };
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

pub(super) async fn settings(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let jit = form.get("jit").is_some_and(|v| v == "on");
    let idp_initiated = form.get("idp_initiated").is_some_and(|v| v == "on");
    let raw = form.get("domains");
    let domains = raw.map(split_domains);
    Ok(
        match state
            .sso
            .update_settings(
                &ctx.organization,
                Some(jit),
                Some(idp_initiated),
                domains.as_deref(),
                &actor(&ctx),
            )
            .await
        {
            Ok(_) => super::see_other("/console/saml?settings=saved", None),
            Err(e) if e.kind == ErrorKind::NotFound => error_page(
                StatusCode::CONFLICT,
                "Generate a Client ID first: there is no SAML connection to change yet.",
                &rid,
            ),
            Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
                let status = if e.kind == ErrorKind::Invalid {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::CONFLICT
                };
                let m = Messages {
                    settings_error: Some(sentence(&e.detail)),
                    settings_filled: Some((jit, idp_initiated, raw.unwrap_or(""))),
                    ..Messages::default()
                };
                render(&state, &ctx, status, &m).await
            }
            Err(e) => internal_page(&e),
        },
    )
}

/// "Check now": one DNS lookup of the domain's TXT record (bounded per organization).
pub(super) async fn check_domain(
    State(state): State<AppState>,
    CsrfForm(ctx, form): CsrfForm,
) -> ConsoleResult {
    let domain = form.get("domain").unwrap_or("").to_string();
    let outcome = state
        .domains
        .check_now(&ctx.organization, &domain, &actor(&ctx))
        .await;
    let shown: String = domain.chars().take(80).collect();
    let (status, ok, message, retry_after) = match outcome {
        Ok(CheckOutcome::Verified { .. }) => {
            return Ok(super::see_other("/console/saml?domain=verified#login-domains-card", None))}
        Ok(CheckOutcome::AlreadyVerified) => (
            StatusCode::OK,
            true,
            "Already verified; there is nothing to check.".to_string(),
            None,
        ),
        Ok(CheckOutcome::NotFound(why)) => (
            StatusCode::OK,
            false,
            format!("Not verified: {why}. Publish the TXT record shown below (DNS changes can take a while to be visible) and check again."),
            None,
        ),
        Ok(CheckOutcome::HeldByOperator(why)) => {
            (StatusCode::CONFLICT, false, sentence(&why), None)
        }
        Ok(CheckOutcome::DnsUnavailable(why)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            false,
            format!("The DNS lookup gave no answer ({why}); nothing changed. Try again in a few minutes."),
            None,
        ),
        Ok(CheckOutcome::RateLimited { retry_after_secs }) => (
            StatusCode::TOO_MANY_REQUESTS,
            false,
            format!(
                "Your organization checked {CHECKS_PER_WINDOW} times in the last {} minutes, the most Portcullis allows; try again in {retry_after_secs} seconds.",
                CHECK_WINDOW.whole_minutes()
            ),
            Some(retry_after_secs),
        ),
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::NotFound) => {
            let status = if e.kind == ErrorKind::Invalid {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NOT_FOUND
            };
            (status, false, sentence(&e.detail), None)
        }
        Err(e) => return Err(e.into()),
    };
    let m = Messages {
        domain_check: Some((shown, ok, message)),
        ..Messages::default()
    };
    let mut res = render(&state, &ctx, status, &m).await;
    if let Some(secs) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    Ok(res)
}

pub(super) async fn upload(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    req: Request,
) -> ConsoleResult {
    let (parts, body) = req.into_parts();
    let too_large = || {
        error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The file is larger than 256 KiB; identity provider metadata is a few KiB. Go back and choose the metadata .xml file.",
            &rid,
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > UPLOAD_BODY_LIMIT) {
        return Ok(too_large());
    }
    let Ok(bytes) = axum::body::to_bytes(body, UPLOAD_BODY_LIMIT).await else {
        return Ok(too_large());
    };
    let form: Option<Multipart> = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .and_then(|b| multipart::parse(&bytes, &b));
    // Without a readable form there is no CSRF field: refused like any other form without one.
    let Some(form) = form else {
        return Ok(csrf_refused(&rid));
    };
    let csrf = form.text(CSRF_FIELD).unwrap_or_default();
    if csrf.is_empty() {
        return Ok(csrf_refused(&rid));
    }
    let Some(ctx) = current_admin(&state, &parts.headers).await else {
        return Ok(super::see_other("/console/login", None));
    };
    if !session_csrf_ok(&ctx, &Form(vec![(CSRF_FIELD.to_string(), csrf)])) {
        return Ok(csrf_refused(&rid));
    }
    let refuse = |status: StatusCode, message: String| {
        let m = Messages {
            metadata_error: Some(message),
            ..Messages::default()
        };
        let state = state.clone();
        let ctx = ctx.clone();
        async move { render(&state, &ctx, status, &m).await }
    };
    let file = form.part("metadata");
    let Some(file) =
        file.filter(|f| !f.data.is_empty() || f.filename.as_deref().is_some_and(|n| !n.is_empty()))
    else {
        return Ok(refuse(
            StatusCode::BAD_REQUEST,
            "Choose the metadata file to upload (or drop it on the box).".into(),
        )
        .await);
    };
    let (text, _) = match check_idp_metadata(&file.data, state.clock.now()) {
        Ok(v) => v,
        Err(p) => {
            let status = if p.kind == MetadataProblemKind::TooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return Ok(refuse(status, p.message).await);
        }
    };
    Ok(
        match state
            .sso
            .upload_metadata(&ctx.organization, &text, &actor(&ctx))
            .await
        {
            Ok(_) => super::see_other("/console/saml?metadata=ok", None),
            Err(e) if e.kind == ErrorKind::Invalid => {
                refuse(StatusCode::BAD_REQUEST, sentence(&e.detail)).await
            }
            Err(e) if e.kind == ErrorKind::Conflict => {
                refuse(StatusCode::CONFLICT, sentence(&e.detail)).await
            }
            Err(e) => internal_page(&e),
        },
    )
}

/// Where the test sign-in returns. The console's own cookie is SameSite=Strict and does not
/// come along on a redirect that began with the IdP's cross-site POST, so the page stands on
/// the SAML session the ACS has just set (SameSite=Lax, Path=/) and shows the console frame
/// only when the console session happens to be there too.
pub(super) async fn test_result(State(state): State<AppState>, req: Request) -> ConsoleResult {
    let ctx = current_admin(&state, req.headers()).await;
    let me = crate::saml::browser_session::current_user(&state, req.headers()).await;
    let (status, body) = match me {
        Some(me) => {
            if let Some(c) = &ctx {
                if c.organization.id != me.organization.id {
                    let body = html! {
                        p.error #test-result role="alert" {
                            "This browser is signed in to another organization through SAML ("
                            (me.organization.name) "), not " (c.organization.name) ". Sign out of it and test again."
                        }
                    };
                    return Ok(html_response(
                        StatusCode::CONFLICT,
                        layout("Test sign-in", ctx.as_ref(), body),
                    ));
                }
            }
            let idp = match state.store.saml_connection(me.organization.id).await {
                Ok(conn) => conn.and_then(|c| c.idp_entity_id),
                Err(_) => None,
            };
            let through = match idp {
                Some(e) if e.to_ascii_lowercase().contains("okta") => "Okta".to_string(),
                Some(e) => format!("your identity provider ({e})"),
                None => "your identity provider".to_string(),
            };
            (
                StatusCode::OK,
                html! {
                    p.ok #test-result role="status" {
                        "Signed in as " strong { (me.user.user_name) } " through " (through) ". SAML sign-in works."
                    }
                    p.muted { "You can close this window." }
                    p { a href=(PAGE) { "Back to the SAML page" } }
                },
            )
        }
        None => (
            StatusCode::OK,
            html! {
                p.error #test-result role="alert" {
                    "No SAML sign-in arrived in this browser. The SAML page shows the last attempt and, if it was refused, why."
                }
                p { a href=(PAGE) { "Back to the SAML page" } }
            },
        ),
    };
    let mut res = html_response(status, layout("Test sign-in", ctx.as_ref(), body));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res.into_response())
}
