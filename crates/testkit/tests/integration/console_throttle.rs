//! Console sign-in under bursts: attempts are counted before any password is checked, so a
//! burst cannot all be checked, and password computations are bounded, the excess shed with
//! a 429 page that says to try again.

use directory::console::{SIGN_IN_LIMIT_PER_EMAIL, SIGN_IN_WINDOW};
use directory::password::{PasswordHashing, PASSWORD_BUSY_RETRY_AFTER_SECS};
use std::time::Duration;
use testkit::on_every_backend;
use testkit::server::{backends, TestServer};

use super::browser::{assert_console_headers, signed_in_admin, Browser, GOOD_PASSWORD};

/// The failures the store counts under `key` now.
async fn counted(server: &TestServer, key: &str) -> u32 {
    testkit::store_suite::counted_sign_in_attempts(
        &*server.state.store,
        key,
        server.state.clock.now(),
        SIGN_IN_WINDOW,
    )
    .await
}

/// One sign-in from a browser of its own (its own client address): status and body.
async fn sign_in_once(
    server: &TestServer,
    slug: &str,
    email: &str,
    password: &str,
) -> (u16, String) {
    let mut b = Browser::new(server);
    let p = b.login(slug, email, password).await;
    (p.status, p.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_sign_ins_checks_at_most_the_limit_of_passwords() {
    on_every_backend!(|server| {
        let (slug, _) = signed_in_admin(&server, "it@acme.com").await;

        // Thirty wrong passwords at once, each from its own address: only the email's limit
        // binds, and exactly that many passwords are checked; the rest are 429 unchecked.
        let burst = futures::future::join_all(
            (0..30).map(|_| sign_in_once(&server, &slug, "it@acme.com", "wrong password!")),
        )
        .await;
        let checked = burst.iter().filter(|(s, _)| *s == 401).count();
        let throttled = burst.iter().filter(|(s, _)| *s == 429).count();
        assert_eq!(
            (checked, throttled),
            (
                SIGN_IN_LIMIT_PER_EMAIL as usize,
                30 - SIGN_IN_LIMIT_PER_EMAIL as usize
            ),
            "{:?}",
            burst.iter().map(|(s, _)| s).collect::<Vec<_>>()
        );
        let email_key = format!("email:{slug}:it@acme.com");
        assert_eq!(counted(&server, &email_key).await, SIGN_IN_LIMIT_PER_EMAIL);
        // The right password, now, is refused unchecked.
        let (status, body) = sign_in_once(&server, &slug, "it@acme.com", GOOD_PASSWORD).await;
        assert_eq!(status, 429, "{body}");

        // A fresh admin and a burst with the right password among the wrong ones: it signs
        // in only if it was among the first attempts counted. Either way no more than the
        // limit were checked before the success (which clears the email's count), and when
        // it came too late it was refused like the others.
        let (slug, _) = signed_in_admin(&server, "ops@acme.com").await;
        let burst = futures::future::join_all((0..30).map(|i| {
            let password = if i == 17 {
                GOOD_PASSWORD
            } else {
                "wrong password!"
            };
            sign_in_once(&server, &slug, "ops@acme.com", password)
        }))
        .await;
        assert!(burst.iter().all(|(s, _)| [303, 401, 429].contains(s)));
        let right = burst[17].0;
        let wrong_checked = burst.iter().filter(|(s, _)| *s == 401).count();
        let limit = SIGN_IN_LIMIT_PER_EMAIL as usize;
        if right == 429 {
            assert_eq!(wrong_checked, limit);
        } else {
            assert_eq!(right, 303);
            // At most limit − 1 before it, and a fresh budget after it cleared the count.
            assert!(wrong_checked < 2 * limit, "{wrong_checked}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_work_is_bounded_and_the_excess_is_shed_with_429() {
    for backend in backends() {
        // No slot at all: every sign-in and invitation is shed, certainly, and nothing counts.
        let server = TestServer::start_adjusted(backend.clone(), |state| {
            state.with_password_hashing(PasswordHashing::new(0, Duration::ZERO))
        })
        .await;
        let (slug, invite) = super::browser::org_and_invite(&server, "it@acme.com").await;
        let mut b = Browser::new(&server);
        let form = b.get(&invite).await;
        let csrf = form.csrf();
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
        assert_eq!(p.status, 429, "{}", p.body);
        assert_console_headers(&p);
        assert_eq!(
            p.headers["retry-after"],
            PASSWORD_BUSY_RETRY_AFTER_SECS.to_string().as_str()
        );
        assert!(p.body.contains("try again"), "{}", p.body);
        // The invitation was not used up: the admin can come back.
        assert_eq!(b.get(&invite).await.status, 200);

        let mut b = Browser::new(&server);
        let p = b.login(&slug, "nobody@acme.com", GOOD_PASSWORD).await;
        assert_eq!(p.status, 429, "{}", p.body);
        assert!(p.headers.contains_key("retry-after"));
        assert_eq!(
            counted(&server, &format!("email:{slug}:nobody@acme.com")).await,
            0
        );

        // One slot, no waiting: of a burst some are checked and some shed, none fails, and
        // only the checked ones are counted (each under its email and its address).
        let server = TestServer::start_adjusted(backend, |state| {
            state.with_password_hashing(PasswordHashing::new(1, Duration::ZERO))
        })
        .await;
        let (slug, _) = signed_in_admin(&server, "it@acme.com").await;
        let burst = futures::future::join_all((0..24).map(|i| {
            let server = &server;
            let slug = slug.clone();
            async move {
                let email = format!("user{i}@acme.com");
                let mut b = Browser::new(server);
                let p = b.login(&slug, &email, "wrong password!").await;
                (p.status, email)
            }
        }))
        .await;
        let shed = burst.iter().filter(|(s, _)| *s == 429).count();
        let checked = burst.iter().filter(|(s, _)| *s == 401).count();
        assert_eq!(shed + checked, burst.len(), "only 401 and 429: {burst:?}");
        assert!(shed > 0, "one slot and no wait shed some of 24 at once");
        assert!(checked > 0, "the slot serves some");
        for (status, email) in &burst {
            let key = format!("email:{slug}:{email}");
            let expected = u32::from(*status == 401);
            assert_eq!(counted(&server, &key).await, expected, "{email}: {status}");
        }
        assert_eq!(server.state.console.password_hashing().running(), 0);
    }
}
