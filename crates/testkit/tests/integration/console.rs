//! The admin console as a browser uses it: invitation, password, sign-in and its throttle,
//! sign-out, CSRF on every form, the CSP, and odd input that must never become a 500.

use directory::model::Actor;
use directory::query::AuditQuery;
use testkit::on_every_backend;

use super::browser::{assert_console_headers, org_and_invite, Browser, GOOD_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invite_password_sign_in_sign_out_and_throttle() {
    on_every_backend!(|server| {
        let (slug, invite) = org_and_invite(&server, "IT@Acme.com").await;
        let mut b = Browser::new(&server);

        // Signed out: the overview sends to the login page.
        let p = b.get("/console").await;
        assert_eq!((p.status, p.location()), (303, "/console/login"));

        // The invitation form: CSP, the org, a double-submit token in cookie and form.
        let form = b.get(&invite).await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert_console_headers(&form);
        assert!(form.body.contains("Acme Corp"), "{}", form.body);
        assert!(form.body.contains("it@acme.com"), "{}", form.body);
        let csrf = form.csrf();
        assert_eq!(b.cookie("portcullis_csrf"), Some(csrf.as_str()));
        let set = form.headers["set-cookie"].to_str().unwrap();
        assert!(
            set.contains("HttpOnly")
                && set.contains("SameSite=Strict")
                && set.contains("Path=/console"),
            "{set}"
        );

        // Too short, and not the same twice: 400 with the reason, the link still works.
        let p = b
            .post(
                &invite,
                &[("csrf", &csrf), ("password", "short"), ("confirm", "short")],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("at least 12 characters"), "{}", p.body);
        let p = b
            .post(
                &invite,
                &[
                    ("csrf", &csrf),
                    ("password", GOOD_PASSWORD),
                    ("confirm", "another long password"),
                ],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("not the same"), "{}", p.body);

        // Accepted: signed in, 303 to the overview with a strict session cookie.
        let p = b
            .post(
                &invite,
                &[
                    ("csrf", &csrf),
                    ("password", GOOD_PASSWORD),
                    ("confirm", GOOD_PASSWORD),
                ],
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/console"), "{}", p.body);
        let set: Vec<&str> = p
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let session = set
            .iter()
            .find(|c| c.starts_with("portcullis_console="))
            .unwrap();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
            assert!(session.contains(attr), "{session}");
        }
        assert!(!session.contains("Secure"), "http base URL: {session}");

        let overview = b.get("/console").await;
        assert_eq!(overview.status, 200, "{}", overview.body);
        assert_console_headers(&overview);
        assert!(overview.body.contains("Acme Corp"), "{}", overview.body);
        assert!(overview.body.contains(&slug), "{}", overview.body);
        assert!(overview.body.contains("it@acme.com"), "{}", overview.body);

        // The link is single use.
        assert_eq!(b.get(&invite).await.status, 404);

        // Sign out with the session's token; the overview is gone.
        let token = overview.csrf();
        let p = b.post("/console/logout", &[("csrf", &token)]).await;
        assert_eq!((p.status, p.location()), (303, "/console/login"));
        assert_eq!(b.cookie("portcullis_console"), None);
        assert_eq!(b.get("/console").await.status, 303);

        // The old cookie no longer works either.
        let mut replay = Browser::new(&server);
        replay.cookies.push((
            "portcullis_console".into(),
            session
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .into(),
        ));
        assert_eq!(replay.get("/console").await.status, 303);

        // Sign in again; wrong passwords are refused with the same words as an unknown email.
        let p = b.login(&slug, "it@acme.com", GOOD_PASSWORD).await;
        assert_eq!((p.status, p.location()), (303, "/console"), "{}", p.body);
        assert_eq!(b.get("/console").await.status, 200);

        let mut attacker = Browser::new(&server);
        let p = attacker
            .login(&slug, "nobody@acme.com", GOOD_PASSWORD)
            .await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("not right"), "{}", p.body);
        for n in 1..=5 {
            let p = attacker
                .login(&slug, "IT@acme.com", "wrong password!")
                .await;
            assert_eq!(p.status, 401, "attempt {n}: {}", p.body);
            assert!(p.body.contains("not right"), "{}", p.body);
        }
        // The sixth is refused without looking at the password, even the right one.
        let p = attacker.login(&slug, "it@acme.com", GOOD_PASSWORD).await;
        assert_eq!(p.status, 429, "{}", p.body);
        assert_console_headers(&p);
        let mut other_place = Browser::new(&server);
        assert_eq!(
            other_place
                .login(&slug, "it@acme.com", GOOD_PASSWORD)
                .await
                .status,
            429
        );

        // The audit log says what happened, newest first.
        let org = server.state.admin.org(&slug).await.unwrap();
        let events = server
            .state
            .admin
            .audit(
                &org,
                &AuditQuery {
                    operation_prefix: Some("console.".into()),
                    limit: 50,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        let seen: Vec<(String, u16, String)> = events
            .iter()
            .map(|e| {
                (
                    e.event.operation.clone(),
                    e.event.status,
                    e.event.detail.clone().unwrap_or_default(),
                )
            })
            .collect();
        let has = |op: &str, status: u16, detail: &str| {
            seen.iter()
                .any(|(o, s, d)| o == op && *s == status && d.contains(detail))
        };
        assert!(has("console.invite", 200, "it@acme.com"), "{seen:?}");
        assert!(has("console.invite.accept", 200, "it@acme.com"), "{seen:?}");
        assert!(has("console.signin", 200, "signed in"), "{seen:?}");
        assert!(has("console.signin", 401, "wrong password"), "{seen:?}");
        assert!(
            has("console.signin", 401, "unknown organization or email"),
            "{seen:?}"
        );
        assert!(
            has("console.signin", 429, "too many failed attempts"),
            "{seen:?}"
        );
        assert_eq!(seen[0].1, 429, "{seen:?}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invite_links_are_single_use_and_expire() {
    on_every_backend!(|server, clock| {
        let (slug, invite) = org_and_invite(&server, "first@acme.com").await;
        let mut b = Browser::new(&server);

        // Unknown and malformed links: a 404 page, not an error.
        for path in [
            "/console/invite/pci_invite_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "/console/invite/nonsense",
            "/console/invite/%FF%FE",
        ] {
            let p = b.get(path).await;
            assert_eq!(p.status, 404, "{path}: {}", p.body);
            assert_console_headers(&p);
            assert!(p.body.contains("not valid"), "{}", p.body);
        }

        let org = server.state.admin.org(&slug).await.unwrap();
        let form = b.get(&invite).await;
        let csrf = form.csrf();
        let first_browser_csrf = csrf.clone();

        // Used once in one browser, the link is dead in another.
        let p = b
            .post(
                &invite,
                &[
                    ("csrf", &csrf),
                    ("password", GOOD_PASSWORD),
                    ("confirm", GOOD_PASSWORD),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let mut other = Browser::new(&server);
        assert_eq!(other.get(&invite).await.status, 404);
        let login = other.get("/console/login").await;
        let csrf = login.csrf();
        let p = other
            .post(
                &invite,
                &[
                    ("csrf", &csrf),
                    ("password", "another long password"),
                    ("confirm", "another long password"),
                ],
            )
            .await;
        assert_eq!(p.status, 404, "{}", p.body);
        // The password set first still works, the second attempt changed nothing.
        assert_eq!(
            other
                .login(&slug, "first@acme.com", "another long password")
                .await
                .status,
            401
        );
        assert_eq!(
            other
                .login(&slug, "first@acme.com", GOOD_PASSWORD)
                .await
                .status,
            303
        );

        // An invited admin who never set a password cannot sign in.
        server
            .state
            .console
            .invite(&org, "pending@acme.com", &Actor::Cli)
            .await
            .unwrap();
        let mut other = Browser::new(&server);
        assert_eq!(other.login(&slug, "pending@acme.com", "").await.status, 400);
        assert_eq!(
            other
                .login(&slug, "pending@acme.com", GOOD_PASSWORD)
                .await
                .status,
            401
        );

        // An invitation a week and a day old (the clock moved on, nothing forged): a 404 to
        // read and to use.
        let late = server
            .state
            .console
            .invite(&org, "late@acme.com", &Actor::Cli)
            .await
            .unwrap();
        let expired = late.link[server.base_url.len()..].to_string();
        clock.advance(directory::console::INVITE_LIFETIME + time::Duration::days(1));
        assert_eq!(b.get(&expired).await.status, 404);
        let p = b
            .post(
                &expired,
                &[
                    ("csrf", &first_browser_csrf),
                    ("password", GOOD_PASSWORD),
                    ("confirm", GOOD_PASSWORD),
                ],
            )
            .await;
        assert_eq!(p.status, 404, "{}", p.body);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_form_checks_csrf_first() {
    on_every_backend!(|server| {
        let (slug, invite) = org_and_invite(&server, "csrf@acme.com").await;
        let mut b = Browser::new(&server);
        let form = b.get(&invite).await;
        let csrf = form.csrf();
        let pw = [("password", GOOD_PASSWORD), ("confirm", GOOD_PASSWORD)];

        // Invitation: field missing, field wrong, cookie missing → 403; the link survives.
        let p = b.post(&invite, &pw).await;
        assert_eq!(p.status, 403, "{}", p.body);
        assert_console_headers(&p);
        let p = b
            .post(&invite, &[("csrf", "csrf_wrong"), pw[0], pw[1]])
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        let mut no_cookie = Browser::new(&server);
        let p = no_cookie
            .post(&invite, &[("csrf", &csrf), pw[0], pw[1]])
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        // Checked before the link itself: an unknown link with no token is a 403 too.
        let p = no_cookie.post("/console/invite/nonsense", &pw).await;
        assert_eq!(p.status, 403, "{}", p.body);
        let p = b.post(&invite, &[("csrf", &csrf), pw[0], pw[1]]).await;
        assert_eq!(p.status, 303, "{}", p.body);

        // Login: missing and wrong → 403, even with the right password; no failure counted.
        let creds = [
            ("organization", slug.as_str()),
            ("email", "csrf@acme.com"),
            ("password", GOOD_PASSWORD),
        ];
        let mut c = Browser::new(&server);
        let login = c.get("/console/login").await;
        assert_console_headers(&login);
        let token = login.csrf();
        for _ in 0..6 {
            assert_eq!(c.post("/console/login", &creds).await.status, 403);
            let wrong = [("csrf", "csrf_wrong"), creds[0], creds[1], creds[2]];
            assert_eq!(c.post("/console/login", &wrong).await.status, 403);
        }
        let right = [("csrf", token.as_str()), creds[0], creds[1], creds[2]];
        let p = c.post("/console/login", &right).await;
        assert_eq!((p.status, p.location()), (303, "/console"), "{}", p.body);

        // Logout: missing and wrong → 403 and the session lives on; the double-submit token
        // is not the session's.
        let overview = c.get("/console").await;
        let session_token = overview.csrf();
        assert_ne!(session_token, token);
        assert_eq!(c.post("/console/logout", &[]).await.status, 403);
        assert_eq!(c.post("/console/logout", &[("csrf", "")]).await.status, 403);
        assert_eq!(
            c.post("/console/logout", &[("csrf", "csrf_wrong")])
                .await
                .status,
            403
        );
        assert_eq!(
            c.post("/console/logout", &[("csrf", &token)]).await.status,
            403
        );
        assert_eq!(c.get("/console").await.status, 200);
        let p = c.post("/console/logout", &[("csrf", &session_token)]).await;
        assert_eq!(p.status, 303);
        assert_eq!(c.get("/console").await.status, 303);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_input_is_a_4xx_page_never_a_500() {
    on_every_backend!(|server| {
        let (slug, invite) = org_and_invite(&server, "odd@acme.com").await;
        let mut b = Browser::new(&server);
        let token = b.get("/console/login").await.csrf();

        // Missing fields: 400 with the form again.
        let p = b.post("/console/login", &[("csrf", &token)]).await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("Fill in"), "{}", p.body);
        let p = b
            .post(
                "/console/login",
                &[
                    ("csrf", &token),
                    ("organization", &slug),
                    ("email", "odd@acme.com"),
                ],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        let p = b
            .post(&invite, &[("csrf", &token), ("password", GOOD_PASSWORD)])
            .await;
        assert_eq!(p.status, 400, "{}", p.body);

        // Very long fields: refused as wrong, not failed on.
        let long = "x".repeat(5_000);
        let p = b
            .post(
                "/console/login",
                &[
                    ("csrf", &token),
                    ("organization", &long),
                    ("email", &long),
                    ("password", &long),
                ],
            )
            .await;
        assert_eq!(p.status, 401, "{}", p.body);
        let p = b
            .post(
                &invite,
                &[("csrf", &token), ("password", &long), ("confirm", &long)],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        // A body over the limit.
        let huge = format!("csrf={token}&password={}", "y".repeat(100_000));
        assert_eq!(
            b.post_raw("/console/login", huge.into_bytes()).await.status,
            413
        );

        // Bytes that are not UTF-8, raw and percent-encoded.
        // (The organization starts with this test's slug: failures are counted per organization
        // and email, and the PostgreSQL store outlives one run.)
        let mut raw = format!("csrf={token}&organization={slug}").into_bytes();
        raw.extend_from_slice(&[0xff, 0xfe, 0x80]);
        raw.extend_from_slice(b"&email=a%FF%FE@b.c&password=%C3%28%E2%82");
        let p = b.post_raw("/console/login", raw).await;
        assert_eq!(p.status, 401, "{}", p.body);
        let mut raw = format!("csrf={token}&password=").into_bytes();
        raw.extend_from_slice(&[0xc3, 0x28, 0xa0, 0xa1]);
        raw.extend_from_slice(b"&confirm=%FF");
        assert_eq!(b.post_raw(&invite, raw).await.status, 400);
        let p = b
            .post_raw("/console/logout", vec![0xff, 0x00, b'=', 0x80])
            .await;
        assert_eq!(p.status, 403);
        // A form whose token is not UTF-8 is a wrong token.
        let p = b.post_raw("/console/login", b"csrf=%FF%FE".to_vec()).await;
        assert_eq!(p.status, 403);

        // Markup in fields comes back escaped.
        let p = b
            .post(
                "/console/login",
                &[
                    ("csrf", &token),
                    ("organization", &format!("{slug}<script>x</script>")),
                    ("email", "\"><b>@x"),
                    ("password", "p"),
                ],
            )
            .await;
        assert_eq!(p.status, 401);
        assert!(!p.body.contains("<script>x"), "{}", p.body);
        assert!(p.body.contains("&lt;script&gt;"), "{}", p.body);

        // Odd cookies are ignored, odd paths and methods are 404/405 pages.
        b.cookies
            .push(("portcullis_console".into(), "pcc_session_%00nope".into()));
        assert_eq!(b.get("/console").await.status, 303);
        assert_eq!(b.get("/console/no/such/page").await.status, 404);
        let p = b.get("/console/logout").await;
        assert!(matches!(p.status, 404 | 405), "{}", p.status);
        let p = b.post("/console", &[("csrf", &token)]).await;
        assert_eq!(p.status, 405);
        assert_console_headers(&p);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stylesheet_is_served_and_forms_are_labelled() {
    on_every_backend!(|server| {
        let (_, invite) = org_and_invite(&server, "css@acme.com").await;
        let mut b = Browser::new(&server);
        let css = b.get("/console/static/console.css").await;
        assert_eq!(css.status, 200);
        assert!(css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css"));
        assert!(css.body.contains(":focus-visible"));

        for path in ["/console/login", invite.as_str()] {
            let p = b.get(path).await;
            assert!(p.body.contains("href=\"/console/static/console.css\""));
            // No inline script or style: the CSP would block them.
            assert!(
                !p.body.contains("<script") && !p.body.contains("style="),
                "{}",
                p.body
            );
            // Every visible field has a label pointing at it.
            for field in p.body.split("<input").skip(1) {
                if field.contains("type=\"hidden\"") {
                    continue;
                }
                let id = field
                    .split("id=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap();
                assert!(
                    p.body.contains(&format!("<label for=\"{id}\"")),
                    "{id} in {path}"
                );
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_gets_twenty_failures_across_emails() {
    on_every_backend!(|server| {
        let (slug, invite) = org_and_invite(&server, "ip@acme.com").await;
        let mut setup = Browser::new(&server);
        let csrf = setup.get(&invite).await.csrf();
        let p = setup
            .post(
                &invite,
                &[
                    ("csrf", &csrf),
                    ("password", GOOD_PASSWORD),
                    ("confirm", GOOD_PASSWORD),
                ],
            )
            .await;
        assert_eq!(p.status, 303);

        // Twenty wrong guesses, each for another email (under the per-email limit)…
        let mut b = Browser::new(&server);
        for n in 0..20 {
            let p = b
                .login(&slug, &format!("guess{n}@acme.com"), "wrong password!")
                .await;
            assert_eq!(p.status, 401, "attempt {n}");
        }
        // …and this address is refused, even for a good account; another address is not.
        assert_eq!(
            b.login(&slug, "ip@acme.com", GOOD_PASSWORD).await.status,
            429
        );
        let mut elsewhere = Browser::new(&server);
        let p = elsewhere.login(&slug, "ip@acme.com", GOOD_PASSWORD).await;
        assert_eq!((p.status, p.location()), (303, "/console"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_sessions_expire_when_idle_or_old() {
    use directory::console::{ConsoleService, SignInOutcome};
    use time::Duration;

    on_every_backend!(|server| {
        let start =
            time::OffsetDateTime::from_unix_timestamp(server.state.clock.now().unix_timestamp())
                .unwrap();
        let clock = testkit::ManualClock::at(start);
        let console = ConsoleService::new(
            server.state.store.clone(),
            clock.shared(),
            directory::audit::AuditLog::spawn(server.state.store.clone()),
            &server.base_url,
        );
        let slug = format!("org-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let org = server
            .state
            .admin
            .create_org(&slug, Some("Clockwork"))
            .await
            .unwrap();
        let issued = console
            .invite(&org, "time@acme.com", &Actor::Cli)
            .await
            .unwrap();
        let secret = issued.link.rsplit('/').next().unwrap().to_string();

        // The link dies after 7 days.
        clock.advance(Duration::days(7));
        assert!(console.pending_invite(&secret).await.unwrap().is_none());
        assert!(console
            .accept_invite(&secret, GOOD_PASSWORD, GOOD_PASSWORD)
            .await
            .unwrap()
            .is_none());
        let issued = console
            .invite(&org, "time@acme.com", &Actor::Cli)
            .await
            .unwrap();
        let secret = issued.link.rsplit('/').next().unwrap().to_string();
        let first = console
            .accept_invite(&secret, GOOD_PASSWORD, GOOD_PASSWORD)
            .await
            .unwrap()
            .unwrap();

        // Activity keeps a session alive past the idle timeout…
        for _ in 0..3 {
            clock.advance(Duration::minutes(20));
            assert!(console
                .session(&first.cookie_secret)
                .await
                .unwrap()
                .is_some());
        }
        // …thirty quiet minutes end it.
        clock.advance(Duration::minutes(31));
        assert!(console
            .session(&first.cookie_secret)
            .await
            .unwrap()
            .is_none());

        // However active, twelve hours is the most.
        let SignInOutcome::SignedIn(second) = console
            .sign_in(&slug, "time@acme.com", GOOD_PASSWORD, None)
            .await
            .unwrap()
        else {
            panic!("sign-in refused");
        };
        for _ in 0..(12 * 3 - 1) {
            clock.advance(Duration::minutes(20));
            assert!(console
                .session(&second.cookie_secret)
                .await
                .unwrap()
                .is_some());
        }
        clock.advance(Duration::minutes(20));
        assert!(console
            .session(&second.cookie_secret)
            .await
            .unwrap()
            .is_none());

        // The email's failures fall out of the window after 15 minutes.
        for _ in 0..5 {
            let r = console
                .sign_in(&slug, "time@acme.com", "wrong password!", None)
                .await
                .unwrap();
            assert!(matches!(r, SignInOutcome::Refused), "{r:?}");
        }
        let r = console
            .sign_in(&slug, "time@acme.com", GOOD_PASSWORD, None)
            .await
            .unwrap();
        assert!(matches!(r, SignInOutcome::Throttled), "{r:?}");
        clock.advance(Duration::minutes(16));
        let r = console
            .sign_in(&slug, "time@acme.com", GOOD_PASSWORD, None)
            .await
            .unwrap();
        assert!(matches!(r, SignInOutcome::SignedIn(_)), "{r:?}");
    });
}
