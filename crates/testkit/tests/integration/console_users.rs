//! The console's users pages and the admin API's users as a browser and an operator use them:
//! list, search, filters and keyset paging; a user's page; local users created, edited,
//! deactivated and reactivated; Externally Managed users read-only (409 on both surfaces);
//! sessions ended; CSRF; odd input; isolation between organizations.

use super::browser::{assert_console_headers, signed_in_admin, Browser, Page};
use directory::local_users::{MANAGED_BY_IDP, SCAN_LIMIT};
use directory::model::{ManagedBy, SessionRecord, UserRecord};
use directory::query::AuditQuery;
use directory::{OrgId, UserId};
use serde_json::{json, Value};
use testkit::on_every_backend;
use testkit::server::TestServer;
use time::Duration;

/// Creates a local user through the form; returns its id.
async fn create_local(b: &mut Browser, user_name: &str, display: &str, email: &str) -> String {
    let form = b.get("/console/users/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form.csrf();
    let p = b
        .post(
            "/console/users/new",
            &[
                ("csrf", &csrf),
                ("userName", user_name),
                ("displayName", display),
                ("email", email),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let loc = p.location().to_string();
    let rest = loc
        .strip_prefix("/console/users/")
        .unwrap_or_else(|| panic!("{loc}"));
    let id = rest.split('?').next().unwrap().to_string();
    assert!(rest.ends_with("?created=1"), "{loc}");
    id
}

fn href_of(page: &Page, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let at = page.body.find(&marker)?;
    let rest = &page.body[at..];
    let h = rest.find("href=\"")? + "href=\"".len();
    let rest = &rest[h..];
    Some(rest[..rest.find('"')?].replace("&amp;", "&"))
}

async fn org_id(server: &TestServer, slug: &str) -> OrgId {
    server.state.admin.org(slug).await.unwrap().id
}

async fn add_session(server: &TestServer, org: OrgId, user: &str, minutes_ago: i64) -> String {
    let now = server.state.clock.now();
    let s = SessionRecord {
        id_hash: format!("{:064x}", uuid::Uuid::new_v4().as_u128()),
        org_id: org,
        user_id: user.parse::<UserId>().unwrap(),
        created_at: now - Duration::minutes(minutes_ago),
        last_seen_at: now,
        idle_expires_at: now + Duration::minutes(30),
        absolute_expires_at: now + Duration::hours(8),
    };
    server.state.store.create_session(&s).await.unwrap();
    s.id_hash
}

async fn sessions_of(server: &TestServer, org: OrgId, user: &str) -> usize {
    server
        .state
        .store
        .user_sessions(org, user.parse().unwrap())
        .await
        .unwrap()
        .len()
}

async fn api_key(server: &TestServer) -> String {
    server
        .state
        .admin
        .create_admin_key(Some("test"))
        .await
        .unwrap()
        .1
}

async fn api(
    server: &TestServer,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut req = server
        .http
        .request(method, format!("{}/api/v1{path}", server.base_url))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = res.bytes().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ctype, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_search_filters_and_keyset_pages() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        // More than one page (50) of Externally Managed users, and two local ones.
        for i in 0..52 {
            scim.create_user(&format!("em-{i:02}@acme.com")).await;
        }
        let local = create_local(&mut b, "loc-ann@acme.com", "Ann Local", "ann@acme.com").await;
        create_local(&mut b, "loc-bob@acme.com", "Bob Local", "").await;

        let overview = b.get("/console").await;
        assert!(overview.body.contains("href=\"/console/users\""));
        let first = b.get("/console/users").await;
        assert_eq!(first.status, 200, "{}", first.body);
        assert_console_headers(&first);
        for id in ["user-search", "q", "status", "source", "users", "new-user"] {
            assert!(first.body.contains(&format!("id=\"{id}\"")), "#{id}");
        }
        assert!(first.body.contains("<label for=\"q\">"));
        assert!(first.body.contains("prefix match"));
        assert!(first.body.contains("<span class=\"tag em\""));
        assert!(first.body.contains("em-00@acme.com"));
        assert!(first.body.contains("em-49@acme.com"));
        assert!(!first.body.contains("em-50@acme.com"));
        assert!(!first.body.contains("id=\"prev-page\""));
        let next = href_of(&first, "next-page").expect("a Next link");
        assert!(next.contains("after="), "{next}");

        let second = b.get(&next).await;
        assert_eq!(second.status, 200, "{}", second.body);
        assert!(second.body.contains("em-50@acme.com"));
        assert!(second.body.contains("loc-bob@acme.com"));
        assert!(second
            .body
            .contains("<span class=\"tag local\">Local</span>"));
        assert!(!second.body.contains("em-00@acme.com"));
        assert!(!second.body.contains("id=\"next-page\""));
        let prev = href_of(&second, "prev-page").expect("a Previous link");
        let back = b.get(&prev).await;
        assert_eq!(back.status, 200);
        assert!(back.body.contains("em-00@acme.com") && back.body.contains("em-49@acme.com"));
        assert!(!back.body.contains("em-50@acme.com"));

        // Search: userName, display name and email prefixes, any case.
        let found = b.get("/console/users?q=EM-1").await;
        assert_eq!(found.status, 200);
        assert!(found.body.contains("em-10@acme.com") && found.body.contains("em-19@acme.com"));
        assert!(!found.body.contains("em-20@acme.com"));
        assert!(!found.body.contains("id=\"next-page\""));
        let by_display = b.get("/console/users?q=ann+loc").await;
        assert!(by_display.body.contains("loc-ann@acme.com"));
        assert!(!by_display.body.contains("loc-bob@acme.com"));
        let by_email = b.get("/console/users?q=ann%40acme").await;
        assert!(by_email.body.contains("loc-ann@acme.com"));
        let none = b.get("/console/users?q=zzz").await;
        assert!(none.body.contains("id=\"no-users\""));

        // Filters: source, status, and both with a search.
        let locals = b.get("/console/users?source=local").await;
        assert!(
            locals.body.contains("loc-ann@acme.com") && locals.body.contains("loc-bob@acme.com")
        );
        assert!(!locals.body.contains("tag em"));
        let em = b.get("/console/users?source=scim&q=loc").await;
        assert!(em.body.contains("id=\"no-users\""));
        let csrf = b
            .get(&format!("/console/users/{local}/deactivate"))
            .await
            .csrf();
        let p = b
            .post(
                &format!("/console/users/{local}/deactivate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let off = b.get("/console/users?status=deactivated").await;
        assert!(off.body.contains("loc-ann@acme.com"));
        assert!(!off.body.contains("loc-bob@acme.com"));
        assert!(off.body.contains("Deactivated"));
        let on = b.get("/console/users?status=active&source=local").await;
        assert!(on.body.contains("loc-bob@acme.com") && !on.body.contains("loc-ann@acme.com"));
        // The filters survive paging links.
        let paged = b.get("/console/users?status=active&source=scim").await;
        let next = href_of(&paged, "next-page").expect("a Next link");
        assert!(
            next.contains("status=active") && next.contains("source=scim"),
            "{next}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_user_create_edit_deactivate_reactivate() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_id(&server, &slug).await;
        let id = create_local(&mut b, "Jane@Acme.com", "Jane", "jane@acme.com").await;
        let page = b.get(&format!("/console/users/{id}?created=1")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for el in [
            "notice",
            "user-attributes",
            "edit-user",
            "deactivate-user",
            "user-history",
        ] {
            assert!(page.body.contains(&format!("id=\"{el}\"")), "#{el}");
        }
        assert!(page.body.contains("<span class=\"tag local\">Local</span>"));
        assert!(!page.body.contains("managed-by-idp"));
        assert!(page.body.contains("console.user.create"));

        // userName is unique without regard to case.
        let csrf = page.csrf();
        let taken = b
            .post(
                "/console/users/new",
                &[
                    ("csrf", &csrf),
                    ("userName", "jane@ACME.com"),
                    ("displayName", ""),
                    ("email", ""),
                ],
            )
            .await;
        assert_eq!(taken.status, 409, "{}", taken.body);
        assert!(taken.body.contains("already taken"));
        assert!(taken.body.contains("id=\"form-error\""));
        let blank = b
            .post("/console/users/new", &[("csrf", &csrf), ("userName", "  ")])
            .await;
        assert_eq!(blank.status, 400);
        let bad_email = b
            .post(
                "/console/users/new",
                &[
                    ("csrf", &csrf),
                    ("userName", "x@acme.com"),
                    ("email", "not an email"),
                ],
            )
            .await;
        assert_eq!(bad_email.status, 400);

        // Edit.
        let p = b
            .post(
                &format!("/console/users/{id}"),
                &[
                    ("csrf", &csrf),
                    ("displayName", "Jane Q. Doe"),
                    ("givenName", "Jane"),
                    ("familyName", "Doe"),
                    ("emails", "jane.doe@acme.com\njane@acme.com"),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(p.location(), format!("/console/users/{id}?saved=1"));
        let page = b.get(p.location()).await;
        assert!(page.body.contains("Jane Q. Doe"));
        assert!(page.body.contains("jane.doe@acme.com, jane@acme.com"));
        assert!(page.body.contains("value=\"Doe\""));
        let bad = b
            .post(
                &format!("/console/users/{id}"),
                &[("csrf", &csrf), ("emails", "nope")],
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("id=\"form-error\""));

        // Deactivate after a confirmation: their sessions end.
        add_session(&server, org, &id, 5).await;
        add_session(&server, org, &id, 1).await;
        let confirm = b.get(&format!("/console/users/{id}/deactivate")).await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.body.contains("id=\"confirm\""));
        assert_eq!(sessions_of(&server, org, &id).await, 2);
        let p = b
            .post(
                &format!("/console/users/{id}/deactivate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 303);
        assert_eq!(sessions_of(&server, org, &id).await, 0);
        let page = b.get(p.location()).await;
        assert!(page
            .body
            .contains("<dd id=\"user-status\">Deactivated</dd>"));
        assert!(page.body.contains("id=\"reactivate-user\""));
        assert!(page.body.contains("console.user.deactivate"));

        let confirm = b.get(&format!("/console/users/{id}/reactivate")).await;
        assert_eq!(confirm.status, 200);
        let p = b
            .post(
                &format!("/console/users/{id}/reactivate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 303);
        let page = b.get(p.location()).await;
        assert!(page.body.contains("<dd id=\"user-status\">Active</dd>"));

        // The audit log names the console admin as the actor of each change.
        let events = server
            .state
            .store
            .list_audit(
                org,
                &AuditQuery {
                    resource_id: Some(id.clone()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let ops: Vec<&str> = events.iter().map(|e| e.event.operation.as_str()).collect();
        assert_eq!(
            ops,
            [
                "console.user.reactivate",
                "console.user.deactivate",
                "console.user.update",
                "console.user.create"
            ]
        );
        assert!(events.iter().all(|e| e.event.actor_kind == "console_admin"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn externally_managed_users_are_read_only_on_console_and_api() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_id(&server, &slug).await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        let id = scim.create_user("okta-user@acme.com").await;
        let gid = scim.create_group("Engineering").await;
        let r = scim
            .patch(
                &format!("/Groups/{gid}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}),
            )
            .await;
        assert!(r.status < 300, "{}", r.body);

        let page = b.get(&format!("/console/users/{id}")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!(
            "<p class=\"warning\" id=\"managed-by-idp\">{MANAGED_BY_IDP}</p>"
        )));
        assert!(page.body.contains("Externally Managed"));
        assert!(!page.body.contains("id=\"edit-user\""));
        assert!(!page.body.contains("id=\"deactivate-user\""));
        assert!(page
            .body
            .contains(&format!("href=\"/console/groups/{gid}\"")));
        assert!(page.body.contains("scim.user.create"));
        assert!(page.body.contains("ext-okta-user@acme.com"));

        // The console refuses each change with 409 and the reason.
        let csrf = page.csrf();
        for path in [
            format!("/console/users/{id}"),
            format!("/console/users/{id}/deactivate"),
            format!("/console/users/{id}/reactivate"),
        ] {
            let p = b
                .post(&path, &[("csrf", &csrf), ("displayName", "Changed")])
                .await;
            assert_eq!(p.status, 409, "{path}: {}", p.body);
            assert!(p.body.contains(MANAGED_BY_IDP), "{path}");
            let g = b.get(&path).await;
            if path.ends_with("activate") {
                assert_eq!(g.status, 409, "{path}");
                assert!(g.body.contains(MANAGED_BY_IDP));
            }
        }

        // The admin API refuses it the same way.
        let key = api_key(&server).await;
        for body in [json!({"displayName": "Changed"}), json!({"active": false})] {
            let (status, ctype, v) = api(
                &server,
                &key,
                reqwest::Method::PATCH,
                &format!("/orgs/{slug}/users/{id}"),
                Some(body),
            )
            .await;
            assert_eq!(status, 409, "{v}");
            assert_eq!(ctype, "application/problem+json");
            assert_eq!(v["detail"], MANAGED_BY_IDP);
        }
        let (status, _, v) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug}/users/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(v["externallyManaged"], true);
        assert_eq!(v["displayName"], "Test User");
        assert_eq!(v["groups"][0]["displayName"], "Engineering");
        let stored = server
            .state
            .store
            .get_user(org, id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(stored.active);
        assert_eq!(stored.display_name.as_deref(), Some("Test User"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_listed_and_ended_one_or_all() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_id(&server, &slug).await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        let id = scim.create_user("s@acme.com").await;
        let page = b.get(&format!("/console/users/{id}")).await;
        assert!(page.body.contains("id=\"no-sessions\""));
        let older = add_session(&server, org, &id, 60).await;
        let newer = add_session(&server, org, &id, 1).await;
        add_session(&server, org, &id, 30).await;
        let page = b.get(&format!("/console/users/{id}")).await;
        assert!(page.body.contains("id=\"user-sessions\""));
        assert!(page.body.contains("End this session"));
        assert!(page.body.contains("id=\"end-all-sessions\""));
        let (a, c) = (
            page.body.find(&newer).unwrap(),
            page.body.find(&older).unwrap(),
        );
        assert!(a < c, "newest first");

        // Ending an Externally Managed user's sessions is allowed: it changes no attribute.
        let csrf = page.csrf();
        let p = b
            .post(
                &format!("/console/users/{id}/sessions/end"),
                &[("csrf", &csrf), ("session", &older)],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(sessions_of(&server, org, &id).await, 2);
        assert!(server
            .state
            .store
            .session_by_hash(&older)
            .await
            .unwrap()
            .is_none());
        let again = b
            .post(
                &format!("/console/users/{id}/sessions/end"),
                &[("csrf", &csrf), ("session", &older)],
            )
            .await;
        assert_eq!(again.status, 404);

        // Another user's session cannot be ended through this user.
        let other = scim.create_user("t@acme.com").await;
        let theirs = add_session(&server, org, &other, 1).await;
        let p = b
            .post(
                &format!("/console/users/{id}/sessions/end"),
                &[("csrf", &csrf), ("session", &theirs)],
            )
            .await;
        assert_eq!(p.status, 404);
        assert_eq!(sessions_of(&server, org, &other).await, 1);

        let p = b
            .post(
                &format!("/console/users/{id}/sessions/end-all"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 303);
        assert_eq!(sessions_of(&server, org, &id).await, 0);
        assert_eq!(sessions_of(&server, org, &other).await, 1);
        let page = b.get(p.location()).await;
        assert!(page.body.contains("id=\"notice\""));
        assert!(page.body.contains("console.user.end_sessions"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_organizations_user_is_not_found() {
    on_every_backend!(|server| {
        let (slug_a, mut a) = signed_in_admin(&server, "it@acme.com").await;
        let (slug_b, mut b) = signed_in_admin(&server, "it@globex.com").await;
        let id = create_local(&mut a, "only-a@acme.com", "A", "").await;
        let org_a = org_id(&server, &slug_a).await;
        add_session(&server, org_a, &id, 1).await;

        let list = b.get("/console/users?q=only").await;
        assert!(list.body.contains("id=\"no-users\""));
        let csrf = b.get("/console/users").await.csrf();
        assert_eq!(b.get(&format!("/console/users/{id}")).await.status, 404);
        assert_eq!(
            b.get(&format!("/console/users/{id}/deactivate"))
                .await
                .status,
            404
        );
        for path in [
            format!("/console/users/{id}"),
            format!("/console/users/{id}/deactivate"),
            format!("/console/users/{id}/reactivate"),
            format!("/console/users/{id}/sessions/end-all"),
        ] {
            let p = b
                .post(&path, &[("csrf", &csrf), ("displayName", "x")])
                .await;
            assert_eq!(p.status, 404, "{path}");
        }
        assert_eq!(sessions_of(&server, org_a, &id).await, 1);

        let key = api_key(&server).await;
        let (status, ctype, _) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug_b}/users/{id}"),
            None,
        )
        .await;
        assert_eq!((status, ctype.as_str()), (404, "application/problem+json"));
        let (status, _, _) = api(
            &server,
            &key,
            reqwest::Method::PATCH,
            &format!("/orgs/{slug_b}/users/{id}"),
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!(status, 404);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_users_form_refuses_a_missing_or_wrong_csrf() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_id(&server, &slug).await;
        let id = create_local(&mut b, "c@acme.com", "C", "").await;
        let session = add_session(&server, org, &id, 1).await;
        for path in [
            "/console/users/new".to_string(),
            format!("/console/users/{id}"),
            format!("/console/users/{id}/deactivate"),
            format!("/console/users/{id}/reactivate"),
            format!("/console/users/{id}/sessions/end"),
            format!("/console/users/{id}/sessions/end-all"),
        ] {
            let fields = [("userName", "d@acme.com"), ("session", session.as_str())];
            let missing = b.post(&path, &fields).await;
            assert_eq!(missing.status, 403, "{path}");
            let wrong = b
                .post(&path, &[("csrf", "csrf_wrong"), fields[0], fields[1]])
                .await;
            assert_eq!(wrong.status, 403, "{path}");
        }
        assert_eq!(sessions_of(&server, org, &id).await, 1);
        let list = b.get("/console/users?q=d%40").await;
        assert!(list.body.contains("id=\"no-users\""));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_input_is_a_4xx_never_a_500() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let id = create_local(&mut b, "o@acme.com", "O", "").await;
        let huge = "a".repeat(5000);
        for (path, want) in [
            ("/console/users/not-a-uuid".to_string(), 404),
            ("/console/users/%FF%FE".to_string(), 404),
            ("/console/users/not-a-uuid/deactivate".to_string(), 404),
            (format!("/console/users?q={huge}"), 400),
            ("/console/users?after=abc".to_string(), 400),
            ("/console/users?before=-5".to_string(), 400),
            ("/console/users?after=1&before=5".to_string(), 400),
            ("/console/users?status=gone".to_string(), 400),
            ("/console/users?source=ldap".to_string(), 400),
            ("/console/users?after=99999999999999999999".to_string(), 400),
            ("/console/users?q=%FF%27%22%3C".to_string(), 200),
            ("/console/users?q=a%00b".to_string(), 400),
            ("/console/users?after=999999999&x=%ZZ".to_string(), 200),
            (format!("/console/users/{id}?history_before=zz"), 200),
        ] {
            let p = b.get(&path).await;
            assert_eq!(p.status, want, "{path}: {}", p.body);
        }
        let csrf = b.get("/console/users").await.csrf();
        let p = b
            .post(
                "/console/users/new",
                &[("csrf", &csrf), ("userName", &huge)],
            )
            .await;
        assert_eq!(p.status, 400);
        let p = b
            .post(
                "/console/users/new",
                &[("csrf", &csrf), ("userName", "a\u{0}b")],
            )
            .await;
        assert_eq!(p.status, 400);
        let p = b
            .post(
                "/console/users/not-a-uuid/sessions/end-all",
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 404);
        let p = b.post_raw("/console/users/new", vec![0xff; 20_000]).await;
        assert!((400..500).contains(&p.status), "{}", p.status);

        let key = api_key(&server).await;
        for (method, path, body, want) in [
            (
                reqwest::Method::GET,
                format!("/orgs/{slug}/users?after=x"),
                None,
                400,
            ),
            (
                reqwest::Method::GET,
                format!("/orgs/{slug}/users?limit=0"),
                None,
                400,
            ),
            (
                reqwest::Method::GET,
                format!("/orgs/{slug}/users?sort=x"),
                None,
                400,
            ),
            (
                reqwest::Method::GET,
                format!("/orgs/{slug}/users?q={huge}"),
                None,
                400,
            ),
            (
                reqwest::Method::GET,
                format!("/orgs/{slug}/users/not-a-uuid"),
                None,
                404,
            ),
            (
                reqwest::Method::GET,
                "/orgs/no-such-org/users".to_string(),
                None,
                404,
            ),
            (
                reqwest::Method::POST,
                format!("/orgs/{slug}/users"),
                Some(json!({"userName": 5})),
                400,
            ),
            (
                reqwest::Method::POST,
                format!("/orgs/{slug}/users"),
                Some(json!({"userName": "x@acme.com", "extra": 1})),
                400,
            ),
            (
                reqwest::Method::POST,
                format!("/orgs/{slug}/users"),
                Some(json!({"userName": "O@ACME.com"})),
                409,
            ),
            (
                reqwest::Method::PATCH,
                format!("/orgs/{slug}/users/{id}"),
                Some(json!({"emails": ["nope"]})),
                400,
            ),
            (
                reqwest::Method::PATCH,
                format!("/orgs/{slug}/users/{id}"),
                Some(json!([])),
                400,
            ),
        ] {
            let (status, ctype, v) = api(&server, &key, method, &path, body).await;
            assert_eq!(status, want, "{path}: {v}");
            assert_eq!(ctype, "application/problem+json", "{path}");
            assert!(
                v["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{path}"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_api_lists_creates_and_edits_local_users() {
    on_every_backend!(|server| {
        let (slug, _b) = signed_in_admin(&server, "it@acme.com").await;
        let key = api_key(&server).await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        scim.create_user("em@acme.com").await;
        let (status, _, created) = api(
            &server,
            &key,
            reqwest::Method::POST,
            &format!("/orgs/{slug}/users"),
            Some(
                json!({"userName": "api@acme.com", "displayName": "Api", "email": "api@acme.com"}),
            ),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["managedBy"], "local");
        assert_eq!(created["externallyManaged"], false);
        let id = created["id"].as_str().unwrap().to_string();

        let (status, _, list) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug}/users?limit=1"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(list["users"][0]["userName"], "em@acme.com");
        assert_eq!(list["users"][0]["externallyManaged"], true);
        let after = list["next_after"].as_i64().expect("a next cursor");
        let (_, _, list) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug}/users?limit=1&after={after}"),
            None,
        )
        .await;
        assert_eq!(list["users"][0]["userName"], "api@acme.com");
        assert!(list["next_after"].is_null());
        let (_, _, list) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug}/users?source=local&q=API"),
            None,
        )
        .await;
        assert_eq!(list["users"].as_array().unwrap().len(), 1);

        let (status, _, patched) = api(
            &server,
            &key,
            reqwest::Method::PATCH,
            &format!("/orgs/{slug}/users/{id}"),
            Some(json!({"displayName": "Api Person", "name": {"givenName": "Api", "familyName": "Person"},
                        "emails": ["p@acme.com"], "active": false})),
        )
        .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["displayName"], "Api Person");
        assert_eq!(patched["name"]["familyName"], "Person");
        assert_eq!(patched["emails"], json!(["p@acme.com"]));
        assert_eq!(patched["active"], false);
        let (_, _, list) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug}/users?status=deactivated"),
            None,
        )
        .await;
        assert_eq!(list["users"].as_array().unwrap().len(), 1);
        let (status, _, _) = api(
            &server,
            &key,
            reqwest::Method::GET,
            &format!("/orgs/{slug}/users"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let r = server
            .http
            .get(format!("{}/api/v1/orgs/{slug}/users", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    });
}

/// Inserts users straight through the store, `tasks` writers at a time (their order among
/// themselves is not kept).
async fn insert_users(server: &TestServer, org: OrgId, names: Vec<String>) {
    let mut tasks = Vec::new();
    for chunk in names.chunks(names.len().div_ceil(8)) {
        let (store, chunk) = (server.state.store.clone(), chunk.to_vec());
        let clock = server.state.clock.clone();
        tasks.push(tokio::spawn(async move {
            for name in chunk {
                let now = clock.now();
                let mut u = UserRecord {
                    id: UserId::new_random(),
                    org_id: org,
                    user_name: String::new(),
                    external_id: None,
                    display_name: None,
                    active: true,
                    emails: Vec::new(),
                    doc: json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": name,
                        "active": true,
                    }),
                    managed_by: ManagedBy::Scim,
                    created_at: now,
                    updated_at: now,
                    version: 1,
                };
                u.reindex();
                store.insert_user(&u).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// A broad search whose matches all sit after more than SCAN_LIMIT users that do not match:
/// the first page says how far it searched and links on instead of saying "no users", and the
/// link (and the API's `next_after` of a `partial` page) finds the matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broad_search_stops_at_its_bound_and_continues() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_id(&server, &slug).await;
        let far = (0..SCAN_LIMIT + 10).map(|i| format!("far-{i:05}@acme.com"));
        insert_users(&server, org, far.collect()).await;
        // Enough matches for the broad path (a prefix matching 2,000 users or more).
        let near = (0..2_010).map(|i| format!("near-{i:05}@acme.com"));
        insert_users(&server, org, near.collect()).await;

        let first = b.get("/console/users?q=near").await;
        assert_eq!(first.status, 200, "{}", first.body);
        let n = SCAN_LIMIT.to_string();
        let (thousands, units) = n.split_at(n.len() - 3);
        let said = format!("Searched the first {thousands},{units} users: 0 matches so far.");
        assert!(first.body.contains(&said), "{said}\n{}", first.body);
        assert!(!first.body.contains("id=\"no-users\""));
        assert!(!first.body.contains("near-"));
        let more = href_of(&first, "continue-search").expect("a Continue searching link");
        assert!(more.contains("q=near") && more.contains("after="), "{more}");

        let rest = b.get(&more).await;
        assert_eq!(rest.status, 200, "{}", rest.body);
        assert!(!rest.body.contains("id=\"continue-search\""));
        assert_eq!(rest.body.matches("class=\"user-link\"").count(), 50);
        assert_eq!(rest.body.matches(">near-").count(), 50);
        assert!(!rest.body.contains(">far-"));
        assert!(href_of(&rest, "next-page").is_some());

        // The admin API: a partial page, then the matches from its cursor.
        let key = api_key(&server).await;
        let get = |path: String| {
            let (server, key) = (&server, &key);
            async move { api(server, key, reqwest::Method::GET, &path, None).await }
        };
        let (status, _, list) = get(format!("/orgs/{slug}/users?q=near")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["partial"], true, "{list}");
        assert_eq!(list["users"].as_array().map(Vec::len), Some(0), "{list}");
        let after = list["next_after"].as_i64().expect("next_after");
        let (status, _, list) = get(format!("/orgs/{slug}/users?q=near&after={after}")).await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["partial"], false, "{list}");
        let users = list["users"].as_array().unwrap();
        assert_eq!(users.len(), 50, "{list}");
        assert!(users
            .iter()
            .all(|u| u["userName"].as_str().unwrap().starts_with("near-")));
    });
}
