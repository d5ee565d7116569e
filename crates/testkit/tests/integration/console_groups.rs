//! Groups in the console and the admin API: local groups created, renamed, their members
//! changed, deleted; every change to a SCIM-managed or handed-over group refused (409 with the
//! reason) on both surfaces; hand over, then the IdP links the group over SCIM; members in
//! pages; other organizations' groups are 404; CSRF; odd input is never a 500.

use super::browser::{assert_console_headers, signed_in_admin, Browser, Page};
use directory::local_groups::{HANDED_OVER_REASON, SCIM_MANAGED_REASON};
use directory::query::AuditQuery;
use serde_json::{json, Value};
use testkit::on_every_backend;
use testkit::server::{ScimClient, TestServer};

/// maud escapes these in text; the reasons are compared as the page shows them.
fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
    slug: String,
}

struct ApiResp {
    status: u16,
    content_type: String,
    body: Value,
}

impl Api {
    async fn new(server: &TestServer, slug: &str) -> Api {
        let (_, key) = server
            .state
            .admin
            .create_admin_key(Some("groups-test"))
            .await
            .unwrap();
        Api {
            http: server.http.clone(),
            base: format!("{}/api/v1/orgs/{slug}", server.base_url),
            key,
            slug: slug.to_string(),
        }
    }

    async fn send(&self, method: &str, path: &str, body: Option<&str>) -> ApiResp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = res.text().await.unwrap();
        assert_ne!(status, 500, "a 500: {text}");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        ApiResp {
            status,
            content_type,
            body,
        }
    }

    async fn get(&self, path: &str) -> ApiResp {
        self.send("GET", path, None).await
    }

    async fn json(&self, method: &str, path: &str, body: &Value) -> ApiResp {
        self.send(method, path, Some(&body.to_string())).await
    }

    /// Every member id of a group, page after page.
    async fn all_members(&self, group: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/groups/{group}/members?cursor={c}"),
                None => format!("/groups/{group}/members"),
            };
            let r = self.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.body);
            for m in r.body["members"].as_array().unwrap() {
                out.push(m["id"].as_str().unwrap().to_string());
            }
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        out
    }
}

/// The id of the group a 303 after a console form points at.
fn group_id_from(location: &str) -> String {
    let rest = location
        .strip_prefix("/console/groups/")
        .unwrap_or_else(|| panic!("not a group page: {location}"));
    rest.split(['?', '/']).next().unwrap().to_string()
}

fn count(page: &Page, needle: &str) -> usize {
    page.body.matches(needle).count()
}

/// A user created over SCIM: its id.
async fn scim_user(scim: &ScimClient, user_name: &str) -> String {
    scim.create_user(user_name).await
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Created by the IdP over SCIM.
    Scim,
    /// A local group handed over to the IdP, not yet linked.
    HandedOver,
}

#[derive(Clone, Copy, Debug)]
enum Change {
    Rename,
    AddMember,
    RemoveMember,
    Delete,
    HandOver,
}

struct Fixture {
    slug: String,
    browser: Browser,
    api: Api,
    group: String,
    member: String,
    other_user: String,
}

async fn fixture(server: &TestServer, kind: Kind) -> Fixture {
    let (slug, browser) = signed_in_admin(server, "it@acme.com").await;
    let scim = server.token_for(&slug, &["acme.com"]).await;
    let member = scim_user(&scim, "ann@acme.com").await;
    scim_user(&scim, "bob@acme.com").await;
    let api = Api::new(server, &slug).await;
    let group = match kind {
        Kind::Scim => {
            let g = scim.create_group("Engineering").await;
            let r = scim
                .patch(
                    &format!("/Groups/{g}"),
                    &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]}),
                )
                .await;
            assert!(r.status == 200 || r.status == 204, "{}", r.body);
            g
        }
        Kind::HandedOver => {
            let r = api
                .json(
                    "POST",
                    "/groups",
                    &json!({"displayName": "Engineering", "members": ["ann@acme.com"]}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            let g = r.body["id"].as_str().unwrap().to_string();
            let r = api
                .send("POST", &format!("/groups/{g}/handover"), None)
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["source"], "handed_over");
            g
        }
    };
    Fixture {
        slug,
        browser,
        api,
        group,
        member,
        other_user: "bob@acme.com".into(),
    }
}

fn reason(kind: Kind) -> &'static str {
    match kind {
        Kind::Scim => SCIM_MANAGED_REASON,
        Kind::HandedOver => HANDED_OVER_REASON,
    }
}

/// The group is as the fixture made it: same name, same one member, still there.
async fn assert_unchanged(fx: &Fixture, kind: Kind) {
    let r = fx.api.get(&format!("/groups/{}", fx.group)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["displayName"], "Engineering");
    assert_eq!(r.body["read_only"], true);
    assert_eq!(r.body["read_only_reason"], reason(kind));
    assert_eq!(
        fx.api.all_members(&fx.group).await,
        std::slice::from_ref(&fx.member)
    );
}

async fn refused_in_console(server: &TestServer, kind: Kind, change: Change) {
    let mut fx = fixture(server, kind).await;
    let url = format!("/console/groups/{}", fx.group);
    let page = fx.browser.get(&url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    // Read-only with the reason, and no form to change it.
    assert!(page.body.contains("id=\"managed-by-idp\""), "{}", page.body);
    assert!(
        page.body.contains(&html_escaped(reason(kind))),
        "{}",
        page.body
    );
    for form in [
        "rename-form",
        "add-members-form",
        "remove-members-form",
        "handover-link",
        "delete-link",
    ] {
        assert!(!page.body.contains(form), "{form} on a read-only group");
    }
    let csrf = page.csrf();
    let (path, fields): (String, Vec<(&str, String)>) = match change {
        Change::Rename => (format!("{url}/rename"), vec![("name", "Renamed".into())]),
        Change::AddMember => (
            format!("{url}/members/add"),
            vec![("people", fx.other_user.clone())],
        ),
        Change::RemoveMember => (
            format!("{url}/members/remove"),
            vec![("member", fx.member.clone())],
        ),
        Change::Delete => (format!("{url}/delete"), vec![]),
        Change::HandOver => (format!("{url}/handover"), vec![]),
    };
    // The confirmation pages are refused too, before anyone is asked to confirm.
    if matches!(change, Change::Delete | Change::HandOver) {
        let p = fx.browser.get(&path).await;
        assert_eq!(p.status, 409, "{}", p.body);
        assert!(p.body.contains(&html_escaped(reason(kind))));
    }
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    form.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
    let p = fx.browser.post(&path, &form).await;
    assert_eq!(p.status, 409, "{change:?}: {}", p.body);
    assert_console_headers(&p);
    assert!(p.body.contains("id=\"managed-by-idp\""), "{}", p.body);
    assert!(p.body.contains(&html_escaped(reason(kind))), "{}", p.body);
    assert_unchanged(&fx, kind).await;
    // The refusal is in the audit log with its reason.
    let org = server.state.admin.org(&fx.slug).await.unwrap();
    let events = server
        .state
        .admin
        .audit(
            &org,
            &AuditQuery {
                operation_prefix: Some("group.".into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| e.event.status == 409
            && e.event.detail.as_deref() == Some(reason(kind))
            && e.event.actor_kind == "console_admin"),
        "{events:?}"
    );
}

async fn refused_in_api(server: &TestServer, kind: Kind, change: Change) {
    let fx = fixture(server, kind).await;
    let g = &fx.group;
    let r = match change {
        Change::Rename => {
            fx.api
                .json(
                    "PATCH",
                    &format!("/groups/{g}"),
                    &json!({"displayName": "Renamed"}),
                )
                .await
        }
        Change::AddMember => {
            fx.api
                .json(
                    "POST",
                    &format!("/groups/{g}/members"),
                    &json!({"members": [fx.other_user]}),
                )
                .await
        }
        Change::RemoveMember => {
            fx.api
                .send(
                    "DELETE",
                    &format!("/groups/{g}/members/{}", fx.member),
                    None,
                )
                .await
        }
        Change::Delete => fx.api.send("DELETE", &format!("/groups/{g}"), None).await,
        Change::HandOver => {
            fx.api
                .send("POST", &format!("/groups/{g}/handover"), None)
                .await
        }
    };
    assert_eq!(r.status, 409, "{change:?}: {}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["status"], 409);
    assert_eq!(r.body["detail"], reason(kind));
    assert_unchanged(&fx, kind).await;
}

macro_rules! refusal_tests {
    ($($name:ident: $surface:ident, $kind:expr, $change:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                on_every_backend!(|server| {
                    $surface(&server, $kind, $change).await;
                });
            }
        )*
    };
}

refusal_tests! {
    scim_group_rename_refused_in_console: refused_in_console, Kind::Scim, Change::Rename;
    scim_group_add_member_refused_in_console: refused_in_console, Kind::Scim, Change::AddMember;
    scim_group_remove_member_refused_in_console: refused_in_console, Kind::Scim, Change::RemoveMember;
    scim_group_delete_refused_in_console: refused_in_console, Kind::Scim, Change::Delete;
    scim_group_hand_over_refused_in_console: refused_in_console, Kind::Scim, Change::HandOver;
    scim_group_rename_refused_in_api: refused_in_api, Kind::Scim, Change::Rename;
    scim_group_add_member_refused_in_api: refused_in_api, Kind::Scim, Change::AddMember;
    scim_group_remove_member_refused_in_api: refused_in_api, Kind::Scim, Change::RemoveMember;
    scim_group_delete_refused_in_api: refused_in_api, Kind::Scim, Change::Delete;
    scim_group_hand_over_refused_in_api: refused_in_api, Kind::Scim, Change::HandOver;
    handed_over_group_rename_refused_in_console: refused_in_console, Kind::HandedOver, Change::Rename;
    handed_over_group_add_member_refused_in_console: refused_in_console, Kind::HandedOver, Change::AddMember;
    handed_over_group_remove_member_refused_in_console: refused_in_console, Kind::HandedOver, Change::RemoveMember;
    handed_over_group_delete_refused_in_console: refused_in_console, Kind::HandedOver, Change::Delete;
    handed_over_group_hand_over_again_refused_in_console: refused_in_console, Kind::HandedOver, Change::HandOver;
    handed_over_group_rename_refused_in_api: refused_in_api, Kind::HandedOver, Change::Rename;
    handed_over_group_add_member_refused_in_api: refused_in_api, Kind::HandedOver, Change::AddMember;
    handed_over_group_remove_member_refused_in_api: refused_in_api, Kind::HandedOver, Change::RemoveMember;
    handed_over_group_delete_refused_in_api: refused_in_api, Kind::HandedOver, Change::Delete;
    handed_over_group_hand_over_again_refused_in_api: refused_in_api, Kind::HandedOver, Change::HandOver;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_group_create_rename_add_remove_delete_in_the_console() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        let ann = scim_user(&scim, "ann@acme.com").await;
        let bob = scim_user(&scim, "bob@acme.com").await;
        let cat = scim_user(&scim, "cat@acme.com").await;

        let list = b.get("/console/groups").await;
        assert_eq!(list.status, 200, "{}", list.body);
        assert_console_headers(&list);
        assert!(list.body.contains("id=\"groups-empty\""));
        assert!(list.body.contains("href=\"/console/groups/new\""));

        let form = b.get("/console/groups/new").await;
        assert_eq!(form.status, 200);
        assert!(form.body.contains("<label for=\"group-name\">"));
        assert!(form.body.contains("<label for=\"people\">"));
        let csrf = form.csrf();

        // Unknown people and blank names are refused with the form again, nothing created.
        let p = b
            .post(
                "/console/groups/new",
                &[
                    ("csrf", &csrf),
                    ("name", "Sales"),
                    ("people", "nobody@acme.com"),
                ],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("id=\"group-error\""));
        assert!(p.body.contains("nobody@acme.com"));
        let p = b
            .post("/console/groups/new", &[("csrf", &csrf), ("name", "  ")])
            .await;
        assert_eq!(p.status, 400, "{}", p.body);

        // Created with two members named by userName and email, one of them twice.
        let p = b
            .post(
                "/console/groups/new",
                &[
                    ("csrf", &csrf),
                    ("name", "Sales"),
                    ("people", "ann@acme.com, BOB@acme.com\nann@acme.com"),
                ],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let gid = group_id_from(p.location());
        let url = format!("/console/groups/{gid}");
        let page = b.get(p.location()).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("id=\"group-result\""));
        assert!(page.body.contains("class=\"tag local\""));
        assert!(!page.body.contains("id=\"managed-by-idp\""));
        assert!(page
            .body
            .contains(&format!("href=\"/console/users/{ann}\"")));
        assert!(page
            .body
            .contains(&format!("href=\"/console/users/{bob}\"")));
        assert!(!page.body.contains(&format!("/console/users/{cat}")));
        assert!(page.body.contains("id=\"rename-form\""));
        assert!(page.body.contains("<label for=\"group-name\">"));

        // The list marks it Local; search by name prefix, any case.
        let list = b.get("/console/groups?q=sA").await;
        assert!(
            list.body.contains(&format!("href=\"{url}\"")),
            "{}",
            list.body
        );
        assert!(list.body.contains("class=\"tag local\""));
        let list = b.get("/console/groups?q=zzz").await;
        assert!(!list.body.contains(&format!("href=\"{url}\"")));

        // Rename.
        let p = b
            .post(
                &format!("{url}/rename"),
                &[("csrf", &csrf), ("name", "Sales EMEA")],
            )
            .await;
        assert_eq!(
            (p.status, p.location()),
            (303, format!("{url}?done=renamed").as_str())
        );
        let page = b.get(&url).await;
        assert!(page.body.contains("Sales EMEA"));

        // Add by userName; unknown people are a 400 with the page again.
        let p = b
            .post(
                &format!("{url}/members/add"),
                &[("csrf", &csrf), ("people", "cat@acme.com")],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let p = b
            .post(
                &format!("{url}/members/add"),
                &[("csrf", &csrf), ("people", "ghost")],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("id=\"group-error\""));
        let page = b.get(&url).await;
        assert!(page
            .body
            .contains(&format!("href=\"/console/users/{cat}\"")));

        // Remove one with its own button, two with checkboxes.
        let p = b
            .post(
                &format!("{url}/members/remove"),
                &[("csrf", &csrf), ("remove_one", &cat)],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let page = b.get(&url).await;
        assert!(!page.body.contains(&format!("/console/users/{cat}")));
        assert!(page.body.contains(&format!("/console/users/{ann}")));
        let p = b
            .post(
                &format!("{url}/members/remove"),
                &[("csrf", &csrf), ("member", &ann), ("member", &bob)],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let page = b.get(&url).await;
        assert!(page.body.contains("id=\"members-empty\""), "{}", page.body);

        // Delete after a confirmation.
        let confirm = b.get(&format!("{url}/delete")).await;
        assert_eq!(confirm.status, 200);
        assert!(confirm.body.contains("id=\"delete-confirm\""));
        let p = b.post(&format!("{url}/delete"), &[("csrf", &csrf)]).await;
        assert_eq!((p.status, p.location()), (303, "/console/groups?deleted=1"));
        assert_eq!(b.get(&url).await.status, 404);

        // Each change is audited as the console admin's.
        let org = server.state.admin.org(&slug).await.unwrap();
        let ops: Vec<String> = server
            .state
            .admin
            .audit(
                &org,
                &AuditQuery {
                    operation_prefix: Some("group.".into()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event.status == 200)
            .map(|e| e.event.operation)
            .collect();
        for op in [
            "group.create",
            "group.rename",
            "group.members.add",
            "group.members.remove",
            "group.delete",
        ] {
            assert!(ops.iter().any(|o| o == op), "{op} in {ops:?}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_group_create_rename_add_remove_delete_in_the_api() {
    on_every_backend!(|server| {
        let (slug, _b) = signed_in_admin(&server, "it@acme.com").await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        let ann = scim_user(&scim, "ann@acme.com").await;
        let bob = scim_user(&scim, "bob@acme.com").await;
        let api = Api::new(&server, &slug).await;

        let r = api
            .json(
                "POST",
                "/groups",
                &json!({"displayName": "Sales", "members": ["ann@acme.com"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["source"], "local");
        assert_eq!(r.body["read_only"], false);
        assert_eq!(r.body["scim_visible"], false);
        let g = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(api.all_members(&g).await, std::slice::from_ref(&ann));

        let r = api
            .json(
                "PATCH",
                &format!("/groups/{g}"),
                &json!({"displayName": "Sales EMEA"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["displayName"], "Sales EMEA");

        let r = api
            .json(
                "POST",
                &format!("/groups/{g}/members"),
                &json!({"members": [bob]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["added"], 1);
        let mut members = api.all_members(&g).await;
        members.sort();
        let mut expected = vec![ann.clone(), bob.clone()];
        expected.sort();
        assert_eq!(members, expected);

        let r = api
            .send("DELETE", &format!("/groups/{g}/members/{ann}"), None)
            .await;
        assert_eq!(r.status, 204);
        assert_eq!(api.all_members(&g).await, std::slice::from_ref(&bob));

        // Listed, searchable, SCIM does not see it.
        let r = api.get("/groups?q=sales").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["groups"].as_array().unwrap().len(), 1);
        let found = scim
            .get("/Groups?filter=displayName%20eq%20%22Sales%20EMEA%22")
            .await;
        assert_eq!(found.body["totalResults"], 0, "{}", found.body);

        let r = api.send("DELETE", &format!("/groups/{g}"), None).await;
        assert_eq!(r.status, 204);
        assert_eq!(api.get(&format!("/groups/{g}")).await.status, 404);
        assert_eq!(api.slug, slug);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hand_over_then_the_idp_links_and_manages_the_group() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        let ann = scim_user(&scim, "ann@acme.com").await;
        let bob = scim_user(&scim, "bob@acme.com").await;
        let api = Api::new(&server, &slug).await;
        let r = api
            .json(
                "POST",
                "/groups",
                &json!({"displayName": "IT-Admins", "members": [ann]}),
            )
            .await;
        let g = r.body["id"].as_str().unwrap().to_string();
        let url = format!("/console/groups/{g}");

        // Invisible to SCIM before.
        let filter = "/Groups?filter=displayName%20eq%20%22IT-Admins%22";
        assert_eq!(scim.get(filter).await.body["totalResults"], 0);

        // The confirmation explains what changes.
        let page = b.get(&url).await;
        assert!(page.body.contains(&format!("href=\"{url}/handover\"")));
        let confirm = b.get(&format!("{url}/handover")).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        assert!(confirm.body.contains("id=\"handover-explain\""));
        assert!(confirm.body.contains("link existing group"));
        assert!(confirm.body.contains("cannot be undone"));
        assert!(confirm.body.contains("read-only"));
        let csrf = confirm.csrf();
        let p = b.post(&format!("{url}/handover"), &[("csrf", &csrf)]).await;
        assert_eq!(
            (p.status, p.location()),
            (303, format!("{url}?done=handed-over").as_str())
        );
        let page = b.get(p.location()).await;
        assert!(
            page.body.contains("class=\"tag handover\""),
            "{}",
            page.body
        );
        assert!(page.body.contains(&html_escaped(HANDED_OVER_REASON)));
        let list = b.get("/console/groups").await;
        assert!(list.body.contains("class=\"tag handover\""));

        // SCIM sees it, with its members, and links it with a PATCH.
        let found = scim.get(filter).await;
        assert_eq!(found.status, 200);
        assert_eq!(found.body["totalResults"], 1, "{}", found.body);
        assert_eq!(found.body["Resources"][0]["id"], g.as_str());
        let r = scim
            .patch(
                &format!("/Groups/{g}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]}]}),
            )
            .await;
        assert!(r.status == 200 || r.status == 204, "{}", r.body);

        // Now Externally Managed, with the IdP's members.
        let page = b.get(&url).await;
        assert!(page.body.contains("class=\"tag em\""), "{}", page.body);
        assert!(page.body.contains(&html_escaped(SCIM_MANAGED_REASON)));
        assert!(page.body.contains(&format!("/console/users/{bob}")));
        let r = api.get(&format!("/groups/{g}")).await;
        assert_eq!(r.body["source"], "scim");
        assert_eq!(r.body["externally_managed"], true);
        let list = b.get("/console/groups").await;
        assert!(list.body.contains("class=\"tag em\""));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn members_come_in_pages_on_both_surfaces() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        let mut ids = Vec::new();
        for i in 0..57 {
            ids.push(scim_user(&scim, &format!("u{i:02}@acme.com")).await);
        }
        let api = Api::new(&server, &slug).await;
        let r = api
            .json(
                "POST",
                "/groups",
                &json!({"displayName": "Everyone", "members": ids}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let g = r.body["id"].as_str().unwrap().to_string();

        // Console: 50, then 7, each member once.
        let url = format!("/console/groups/{g}");
        let first = b.get(&url).await;
        assert_eq!(count(&first, "href=\"/console/users/"), 50);
        assert!(first.body.contains("id=\"members-next\""));
        let at = first.body.find("id=\"members-next\" href=\"").unwrap();
        let rest = &first.body[at + "id=\"members-next\" href=\"".len()..];
        let next = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
        let second = b.get(&next).await;
        assert_eq!(second.status, 200, "{}", second.body);
        assert_eq!(count(&second, "href=\"/console/users/"), 7);
        assert!(!second.body.contains("id=\"members-next\""));
        assert!(second.body.contains("id=\"members-first\""));
        let mut seen: Vec<&str> = Vec::new();
        for p in [&first, &second] {
            for part in p.body.split("href=\"/console/users/").skip(1) {
                seen.push(&part[..36]);
            }
        }
        let mut seen: Vec<String> = seen.into_iter().map(str::to_string).collect();
        seen.sort();
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(seen, expected);

        // API: the same with a smaller page.
        let r = api.get(&format!("/groups/{g}/members?limit=20")).await;
        assert_eq!(r.body["members"].as_array().unwrap().len(), 20);
        assert!(r.body["next_cursor"].is_string());
        let mut all = api.all_members(&g).await;
        all.sort();
        assert_eq!(all, expected);

        // Group list pages too.
        for i in 0..3 {
            let r = api
                .json(
                    "POST",
                    "/groups",
                    &json!({"displayName": format!("Team {i}")}),
                )
                .await;
            assert_eq!(r.status, 201);
        }
        let r = api.get("/groups?limit=2").await;
        assert_eq!(r.body["groups"].as_array().unwrap().len(), 2);
        let c = r.body["next_cursor"].as_str().unwrap().to_string();
        let r2 = api.get(&format!("/groups?limit=2&cursor={c}")).await;
        assert_eq!(r2.body["groups"].as_array().unwrap().len(), 2);
        assert!(r2.body["next_cursor"].is_null());
        assert_ne!(r.body["groups"][0]["id"], r2.body["groups"][0]["id"]);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_organizations_group_is_not_found() {
    on_every_backend!(|server| {
        let (_, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let (other_slug, _other) = signed_in_admin(&server, "it@other.com").await;
        let other_api = Api::new(&server, &other_slug).await;
        let r = other_api
            .json("POST", "/groups", &json!({"displayName": "Theirs"}))
            .await;
        let g = r.body["id"].as_str().unwrap().to_string();
        let url = format!("/console/groups/{g}");

        let page = b.get("/console/groups").await;
        assert!(!page.body.contains(&g));
        let csrf = page.csrf();
        for path in [
            url.clone(),
            format!("{url}/delete"),
            format!("{url}/handover"),
        ] {
            assert_eq!(b.get(&path).await.status, 404, "{path}");
        }
        for (path, field) in [
            (format!("{url}/rename"), ("name", "Mine")),
            (format!("{url}/members/add"), ("people", "x@acme.com")),
            (format!("{url}/members/remove"), ("member", g.as_str())),
            (format!("{url}/delete"), ("x", "")),
            (format!("{url}/handover"), ("x", "")),
        ] {
            let p = b.post(&path, &[("csrf", &csrf), field]).await;
            assert_eq!(p.status, 404, "{path}: {}", p.body);
        }

        // The API of my organization does not reach it either.
        let (mine, _) = server.org_with_token(&["acme.com"]).await;
        let api = Api::new(&server, &mine).await;
        assert_eq!(api.get(&format!("/groups/{g}")).await.status, 404);
        assert_eq!(api.get(&format!("/groups/{g}/members")).await.status, 404);
        let r = api
            .json(
                "PATCH",
                &format!("/groups/{g}"),
                &json!({"displayName": "Mine"}),
            )
            .await;
        assert_eq!(r.status, 404);
        assert_eq!(
            api.send("DELETE", &format!("/groups/{g}"), None)
                .await
                .status,
            404
        );
        assert_eq!(
            api.send("POST", &format!("/groups/{g}/handover"), None)
                .await
                .status,
            404
        );
        let r = other_api.get(&format!("/groups/{g}")).await;
        assert_eq!(r.body["displayName"], "Theirs");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_group_form_refuses_a_missing_or_wrong_csrf_token() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let api = Api::new(&server, &slug).await;
        let r = api
            .json("POST", "/groups", &json!({"displayName": "Sales"}))
            .await;
        let g = r.body["id"].as_str().unwrap().to_string();
        let url = format!("/console/groups/{g}");
        let forms = [
            "/console/groups/new".to_string(),
            format!("{url}/rename"),
            format!("{url}/members/add"),
            format!("{url}/members/remove"),
            format!("{url}/delete"),
            format!("{url}/handover"),
        ];
        for path in &forms {
            let fields = [
                ("name", "X"),
                ("people", "a@acme.com"),
                ("member", g.as_str()),
            ];
            let p = b.post(path, &fields).await;
            assert_eq!(p.status, 403, "missing csrf on {path}");
            let mut wrong = vec![("csrf", "csrf_wrong")];
            wrong.extend(fields);
            let p = b.post(path, &wrong).await;
            assert_eq!(p.status, 403, "wrong csrf on {path}");
        }
        // Nothing changed.
        let r = api.get(&format!("/groups/{g}")).await;
        assert_eq!(r.body["displayName"], "Sales");
        assert_eq!(r.body["source"], "local");
        assert_eq!(
            api.get("/groups").await.body["groups"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_input_is_a_clear_refusal_never_a_500() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let api = Api::new(&server, &slug).await;
        let r = api
            .json("POST", "/groups", &json!({"displayName": "Sales"}))
            .await;
        let g = r.body["id"].as_str().unwrap().to_string();
        let url = format!("/console/groups/{g}");
        let csrf = b.get("/console/groups").await.csrf();

        // Console: odd ids are 404, odd cursors 400, odd query strings ignored.
        for path in [
            "/console/groups/not-a-uuid",
            "/console/groups/%FF%FE",
            "/console/groups/00000000-0000-0000-0000-000000000000",
            "/console/groups/not-a-uuid/delete",
        ] {
            let p = b.get(path).await;
            assert_eq!(p.status, 404, "{path}: {}", p.body);
        }
        assert_eq!(b.get("/console/groups?cursor=%%%").await.status, 400);
        assert_eq!(b.get("/console/groups?cursor=AAAA").await.status, 400);
        assert_eq!(b.get(&format!("{url}?cursor=zzz")).await.status, 400);
        assert_eq!(b.get("/console/groups?q=%FF&x&&=").await.status, 200);
        assert_eq!(b.get("/console/groups?q=%00").await.status, 200);
        assert_eq!(b.get("/console/groups?q=Sa%00").await.status, 200);
        assert_eq!(b.get(&format!("{url}?done=%3Cscript%3E")).await.status, 200);
        let long = "x".repeat(300);
        assert_eq!(
            b.get(&format!("/console/groups?q={long}")).await.status,
            200
        );

        // Console forms: bad values are 400 pages.
        for (path, fields) in [
            (format!("{url}/rename"), vec![("name", "")]),
            (format!("{url}/rename"), vec![("name", "a\nb")]),
            (format!("{url}/rename"), vec![("name", long.as_str())]),
            (format!("{url}/members/add"), vec![("people", "")]),
            (format!("{url}/members/add"), vec![("people", "\u{0}")]),
            (
                format!("{url}/members/remove"),
                vec![("member", "not-a-uuid")],
            ),
            (format!("{url}/members/remove"), vec![]),
            ("/console/groups/new".to_string(), vec![("name", "\u{7}")]),
        ] {
            let mut form = vec![("csrf", csrf.as_str())];
            form.extend(fields);
            let p = b.post(&path, &form).await;
            assert_eq!(p.status, 400, "{path} {form:?}: {}", p.body);
        }
        let mut raw = format!("csrf={csrf}&name=").into_bytes();
        raw.extend([0xff, 0xfe, b'%', b'z']);
        let p = b.post_raw(&format!("{url}/rename"), raw).await;
        assert!(p.status < 500, "{}", p.status);
        let big = vec![b'a'; 64 * 1024];
        let p = b.post_raw(&format!("{url}/members/add"), big).await;
        assert!((400..500).contains(&p.status), "{}", p.status);

        // API: bad JSON, unknown fields, bad ids, cursors and limits.
        for (method, path, body) in [
            ("POST", "/groups".to_string(), "{"),
            ("POST", "/groups".to_string(), "{\"displayName\": 5}"),
            (
                "POST",
                "/groups".to_string(),
                "{\"displayName\": \"x\", \"bogus\": 1}",
            ),
            ("POST", "/groups".to_string(), "{\"displayName\": \"\"}"),
            (
                "POST",
                "/groups".to_string(),
                "{\"displayName\": \"x\", \"members\": [\"ghost\"]}",
            ),
            ("PATCH", format!("/groups/{g}"), "[]"),
            ("POST", format!("/groups/{g}/members"), "{\"members\": []}"),
            (
                "POST",
                format!("/groups/{g}/members"),
                "{\"members\": \"x\"}",
            ),
        ] {
            let r = api.send(method, &path, Some(body)).await;
            assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.body);
            assert_eq!(r.content_type, "application/problem+json");
        }
        for path in [
            "/groups?cursor=%%%",
            "/groups?cursor=AAAA",
            "/groups?limit=x",
            "/groups?limit=-1",
        ] {
            let r = api.get(path).await;
            assert_eq!(r.status, 400, "{path}: {}", r.body);
        }
        assert_eq!(
            api.get(&format!("/groups/{g}/members?cursor=nope"))
                .await
                .status,
            400
        );
        assert_eq!(api.get("/groups/not-a-uuid").await.status, 404);
        let r = api.get("/groups?q=%00").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["groups"].as_array().unwrap().len(), 0);
        // The rename of non-UTF-8 bytes above stored U+FFFD in their place.
        let r = api.get("/groups?q=%EF%BF%BD").await;
        assert_eq!(r.body["groups"].as_array().unwrap().len(), 1, "{}", r.body);
        let r = api
            .send("DELETE", &format!("/groups/{g}/members/not-a-uuid"), None)
            .await;
        assert_eq!(r.status, 400);
        let r = api.get("/groups?limit=100000").await;
        assert_eq!(r.status, 200);
        let nobody = Api {
            key: "pca_wrong".into(),
            ..Api::new(&server, &slug).await
        };
        assert_eq!(nobody.get("/groups").await.status, 401);
        let r = api
            .send(
                "POST",
                "/groups",
                Some(&format!("{{\"displayName\": \"{long}\"}}")),
            )
            .await;
        assert_eq!(r.status, 400);
        // Adding the same group to itself is not possible: only people are added.
        let r = api
            .json(
                "POST",
                &format!("/groups/{g}/members"),
                &json!({"members": [g]}),
            )
            .await;
        assert_eq!(r.status, 400);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hand_over_is_refused_while_the_idp_sees_a_group_of_that_name() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let scim = server.token_for(&slug, &["acme.com"]).await;
        scim.create_group("Engineering").await;
        let api = Api::new(&server, &slug).await;
        let r = api
            .json("POST", "/groups", &json!({"displayName": "engineering"}))
            .await;
        let g = r.body["id"].as_str().unwrap().to_string();

        let r = api
            .send("POST", &format!("/groups/{g}/handover"), None)
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body["detail"]
            .as_str()
            .unwrap()
            .contains("rename this one"));
        let url = format!("/console/groups/{g}");
        let csrf = b.get(&url).await.csrf();
        let p = b.post(&format!("{url}/handover"), &[("csrf", &csrf)]).await;
        assert_eq!(p.status, 409, "{}", p.body);
        assert!(p.body.contains("id=\"group-error\""), "{}", p.body);
        assert!(p.body.contains("rename this one"));
        assert_eq!(
            api.get(&format!("/groups/{g}")).await.body["source"],
            "local"
        );

        // Renamed, it can be handed over.
        let r = api
            .json(
                "PATCH",
                &format!("/groups/{g}"),
                &json!({"displayName": "Engineering (local)"}),
            )
            .await;
        assert_eq!(r.status, 200);
        let p = b.post(&format!("{url}/handover"), &[("csrf", &csrf)]).await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(
            api.get(&format!("/groups/{g}")).await.body["source"],
            "handed_over"
        );
    });
}
