//! Login domains must be proved before `/login` (or the console's SSO sign-in) sends anyone to
//! an organization's IdP: a DNS TXT record, checked through a real resolver against the
//! testkit's DNS server on loopback, or an operator's approval. Every scenario runs on SQLite
//! and, when configured, PostgreSQL.

use super::browser::{signed_in_admin, Browser, Page};
use directory::login_domains::{CHECKS_PER_WINDOW, RECHECK_FAILURES_TO_LAPSE};
use directory::model::{Actor, Organization};
use serde_json::{json, Value};
use std::sync::Arc;
use testkit::dns::TestDns;
use testkit::server::{backends, ManualClock, TestOptions, TestServer};
use time::Duration;

/// Short, so that moving the clock past several re-checks expires no console session.
const RECHECK_INTERVAL: Duration = Duration::minutes(5);

fn domain() -> String {
    format!(
        "d{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn challenge(d: &str) -> String {
    format!("_portcullis-challenge.{d}")
}

/// Servers on every backend, resolving through `dns`, on `clock` when given.
async fn servers(dns: &TestDns, clock: Option<Arc<ManualClock>>) -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in backends() {
        let options = TestOptions {
            dns: Some(dns.addr()),
            clock: clock.clone().map(|c| c as Arc<dyn directory::Clock>),
            domain_recheck_interval: Some(RECHECK_INTERVAL),
            ..TestOptions::default()
        };
        out.push(TestServer::start_with(backend, options).await);
    }
    out
}

/// A signed-in console admin whose organization has a SAML connection claiming `d`.
async fn admin_claiming(server: &TestServer, d: &str) -> (Organization, Browser) {
    let (slug, b) = signed_in_admin(server, "it@acme.com").await;
    let org = server.state.admin.org(&slug).await.unwrap();
    server
        .state
        .sso
        .setup(&org, &[d.to_string()], &Actor::Cli)
        .await
        .unwrap();
    (org, b)
}

/// Where `/login` sends `email`: the redirect target, or None when it routes nowhere.
async fn login_goes_to(server: &TestServer, email: &str) -> Option<String> {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/login", server.base_url))
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    match res.status().as_u16() {
        303 => Some(res.headers()["location"].to_str().unwrap().to_string()),
        404 => None,
        other => panic!("/login answered {other}"),
    }
}

/// What the console's "Sign in with your organization's SSO" answers for `email`: the status,
/// and whether the page moves on to the organization's sign-in URL.
async fn console_sso_goes_to(server: &TestServer, email: &str, url: &str) -> (u16, bool) {
    let mut b = Browser::new(server);
    let csrf = b.get("/console/login").await.csrf();
    let p = b
        .post("/console/login/sso", &[("csrf", &csrf), ("email", email)])
        .await;
    (p.status, p.body.contains(url))
}

async fn login_url(server: &TestServer, org: &Organization) -> String {
    let conn = server.state.sso.require_connection(org).await.unwrap();
    server.state.sso.urls(&conn.client_id).login_url
}

async fn check_now(b: &mut Browser, d: &str) -> Page {
    let csrf = b.get("/console/saml").await.csrf();
    b.post(
        "/console/saml/domains/check",
        &[("csrf", &csrf), ("domain", d)],
    )
    .await
}

/// The value the organization's claim on `d` must publish.
async fn txt_value(server: &TestServer, org: &Organization, d: &str) -> String {
    let claim = server
        .state
        .domains
        .claims(org)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.domain == d)
        .unwrap();
    format!("portcullis-verification={}", claim.verification_value)
}

/// An operator key, and the organization's audit events under `domain.`, newest first.
async fn domain_audit(server: &TestServer, key: &str, slug: &str) -> Vec<Value> {
    server.state.store.ping().await.unwrap();
    let mut last = Vec::new();
    // The audit log is written behind the request: wait for it briefly.
    for _ in 0..50 {
        let (_, body) = api(
            server,
            key,
            "GET",
            &format!("/orgs/{slug}/audit?operation=domain."),
            None,
        )
        .await;
        last = body.as_array().cloned().unwrap_or_default();
        if !last.is_empty() {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    last
}

async fn operator_key(server: &TestServer) -> String {
    server
        .state
        .admin
        .create_admin_key(Some("ops"))
        .await
        .unwrap()
        .1
}

async fn api(
    server: &TestServer,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}/api/v1{path}", server.base_url),
        )
        .header("Authorization", format!("Bearer {key}"));
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{body}");
    }
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_claimed_domain_routes_nobody_until_its_dns_record_is_checked() {
    let dns = TestDns::start().await;
    for server in servers(&dns, None).await {
        let d = domain();
        let (org, mut b) = admin_claiming(&server, &d).await;
        let jane = format!("jane@{d}");
        assert_eq!(login_goes_to(&server, &jane).await, None);
        let url = login_url(&server, &org).await;
        assert_eq!(
            console_sso_goes_to(&server, &jane, &url).await,
            (404, false)
        );

        // The SAML page says exactly what to publish, with copy buttons and "Check now".
        let value = txt_value(&server, &org, &d).await;
        let page = b.get("/console/saml").await;
        assert!(
            page.body.contains("id=\"login-domains-card\""),
            "{}",
            page.body
        );
        assert!(page
            .body
            .contains(&format!("<code id=\"txt-name-0\">{}</code>", challenge(&d))));
        assert!(page
            .body
            .contains(&format!("<code id=\"txt-value-0\">{value}</code>")));
        assert!(page.body.contains("data-copy=\"txt-value-0\""));
        assert!(page.body.contains("Not verified"));
        assert!(page.body.contains("Check now"));

        // No record yet: the reason is shown; nothing routes.
        let before = dns.queries();
        let p = check_now(&mut b, &d).await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("id=\"domain-check-result\""), "{}", p.body);
        assert!(
            p.body
                .contains(&format!("no TXT record at {}", challenge(&d))),
            "{}",
            p.body
        );
        assert!(dns.queries() > before, "the check asked the DNS server");
        assert_eq!(login_goes_to(&server, &jane).await, None);

        // A record with another value (another organization's, say) proves nothing.
        dns.set_txt(
            &challenge(&d),
            &["v=spf1 -all", "portcullis-verification=0000"],
        );
        let p = check_now(&mut b, &d).await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains("do not include"), "{}", p.body);
        assert_eq!(login_goes_to(&server, &jane).await, None);

        // The right record, among others: verified, and /login routes (in any case; an address
        // with a trailing dot is no addr-spec, refused by the one email parser).
        dns.set_txt(&challenge(&d), &["v=spf1 -all", &value]);
        let p = check_now(&mut b, &d).await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/console/saml?domain=verified#login-domains-card"),
            "{}",
            p.body
        );
        assert_eq!(login_goes_to(&server, &jane).await, Some(url.clone()));
        assert_eq!(console_sso_goes_to(&server, &jane, &url).await, (200, true));
        assert_eq!(
            login_goes_to(&server, &format!("Jane@{}", d.to_uppercase())).await,
            Some(url)
        );
        let page = b.get("/console/saml?domain=verified").await;
        assert!(
            page.body.contains("Verified by its DNS TXT record"),
            "{}",
            page.body
        );

        let key = operator_key(&server).await;
        let audit = domain_audit(&server, &key, &org.slug).await;
        assert_eq!(audit[0]["operation"], "domain.verify", "{audit:?}");
        assert_eq!(audit[0]["actor"]["kind"], "console_admin");
        assert!(audit
            .iter()
            .any(|e| e["operation"] == "domain.check" && e["status"] == 404));
        assert!(audit.iter().any(|e| e["operation"] == "domain.claim"));

        // A domain the organization does not claim cannot be checked.
        let p = check_now(&mut b, &domain()).await;
        assert_eq!(p.status, 404, "{}", p.body);
        assert!(p.body.contains("not a login domain of this organization"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_mail_and_malformed_domains_are_refused_everywhere() {
    let dns = TestDns::start().await;
    for server in servers(&dns, None).await {
        let d = domain();
        let (org, mut b) = admin_claiming(&server, &d).await;
        let key = operator_key(&server).await;
        for bad in [
            "gmail.com",
            "GoogleMail.com.",
            "gmx.de",
            "yahoo.co.jp",
            "acme..com",
            "-x-.com",
            "a b.com",
            "jane@acme.com",
            "*",
        ] {
            // Console settings: the reason on the page, nothing changed.
            let csrf = b.get("/console/saml").await.csrf();
            let p = b
                .post(
                    "/console/saml/settings",
                    &[("csrf", &csrf), ("domains", &format!("{d}, {bad}"))],
                )
                .await;
            assert_eq!(p.status, 400, "{bad}: {}", p.body);
            assert!(p.body.contains("id=\"settings-error\""), "{bad}");
            if bad.to_lowercase().starts_with("g") || bad.starts_with("yahoo") {
                assert!(p.body.contains("public mail domain"), "{bad}: {}", p.body);
            }
            // The operator API: problem+json, for settings and for approval alike.
            let (status, body) = api(
                &server,
                &key,
                "PATCH",
                &format!("/orgs/{}/saml", org.slug),
                Some(json!({"domains": [bad]})),
            )
            .await;
            assert_eq!(status, 400, "{bad}: {body}");
            let (status, body) = api(
                &server,
                &key,
                "POST",
                &format!(
                    "/orgs/{}/domains/{}/approve",
                    org.slug,
                    bad.replace(' ', "%20")
                ),
                None,
            )
            .await;
            assert!(matches!(status, 400 | 404), "{bad}: {status} {body}");
            assert_eq!(
                server
                    .state
                    .domains
                    .claims(&org)
                    .await
                    .unwrap()
                    .iter()
                    .map(|c| c.domain.clone())
                    .collect::<Vec<_>>(),
                vec![d.clone()]
            );
        }
        assert_eq!(login_goes_to(&server, "someone@gmail.com").await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_verified_claim_wins_and_the_organization_that_lost_sees_why() {
    let dns = TestDns::start().await;
    for server in servers(&dns, None).await {
        let d = domain();
        let (a, mut ba) = admin_claiming(&server, &d).await;
        let (b_org, mut bb) = admin_claiming(&server, &d).await;
        let jane = format!("jane@{d}");
        // Two claims, neither proved: nobody routed, and neither is refused.
        assert_eq!(login_goes_to(&server, &jane).await, None);

        dns.set_txt(&challenge(&d), &[&txt_value(&server, &a, &d).await]);
        assert_eq!(check_now(&mut ba, &d).await.status, 303);
        assert_eq!(
            login_goes_to(&server, &jane).await,
            Some(login_url(&server, &a).await)
        );
        let page = bb.get("/console/saml").await;
        assert!(
            page.body
                .contains("Another organization has verified this domain"),
            "{}",
            page.body
        );
        // B's own check finds A's record, not its own.
        let p = check_now(&mut bb, &d).await;
        assert!(p.body.contains("do not include"), "{}", p.body);
        assert_eq!(
            login_goes_to(&server, &jane).await,
            Some(login_url(&server, &a).await)
        );

        // The domain's owner now publishes B's record: B's proof takes the domain.
        dns.set_txt(&challenge(&d), &[&txt_value(&server, &b_org, &d).await]);
        assert_eq!(check_now(&mut bb, &d).await.status, 303);
        assert_eq!(
            login_goes_to(&server, &jane).await,
            Some(login_url(&server, &b_org).await)
        );

        // A sees why on its SAML page and in the API; both audit logs tell the move.
        let page = ba.get("/console/saml").await;
        assert!(
            page.body.contains("another organization proved it by DNS"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains(&b_org.slug),
            "the other organization stays unnamed"
        );
        let key = operator_key(&server).await;
        let (status, body) = api(
            &server,
            &key,
            "GET",
            &format!("/orgs/{}/domains", a.slug),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let claim = &body["domains"][0];
        assert_eq!(
            (claim["domain"].as_str(), claim["verified"].as_bool()),
            (Some(d.as_str()), Some(false)),
            "{body}"
        );
        assert_eq!(claim["verified_by_another_organization"], true);
        assert!(
            claim["note"]
                .as_str()
                .unwrap()
                .contains("another organization"),
            "{body}"
        );
        let (_, saml) = api(
            &server,
            &key,
            "GET",
            &format!("/orgs/{}/saml", a.slug),
            None,
        )
        .await;
        assert_eq!(saml["login_domains"][0]["verified"], false, "{saml}");
        assert!(domain_audit(&server, &key, &a.slug)
            .await
            .iter()
            .any(|e| e["operation"] == "domain.lost"));
        assert_eq!(
            domain_audit(&server, &key, &b_org.slug).await[0]["operation"],
            "domain.verify"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_approves_and_revokes_through_the_api() {
    let dns = TestDns::start().await;
    for server in servers(&dns, None).await {
        let d = domain();
        let (a, _) = admin_claiming(&server, &d).await;
        let (other, mut bo) = admin_claiming(&server, &d).await;
        let key = operator_key(&server).await;
        let jane = format!("jane@{d}");

        // Unauthenticated and unknown organizations: problem+json.
        let (status, _) = api(
            &server,
            "nope",
            "GET",
            &format!("/orgs/{}/domains", a.slug),
            None,
        )
        .await;
        assert_eq!(status, 401);
        let (status, _) = api(
            &server,
            &key,
            "POST",
            &format!("/orgs/no-such-org/domains/{d}/approve"),
            None,
        )
        .await;
        assert_eq!(status, 404);

        // Approval (case and trailing dot normalised) routes at once.
        let (status, body) = api(
            &server,
            &key,
            "POST",
            &format!("/orgs/{}/domains/{}./approve", a.slug, d.to_uppercase()),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (
                body["domain"].as_str(),
                body["verified"].as_bool(),
                body["proof"].as_str()
            ),
            (Some(d.as_str()), Some(true), Some("operator")),
            "{body}"
        );
        assert_eq!(
            login_goes_to(&server, &jane).await,
            Some(login_url(&server, &a).await)
        );
        let audit = domain_audit(&server, &key, &a.slug).await;
        assert_eq!(
            (
                audit[0]["operation"].as_str(),
                audit[0]["actor"]["kind"].as_str()
            ),
            (Some("domain.verify"), Some("admin_key")),
            "{audit:?}"
        );

        // Approval also claims a domain the organization did not list.
        let e = domain();
        let (status, body) = api(
            &server,
            &key,
            "POST",
            &format!("/orgs/{}/domains/{e}/approve", a.slug),
            None,
        )
        .await;
        assert_eq!(
            (status, body["verified"].as_bool()),
            (200, Some(true)),
            "{body}"
        );

        // A DNS proof by another organization does not take what an operator approved.
        dns.set_txt(&challenge(&d), &[&txt_value(&server, &other, &d).await]);
        let p = check_now(&mut bo, &d).await;
        assert_eq!(p.status, 409, "{}", p.body);
        assert!(p.body.contains("operator"), "{}", p.body);
        assert_eq!(
            login_goes_to(&server, &jane).await,
            Some(login_url(&server, &a).await)
        );

        // Revoked: the claim stays, routing nobody.
        let (status, body) = api(
            &server,
            &key,
            "POST",
            &format!("/orgs/{}/domains/{d}/revoke", a.slug),
            None,
        )
        .await;
        assert_eq!(
            (status, body["verified"].as_bool()),
            (200, Some(false)),
            "{body}"
        );
        assert!(
            body["status"].as_str().unwrap().contains("revoked"),
            "{body}"
        );
        assert_eq!(login_goes_to(&server, &jane).await, None);
        assert_eq!(
            domain_audit(&server, &key, &a.slug).await[0]["operation"],
            "domain.revoke"
        );
        let (status, _) = api(
            &server,
            &key,
            "POST",
            &format!("/orgs/{}/domains/{}/revoke", a.slug, domain()),
            None,
        )
        .await;
        assert_eq!(status, 404);

        // Now the other organization's DNS proof holds.
        assert_eq!(check_now(&mut bo, &d).await.status, 303);
        assert_eq!(
            login_goes_to(&server, &jane).await,
            Some(login_url(&server, &other).await)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recheck_removes_a_verification_whose_record_is_gone() {
    let dns = TestDns::start().await;
    // A day behind: the re-check round covers every organization of the database, and other
    // tests' claims (checked at the real time) must never be due in this test's rounds.
    let clock = ManualClock::new();
    clock.advance(-Duration::days(1));
    for server in servers(&dns, Some(clock.clone())).await {
        let d = domain();
        let (org, mut b) = admin_claiming(&server, &d).await;
        let jane = format!("jane@{d}");
        let value = txt_value(&server, &org, &d).await;
        dns.set_txt(&challenge(&d), &[&value]);
        assert_eq!(check_now(&mut b, &d).await.status, 303);
        let routed = Some(login_url(&server, &org).await);
        let step = RECHECK_INTERVAL + Duration::seconds(1);

        let checked = || async {
            let claims = server.state.domains.claims(&org).await.unwrap();
            (
                claims[0].last_checked_at,
                claims[0].failed_checks,
                claims[0].is_verified(),
            )
        };

        // Not due yet: not looked up.
        let (verified_at, _, _) = checked().await;
        server.state.domains.recheck_due().await.unwrap();
        assert_eq!(checked().await.0, verified_at);

        // Due and present: checked, still verified.
        clock.advance(step);
        let round = server.state.domains.recheck_due().await.unwrap();
        assert!(round.checked >= 1, "{round:?}");
        let (last, failures, verified) = checked().await;
        assert!(last > verified_at && failures == 0 && verified);

        // A server failure is no answer: it counts for nothing either way.
        dns.fail(&challenge(&d));
        clock.advance(step);
        server.state.domains.recheck_due().await.unwrap();
        let (after_failure, failures, verified) = checked().await;
        assert!(after_failure > last && failures == 0 && verified);
        let p = check_now(&mut b, &d).await;
        assert_eq!(p.status, 503, "{}", p.body);
        assert!(p.body.contains("gave no answer"), "{}", p.body);
        assert_eq!(checked().await.1, 0);

        // Gone once (a flaky moment): still verified, the admin is warned; back again resets.
        dns.remove(&challenge(&d));
        clock.advance(step);
        server.state.domains.recheck_due().await.unwrap();
        assert_eq!(login_goes_to(&server, &jane).await, routed);
        assert!(b
            .get("/console/saml")
            .await
            .body
            .contains("The record was missing in the last 1 check(s)"));
        dns.set_txt(&challenge(&d), &[&value]);
        clock.advance(step);
        server.state.domains.recheck_due().await.unwrap();
        assert!(!b
            .get("/console/saml")
            .await
            .body
            .contains("The record was missing"));

        // Gone for good: after the limit of checks in a row, it stops routing, and says why.
        dns.remove(&challenge(&d));
        for i in 1..=RECHECK_FAILURES_TO_LAPSE {
            assert_eq!(
                login_goes_to(&server, &jane).await,
                routed,
                "before failure {i}"
            );
            clock.advance(step);
            server.state.domains.recheck_due().await.unwrap();
        }
        assert_eq!(login_goes_to(&server, &jane).await, None);
        let page = b.get("/console/saml").await;
        assert!(page.body.contains("Not verified"), "{}", page.body);
        assert!(
            page.body
                .contains(&format!("no TXT record at {}", challenge(&d))),
            "{}",
            page.body
        );
        let key = operator_key(&server).await;
        assert_eq!(
            domain_audit(&server, &key, &org.slug).await[0]["operation"],
            "domain.lapsed"
        );
        // No longer due: an unverified claim is not re-checked.
        let lapsed = checked().await;
        clock.advance(step);
        server.state.domains.recheck_due().await.unwrap();
        assert_eq!(checked().await, lapsed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn check_now_is_bounded_per_organization() {
    let dns = TestDns::start().await;
    for server in servers(&dns, None).await {
        let d = domain();
        let (_, mut b) = admin_claiming(&server, &d).await;
        for _ in 0..CHECKS_PER_WINDOW {
            assert_eq!(check_now(&mut b, &d).await.status, 200);
        }
        let before = dns.queries();
        let p = check_now(&mut b, &d).await;
        assert_eq!(p.status, 429, "{}", p.body);
        assert!(p.headers.get("retry-after").is_some());
        assert!(
            p.body
                .contains(&format!("checked {CHECKS_PER_WINDOW} times")),
            "{}",
            p.body
        );
        assert_eq!(dns.queries(), before, "a refused check asks no DNS server");
        // Another organization's budget is its own.
        let (_, mut other) = admin_claiming(&server, &d).await;
        assert_eq!(check_now(&mut other, &d).await.status, 200);
    }
}
