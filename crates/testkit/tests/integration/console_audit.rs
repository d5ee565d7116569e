//! The console's audit log page and the admin API's audit filters: what the IdP and the admins
//! did, with the reason of every refusal, filtered by actor, resource, outcome and time, paged
//! both ways, and never another organization's events.

use super::browser::{assert_console_headers, signed_in_admin, Browser};
use testkit::on_every_backend;
use testkit::server::{ScimClient, TestServer};

/// The `href` of the element with `id`, with `&amp;` decoded.
fn href_of(body: &str, id: &str) -> Option<String> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let tag_start = body[..at].rfind('<')?;
    let tag = &body[tag_start..at + body[at..].find('>')?];
    let h = tag.find("href=\"")? + "href=\"".len();
    Some(tag[h..h + tag[h..].find('"')?].replace("&amp;", "&"))
}

/// The rows of the events table, as text.
fn rows(body: &str) -> Vec<String> {
    let Some(start) = body.find("<tbody>") else {
        return Vec::new();
    };
    let end = body[start..].find("</tbody>").unwrap() + start;
    body[start..end]
        .split("<tr>")
        .skip(1)
        .map(|r| r.to_string())
        .collect()
}

/// An organization whose admin generated a token in the console and whose IdP then created
/// one user and was refused another.
async fn org_with_history(server: &TestServer) -> (String, Browser, ScimClient, String) {
    let (slug, mut b) = signed_in_admin(server, "it@acme.com").await;
    let list = b.get("/console/tokens").await;
    let csrf = list.csrf();
    let shown = b
        .post(
            "/console/tokens",
            &[
                ("csrf", &csrf),
                ("name", "okta-prod"),
                ("domains", "acme.com"),
            ],
        )
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let marker = "id=\"scim-token\">";
    let at = shown.body.find(marker).unwrap() + marker.len();
    let secret = shown.body[at..at + shown.body[at..].find('<').unwrap()].to_string();
    let scim = server.client(&secret);
    let alice = scim.create_user("alice@acme.com").await;
    let refused = scim
        .post(
            "/Users",
            &ScimClient::okta_user("eve@other.com", "Eve", "Other", "ext-eve"),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    (slug, b, scim, alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_log_shows_who_did_what_and_why_refusals_happened() {
    on_every_backend!(|server| {
        let (_, mut b, _, alice) = org_with_history(&server).await;
        let page = b.get("/console/audit").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_console_headers(&page);
        for label in [
            "actor",
            "resource_type",
            "resource",
            "outcome",
            "since",
            "until",
        ] {
            assert!(
                page.body.contains(&format!("<label for=\"{label}\">")),
                "{label}"
            );
        }
        let all = rows(&page.body);
        // Newest first: the refusal, the creation, the admin's token, then the admin's own
        // invitation and sign-in.
        assert!(all.len() >= 5, "{}", page.body);
        assert!(all[3..].iter().all(|r| r.contains("console.")), "{all:?}");
        assert!(all[0].contains("scim.user.create") && all[0].contains("Refused"));
        assert!(
            all[0].contains("other.com") && all[0].contains("okta-prod"),
            "the refusal names the domain and the token: {}",
            all[0]
        );
        assert!(
            all[1].contains(&format!("/console/users/{alice}")),
            "{}",
            all[1]
        );
        assert!(all[1].contains("SCIM token") && all[1].contains("<strong>okta-prod</strong>"));
        assert!(all[2].contains("token.create") && all[2].contains("it@acme.com"));

        // Refusals only.
        let refused = b.get("/console/audit?outcome=refused").await;
        let r = rows(&refused.body);
        assert_eq!(r.len(), 1, "{}", refused.body);
        assert!(r[0].contains("other.com"));
        assert!(refused.body.contains("<option value=\"refused\" selected>"));

        // By actor: the token's events, not the admin's.
        let token_link = href_of(&all[1].replace("<a href", "<a id=\"x\" href"), "x").unwrap();
        assert!(
            token_link.starts_with("/console/audit?actor=scim_token%3A"),
            "{token_link}"
        );
        let by_token = rows(&b.get(&token_link).await.body);
        assert_eq!(by_token.len(), 2);
        assert!(by_token.iter().all(|r| r.contains("scim.user.create")));
        let admins = rows(
            &b.get("/console/audit?actor=console_admin&resource_type=token")
                .await
                .body,
        );
        assert_eq!(admins.len(), 1);
        assert!(admins[0].contains("token.create"));

        // By resource: alice's history.
        let hers = rows(
            &b.get(&format!("/console/audit?resource={alice}"))
                .await
                .body,
        );
        assert_eq!(hers.len(), 1);
        assert!(hers[0].contains("scim.user.create") && !hers[0].contains("Refused"));
        let groups = b.get("/console/audit?resource_type=Group").await;
        assert!(groups.body.contains("id=\"audit-empty\""));

        // By time: nothing after tomorrow, everything since yesterday.
        let tomorrow = (server.state.clock.now() + time::Duration::days(1)).date();
        let yesterday = (server.state.clock.now() - time::Duration::days(1)).date();
        let later = b.get(&format!("/console/audit?since={tomorrow}")).await;
        assert!(later.body.contains("id=\"audit-empty\""), "{}", later.body);
        let since = b
            .get(&format!("/console/audit?since={yesterday}T00%3A00"))
            .await;
        assert_eq!(rows(&since.body).len(), all.len());
        let until = b.get(&format!("/console/audit?until={yesterday}")).await;
        assert!(until.body.contains("id=\"audit-empty\""));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_go_back_and_forth_with_their_filters() {
    on_every_backend!(|server| {
        let (_, mut b, scim, _) = org_with_history(&server).await;
        for i in 0..4 {
            scim.create_user(&format!("user{i}@acme.com")).await;
        }
        // Six SCIM events; pages of two, filtered to the token's actions.
        let first = b.get("/console/audit?actor=scim_token&limit=2").await;
        let r1 = rows(&first.body);
        assert_eq!(r1.len(), 2);
        assert!(href_of(&first.body, "audit-newer").is_none());
        let older = href_of(&first.body, "audit-older").expect("an older page");
        assert!(
            older.contains("actor=scim_token") && older.contains("before="),
            "{older}"
        );
        let second = b.get(&older).await;
        let third = b
            .get(&href_of(&second.body, "audit-older").expect("a third page"))
            .await;
        assert_eq!(rows(&third.body).len(), 2);
        assert!(
            href_of(&third.body, "audit-older").is_none(),
            "six events fill three pages exactly: {}",
            third.body
        );
        // Forward again lands on the same pages.
        let back = b
            .get(&href_of(&third.body, "audit-newer").expect("a newer page"))
            .await;
        assert_eq!(rows(&back.body), rows(&second.body));
        let front = b.get(&href_of(&back.body, "audit-newer").unwrap()).await;
        assert_eq!(rows(&front.body), r1);
        assert!(href_of(&front.body, "audit-newer").is_none());
        let all: Vec<String> = [r1, rows(&second.body), rows(&third.body)].concat();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 6, "no event twice, none missing");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_filters_are_explained_never_a_500_and_signed_out_is_sent_to_sign_in() {
    on_every_backend!(|server| {
        let (_, mut b, _, _) = org_with_history(&server).await;
        let long = "a".repeat(600);
        for q in [
            "actor=root",
            "actor=scim_token%3A%27%3B--",
            "outcome=maybe",
            "since=yesterday",
            "until=2026-13-40",
            "before=-3",
            "after=%00",
            "limit=0",
            "limit=99999999999999999999",
            "colour=red",
            &format!("resource={long}"),
            "resource=%FF%FE",
            "since=%E2%80%AE",
        ] {
            let p = b.get(&format!("/console/audit?{q}")).await;
            assert!(
                p.status == 200 || p.status == 400,
                "{q}: {} {}",
                p.status,
                p.body
            );
            if p.status == 400 {
                assert_console_headers(&p);
            }
        }
        assert_eq!(b.get("/console/audit?actor=root").await.status, 400);
        assert!(b
            .get("/console/audit?outcome=maybe")
            .await
            .body
            .contains("outcome must be succeeded or refused"));
        // A well-formed id that matches nothing is an empty page.
        let none = b.get("/console/audit?actor=scim_token%3A%27%3B--").await;
        assert!(none.body.contains("id=\"audit-empty\""));

        let mut stranger = Browser::new(&server);
        let p = stranger.get("/console/audit").await;
        assert_eq!((p.status, p.location()), (303, "/console/login"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_organizations_events_never_show() {
    on_every_backend!(|server| {
        let (_, mut a, _, _) = org_with_history(&server).await;
        let before = rows(&a.get("/console/audit?limit=1000").await.body);
        let (_, _, other_scim, _) = org_with_history(&server).await;
        let bob = other_scim.create_user("bob-from-b@acme.com").await;
        let p = a.get("/console/audit?limit=1000").await;
        assert_eq!(rows(&p.body), before);
        assert!(!p.body.contains("bob-from-b") && !p.body.contains(&bob));
        let p = a.get(&format!("/console/audit?resource={bob}")).await;
        assert!(p.body.contains("id=\"audit-empty\""));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_takes_the_same_filters() {
    on_every_backend!(|server| {
        let (slug, _, _, alice) = org_with_history(&server).await;
        let key = server
            .state
            .admin
            .create_admin_key(Some("test"))
            .await
            .unwrap()
            .1;
        let http = reqwest::Client::new();
        let get = |q: String| {
            let (http, key) = (http.clone(), key.clone());
            let url = format!("{}/api/v1/orgs/{slug}/audit?{q}", server.base_url);
            async move {
                let r = http.get(url).bearer_auth(key).send().await.unwrap();
                let status = r.status().as_u16();
                let ct = r.headers()["content-type"].to_str().unwrap().to_string();
                (status, ct, r.json::<serde_json::Value>().await.unwrap())
            }
        };
        let (status, _, refused) = get("outcome=refused".into()).await;
        assert_eq!(status, 200);
        let refused = refused.as_array().unwrap();
        assert_eq!(refused.len(), 1);
        assert!(refused[0]["detail"].as_str().unwrap().contains("other.com"));
        let (_, _, hers) = get(format!("resource={alice}&actor=scim_token")).await;
        assert_eq!(hers.as_array().unwrap().len(), 1);
        let (status, ct, problem) = get("since=yesterday".into()).await;
        assert_eq!(status, 400);
        assert_eq!(ct, "application/problem+json");
        assert!(problem["detail"].as_str().unwrap().contains("since"));
    });
}
