//! `GET|POST /console/login`: organization, email and password.

use super::{
    busy_page, client_addr, csrf_cookie, csrf_refused, double_submit_ok, double_submit_token,
    error_page, html_response, internal_page, layout, read_form, see_other, session_cookie,
    with_cookie, ConsoleResult, Form, RequestId, CSRF_FIELD,
};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use directory::console::SignInOutcome;
use maud::{html, Markup};

/// What the form shows again after a refusal (never the password).
#[derive(Default)]
struct Filled {
    organization: String,
    email: String,
}

fn login_form(csrf: &str, filled: &Filled, message: Option<&str>) -> Markup {
    login_form_with(csrf, filled, message, "", None)
}

fn login_form_with(
    csrf: &str,
    filled: &Filled,
    message: Option<&str>,
    sso_email: &str,
    sso_message: Option<&str>,
) -> Markup {
    layout(
        "Sign in to the console",
        None,
        html! {
            @if let Some(m) = message {
                p.error role="alert" { (m) }
            }
            form.stack method="post" action="/console/login" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf);
                label for="organization" { "Organization" }
                input #organization type="text" name="organization" required
                    autocomplete="organization" autocapitalize="none" spellcheck="false"
                    value=(filled.organization);
                label for="email" { "Email" }
                input #email type="email" name="email" required autocomplete="username"
                    value=(filled.email);
                label for="password" { "Password" }
                input #password type="password" name="password" required
                    autocomplete="current-password";
                button type="submit" { "Sign in" }
            }
            p.muted { "New admin? Use the invitation link you were sent to set your password." }
            section.card #sso {
                h2 { "Sign in with your organization's SSO" }
                @if let Some(m) = sso_message {
                    p.error #sso-error role="alert" { (m) }
                }
                form.stack #sso-form method="post" action="/console/login/sso" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf);
                    label for="sso-email" { "Work email" }
                    input #sso-email type="email" name="email" required autocomplete="username"
                        value=(sso_email) aria-describedby="sso-help";
                    p.muted #sso-help {
                        "For admins through your identity provider (for example a member of the admin group). "
                        "You sign in there and come back here."
                    }
                    button #sso-sign-in type="submit" { "Sign in with SSO" }
                }
            }
        },
    )
}

/// The login page again, with a refusal of the SSO form.
pub(super) fn page_with_sso_error(
    status: StatusCode,
    csrf: &str,
    email: &str,
    detail: &str,
) -> Response {
    let mut message = detail.to_string();
    if let Some(first) = message.get(..1) {
        message = format!("{}{}", first.to_uppercase(), &message[1..]);
    }
    html_response(
        status,
        login_form_with(csrf, &Filled::default(), None, email, Some(&message)),
    )
}

pub(super) async fn form(State(state): State<AppState>, headers: HeaderMap) -> ConsoleResult {
    // Already signed in: straight to the overview.
    if super::current_admin(&state, &headers).await.is_some() {
        return Ok(see_other("/console", None));
    }
    let (csrf, set) = double_submit_token(&headers);
    Ok(with_cookie(
        html_response(StatusCode::OK, login_form(&csrf, &Filled::default(), None)),
        set.map(|v| csrf_cookie(&state, &v)),
    ))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    RequestId(rid): RequestId,
    req: Request,
) -> ConsoleResult {
    let client = client_addr(&req);
    let (parts, body) = req.into_parts();
    let form: Form = match read_form(body, &rid).await {
        Ok(f) => f,
        Err(res) => return Ok(res),
    };
    if !double_submit_ok(&parts.headers, &form) {
        return Ok(csrf_refused(&rid));
    }
    // The form's token is the cookie's, checked above.
    let csrf = form.get(CSRF_FIELD).unwrap_or_default().to_string();
    let filled = Filled {
        organization: form.get("organization").unwrap_or_default().to_string(),
        email: form.get("email").unwrap_or_default().to_string(),
    };
    let (Some(org), Some(email), Some(password)) = (
        form.required("organization"),
        form.required("email"),
        form.required("password"),
    ) else {
        return Ok(html_response(
            StatusCode::BAD_REQUEST,
            login_form(
                &csrf,
                &filled,
                Some("Fill in the organization, your email and your password."),
            ),
        ));
    };
    Ok(
        match state
            .console
            .sign_in(org, email, password, client.as_deref())
            .await
        {
            Ok(SignInOutcome::SignedIn(signed_in)) => see_other(
                "/console",
                Some(session_cookie(&state, &signed_in.cookie_secret)),
            ),
            Ok(SignInOutcome::Refused) => html_response(
                StatusCode::UNAUTHORIZED,
                login_form(
                    &csrf,
                    &filled,
                    Some("The organization, email or password is not right."),
                ),
            ),
            Ok(SignInOutcome::Throttled) => {
                let mut res = error_page(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed sign-ins. Wait 15 minutes and try again, or ask another admin for a new invitation.",
                &rid,
            );
                res.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(
                        directory::console::SIGN_IN_WINDOW.whole_seconds().max(1),
                    ),
                );
                res
            }
            Ok(SignInOutcome::Busy) => busy_page(&rid),
            Err(e) => internal_page(&e),
        },
    )
}
