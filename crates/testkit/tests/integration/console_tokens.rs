//! The console's SCIM tokens page as a browser uses it: generate (shown once), use it over
//! SCIM, list, edit domains, revoke after confirmation, CSRF, odd input, and isolation
//! between organizations.

use super::browser::{assert_console_headers, signed_in_admin, Browser, Page};
use directory::query::AuditQuery;
use testkit::on_every_backend;
use testkit::server::{ScimClient, TestServer};

/// The text of the element with `id` (the token and base URL are plain text in a `code`).
fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find('<').unwrap()].to_string()
}

/// The id of the first token linked from the list.
fn first_token_id(list: &Page) -> String {
    let at = list
        .body
        .find("href=\"/console/tokens/")
        .unwrap_or_else(|| panic!("no token link in {}", list.body));
    let rest = &list.body[at + "href=\"/console/tokens/".len()..];
    rest[..rest.find('/').unwrap()].to_string()
}

/// Generates a token through the form; the page that shows it, and its secret.
async fn generate(b: &mut Browser, name: &str, domains: &str) -> (Page, String) {
    let list = b.get("/console/tokens").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let csrf = list.csrf();
    let p = b
        .post(
            "/console/tokens",
            &[("csrf", &csrf), ("name", name), ("domains", domains)],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let secret = text_of(&p, "scim-token");
    (p, secret)
}

fn scim(server: &TestServer, secret: &str) -> ScimClient {
    server.client(secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generate_use_list_edit_and_revoke_a_token() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;

        // The overview links the page; the empty list offers the labelled form.
        let overview = b.get("/console").await;
        assert!(overview.body.contains("href=\"/console/tokens\""));
        let list = b.get("/console/tokens").await;
        assert_console_headers(&list);
        assert!(list.body.contains("No tokens yet"), "{}", list.body);
        assert!(list.body.contains("<label for=\"name\">"));
        assert!(list.body.contains("<label for=\"domains\">"));

        // Generated: shown once with the SCIM base URL, a copy button and the script.
        let (shown, secret) = generate(&mut b, "okta-prod", "acme.com,\n acme.io").await;
        assert_console_headers(&shown);
        assert!(secret.starts_with("pcs_"), "{secret}");
        assert_eq!(
            text_of(&shown, "scim-base"),
            format!("{}/scim/v2", server.base_url)
        );
        assert!(shown.body.contains("data-copy=\"scim-token\""));
        assert!(shown
            .body
            .contains("<script src=\"/console/static/console.js\">"));
        assert!(shown.headers.get("location").is_none());

        // It works over SCIM for its domains only.
        let client = scim(&server, &secret);
        assert_eq!(client.get("/Users").await.status, 200);
        let user = ScimClient::okta_user("ann@acme.io", "Ann", "Lee", "1");
        assert_eq!(client.post("/Users", &user).await.status, 201);
        let other = ScimClient::okta_user("bob@other.com", "Bob", "Ray", "2");
        assert_eq!(client.post("/Users", &other).await.status, 403);

        // The list shows name, prefix and domains, never the token.
        let list = b.get("/console/tokens").await;
        assert!(list.body.contains("okta-prod"));
        assert!(list.body.contains(&secret[..8]), "{}", list.body);
        assert!(list.body.contains("acme.com, acme.io"));
        assert!(!list.body.contains(&secret));
        let id = first_token_id(&list);

        // Edit domains: the form shows the current list; saving goes back to the list.
        let path = format!("/console/tokens/{id}/domains");
        let form = b.get(&path).await;
        assert_eq!(form.status, 200, "{}", form.body);
        assert!(!form.body.contains(&secret));
        let csrf = form.csrf();
        let p = b
            .post(&path, &[("csrf", &csrf), ("domains", "other.com acme.io")])
            .await;
        assert_eq!((p.status, p.location()), (303, "/console/tokens"));
        assert!(!p.location().contains(&secret));
        assert_eq!(client.post("/Users", &other).await.status, 201);

        // Revoke: the confirmation says what stops working; the POST goes back with a notice.
        let path = format!("/console/tokens/{id}/revoke");
        let confirm = b.get(&path).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        assert!(confirm.body.contains("refused"), "{}", confirm.body);
        let csrf = confirm.csrf();
        let p = b.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(p.status, 303, "{}", p.body);
        let back = b.get(p.location()).await;
        assert!(back.body.contains("The token is revoked"), "{}", back.body);
        assert!(!back.body.contains(&secret));
        client.get("/Users").await.assert_scim_error(401, None);

        // A revoked token cannot be revoked or edited again.
        assert_eq!(b.get(&path).await.status, 409);

        // The audit log names the console admin as the actor.
        let org = server.state.admin.org(&slug).await.unwrap();
        let events = server
            .state
            .admin
            .audit(
                &org,
                &AuditQuery {
                    operation_prefix: Some("token.".into()),
                    limit: 100,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        let ops: Vec<_> = events
            .iter()
            .map(|e| (e.event.operation.as_str(), e.event.actor_kind.as_str()))
            .collect();
        for op in ["token.create", "token.domains", "token.revoke"] {
            assert!(ops.contains(&(op, "console_admin")), "{ops:?}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_token_form_checks_csrf() {
    on_every_backend!(|server| {
        let (_, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let (_, secret) = generate(&mut b, "okta", "acme.com").await;
        let id = first_token_id(&b.get("/console/tokens").await);
        let fields = [("name", "x"), ("domains", "acme.com")];
        for path in [
            "/console/tokens".to_string(),
            format!("/console/tokens/{id}/domains"),
            format!("/console/tokens/{id}/revoke"),
        ] {
            let p = b.post(&path, &fields).await;
            assert_eq!(p.status, 403, "{path}: {}", p.body);
            let mut wrong = fields.to_vec();
            wrong.push(("csrf", "csrf_wrong"));
            let p = b.post(&path, &wrong).await;
            assert_eq!(p.status, 403, "{path}: {}", p.body);
        }
        // Nothing changed: one token, still working, with its domain.
        assert_eq!(scim(&server, &secret).get("/Users").await.status, 200);
        let list = b.get("/console/tokens").await;
        assert_eq!(list.body.matches("/revoke\"").count(), 1, "{}", list.body);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_token_input_is_a_4xx_page_with_the_form() {
    on_every_backend!(|server| {
        let (_, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let csrf = b.get("/console/tokens").await.csrf();
        for (name, domains, says) in [
            ("", "acme.com", "Give the token a name"),
            ("okta", " , \n", "at least one email domain"),
            ("okta", "acme.com not a domain", "is not an email domain"),
            ("okta", "acme", "is not an email domain"),
        ] {
            let p = b
                .post(
                    "/console/tokens",
                    &[("csrf", &csrf), ("name", name), ("domains", domains)],
                )
                .await;
            assert_eq!(p.status, 400, "{name:?} {domains:?}: {}", p.body);
            assert!(p.body.contains(says), "{says}: {}", p.body);
            assert!(p.body.contains("<form"), "{}", p.body);
        }
        // An odd query string is ignored, not refused.
        let p = b.get("/console/tokens?revoked=%ZZ&&=").await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(!p.body.contains("The token is revoked"));

        // `*` is accepted when typed.
        let (_, _) = generate(&mut b, "any", "*").await;
        let id = first_token_id(&b.get("/console/tokens").await);
        let path = format!("/console/tokens/{id}/domains");
        let p = b.post(&path, &[("csrf", &csrf), ("domains", "")]).await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("at least one email domain"), "{}", p.body);
        let p = b.post(&path, &[("csrf", &csrf), ("domains", "a..b")]).await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("<textarea"), "{}", p.body);

        // Ids that are not a UUID, or no token of ours: 404 pages on every address.
        let unknown = uuid::Uuid::new_v4().to_string();
        for id in ["not-a-uuid", "%00", "%FF%FE", unknown.as_str()] {
            for action in ["domains", "revoke"] {
                let path = format!("/console/tokens/{id}/{action}");
                assert_eq!(b.get(&path).await.status, 404, "{path}");
                let p = b
                    .post(&path, &[("csrf", &csrf), ("domains", "acme.com")])
                    .await;
                assert_eq!(p.status, 404, "{path}: {}", p.body);
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_organizations_admin_gets_404() {
    on_every_backend!(|server| {
        let (_, mut owner) = signed_in_admin(&server, "it@acme.com").await;
        let (_, secret) = generate(&mut owner, "okta", "acme.com").await;
        let id = first_token_id(&owner.get("/console/tokens").await);

        let (_, mut other) = signed_in_admin(&server, "it@other.com").await;
        let list = other.get("/console/tokens").await;
        assert!(!list.body.contains(&id), "{}", list.body);
        assert!(list.body.contains("No tokens yet"));
        let csrf = list.csrf();
        for action in ["domains", "revoke"] {
            let path = format!("/console/tokens/{id}/{action}");
            assert_eq!(other.get(&path).await.status, 404, "{path}");
            let p = other
                .post(&path, &[("csrf", &csrf), ("domains", "*")])
                .await;
            assert_eq!(p.status, 404, "{path}: {}", p.body);
        }
        // Untouched: still working, domains unchanged.
        let client = scim(&server, &secret);
        assert_eq!(client.get("/Users").await.status, 200);
        let user = ScimClient::okta_user("x@other.com", "X", "Y", "1");
        assert_eq!(client.post("/Users", &user).await.status, 403);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signed_out_token_pages_send_to_login() {
    on_every_backend!(|server| {
        let mut b = Browser::new(&server);
        let id = uuid::Uuid::new_v4();
        for path in [
            "/console/tokens".to_string(),
            format!("/console/tokens/{id}/domains"),
            format!("/console/tokens/{id}/revoke"),
        ] {
            let p = b.get(&path).await;
            assert_eq!((p.status, p.location()), (303, "/console/login"), "{path}");
            // A form without a token is refused before anything else.
            assert_eq!(b.post(&path, &[("name", "x")]).await.status, 403, "{path}");
        }
        // The copy-button script is served as a script, from our own origin.
        let js = b.get("/console/static/console.js").await;
        assert_eq!(js.status, 200);
        assert!(js.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert!(js.body.contains("data-copy"));
    });
}
