//! Class: anyone can write into an organization's audit log. The ACS is rate-limited per
//! connection and per client address before it reads a post, and identical refusals fold
//! into one audit row with a count.

use directory::model::{Actor, Organization};
use directory::query::AuditQuery;
use directory::store::StoredAuditEvent;
use portcullis::http::throttle::{
    AcsThrottle, RateLimit, ACS_PER_CONNECTION, THROTTLE_TABLE_CAPACITY,
};
use std::net::{IpAddr, Ipv4Addr};
use testkit::server::{backends, TestOptions, TestServer};
use testkit::test_idp::TestIdp;

use super::browser::{signed_in_admin, Browser};

const SSO_URL: &str = "https://acme.okta.example/app/portcullis/exk1/sso/saml";

/// An organization whose SAML connection is fully set up, with a signed-in console admin;
/// returns it, its ACS URL and the admin's browser.
async fn org_with_acs(server: &TestServer) -> (Organization, String, Browser) {
    let (slug, admin) = signed_in_admin(server, "it@acme.com").await;
    let org = server.state.admin.org(&slug).await.unwrap();
    let conn = server
        .state
        .sso
        .setup(&org, &[format!("{slug}.example")], &Actor::Cli)
        .await
        .unwrap();
    let idp = TestIdp::new(&format!(
        "http://www.okta.com/exk{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    server
        .state
        .sso
        .upload_metadata(&org, &idp.metadata_xml(SSO_URL), &Actor::Cli)
        .await
        .unwrap();
    let acs = format!("{}/saml/{}/acs", server.base_url, conn.client_id);
    (org, acs, admin)
}

async fn signin_rows(server: &TestServer, org: &Organization) -> Vec<StoredAuditEvent> {
    server
        .state
        .admin
        .audit(
            org,
            &AuditQuery {
                operation_prefix: Some("saml.signin".into()),
                limit: 1000,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap()
}

/// A client that opens a connection per request (so only the per-address limit applies)
/// from `local`, a loopback address of its own.
fn client_from(local: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn post_garbage(http: &reqwest::Client, acs: &str) -> reqwest::Response {
    http.post(acs)
        .form(&[("SAMLResponse", "this is not a SAML response!")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_thousand_garbage_posts_from_one_address_make_a_bounded_audit_and_429s() {
    for backend in backends() {
        let per_address = RateLimit {
            per_minute: 6,
            burst: 5,
        };
        let server = TestServer::start_with(
            backend,
            TestOptions {
                acs_throttle: Some(AcsThrottle::new(
                    per_address,
                    ACS_PER_CONNECTION,
                    THROTTLE_TABLE_CAPACITY,
                )),
                ..TestOptions::default()
            },
        )
        .await;
        let (org, acs, mut admin) = org_with_acs(&server).await;
        let attacker = client_from(Ipv4Addr::new(127, 0, 0, 1));
        let (mut refused, mut throttled) = (0, 0);
        for _ in 0..1000 {
            let res = post_garbage(&attacker, &acs).await;
            match res.status().as_u16() {
                400 => refused += 1,
                429 => {
                    throttled += 1;
                    let wait: u64 = res.headers()["retry-after"]
                        .to_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert!((1..=10).contains(&wait), "Retry-After: {wait}");
                    assert!(res.headers()["content-type"]
                        .to_str()
                        .unwrap()
                        .starts_with("text/html"));
                    let page = res.text().await.unwrap();
                    assert!(page.contains("Too many sign-in attempts"), "{page}");
                }
                other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
            }
        }
        // The burst, and at most one more if the test ran past a refill (10 s at 6 a minute).
        assert!((5..=7).contains(&refused), "{refused} posts were read");
        assert_eq!(refused + throttled, 1000);

        // Another address is not held back by the first one's limit.
        let neighbour = client_from(Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(post_garbage(&neighbour, &acs).await.status(), 400);

        let rows = signin_rows(&server, &org).await;
        // One folded row per (reason, address), one throttling summary: not a row a post.
        assert_eq!(rows.len(), 3, "{rows:#?}");
        let from = |addr: &str, status: u16| {
            rows.iter()
                .find(|r| {
                    r.event.status == status
                        && r.event.detail.as_deref().is_some_and(|d| d.contains(addr))
                })
                .unwrap_or_else(|| panic!("no {status} row for {addr}: {rows:#?}"))
        };
        let garbage = from("127.0.0.1", 400);
        assert_eq!(garbage.repeated, refused);
        assert!(garbage
            .event
            .detail
            .as_deref()
            .unwrap()
            .contains("not_base64"));
        assert!(garbage.last_at.is_some());
        let summary = from("127.0.0.1", 429);
        assert!(summary.repeated >= 1);
        assert!(summary
            .event
            .detail
            .as_deref()
            .unwrap()
            .contains("rate limit"));
        assert_eq!(from("127.0.0.2", 400).repeated, 1);

        // The console's audit page shows the count.
        let page = admin.get("/console/audit").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!("× {refused}")), "{}", page.body);
    }
}

#[tokio::test]
async fn one_connection_cannot_spend_its_addresses_whole_budget() {
    for backend in backends() {
        let server = TestServer::start(backend).await;
        let (org, acs, _) = org_with_acs(&server).await;
        // One keep-alive connection: the per-connection burst (10) ends it before the
        // per-address burst (30).
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(post_garbage(&http, &acs).await.status().as_u16());
        }
        let read = statuses.iter().filter(|s| **s == 400).count();
        assert_eq!(read, ACS_PER_CONNECTION.burst as usize, "{statuses:?}");
        assert!(statuses[read..].iter().all(|s| *s == 429), "{statuses:?}");
        // A new connection from the same address is served again, within the address limit.
        let fresh = client_from(Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(post_garbage(&fresh, &acs).await.status(), 400);
        let rows = signin_rows(&server, &org).await;
        assert_eq!(rows.len(), 2, "{rows:#?}");
    }
}
