//! Who a user is: identity strings refused or cleaned the same way on every surface, and a
//! SCIM token's email domains guarding every write, not only creation.

use directory::model::{Actor, ManagedBy};
use directory::query::AuditQuery;
use serde_json::{json, Value};
use testkit::on_every_backend;
use testkit::server::ScimClient;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(user_name: &str) -> Value {
    json!({"schemas": [USER], "userName": user_name, "active": true})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

async fn users_named(scim: &ScimClient, user_name: &str) -> u64 {
    let filter = format!("userName eq {}", Value::from(user_name));
    let r = scim
        .get(&format!("/Users?filter={}", urlencoding(&filter)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["totalResults"].as_u64().unwrap()
}

fn urlencoding(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn total_users(scim: &ScimClient) -> u64 {
    let r = scim.get("/Users?count=0").await;
    r.body["totalResults"].as_u64().unwrap()
}

/// A refusal that names the domain and the token's domains, as creation's does.
fn assert_domain_refusal(r: &testkit::server::Resp, domain: &str, allowed: &str) {
    assert_eq!(r.status, 403, "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("email domain {domain} is not allowed"))
            && detail.contains(&format!("may provision only {allowed}")),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_writes_only_users_inside_its_domains() {
    on_every_backend!(|server| {
        let (slug, acme) = server.org_with_token(&["acme.com"]).await;
        let other = server.token_for(&slug, &["other.com"]).await;
        let any = server.token_for(&slug, &["*"]).await;
        let org = server.state.admin.org(&slug).await.unwrap();

        let alice = acme.create_user("alice@acme.com").await;
        let bob = other.create_user("bob@other.com").await;
        // Local users (the console's), one of each domain and one without an email.
        let carol = server
            .state
            .users
            .create(org.id, "carol@other.com", None, None, &Actor::Cli)
            .await
            .unwrap()
            .id
            .to_string();
        let dave = server
            .state
            .users
            .create(org.id, "dave@acme.com", None, None, &Actor::Cli)
            .await
            .unwrap()
            .id
            .to_string();
        let plain = server
            .state
            .users
            .create(org.id, "plainname", None, None, &Actor::Cli)
            .await
            .unwrap()
            .id
            .to_string();

        // Reads see the whole organization: the IdP's look-up before a create finds the
        // user, so it never tries to make a duplicate.
        assert_eq!(acme.get(&format!("/Users/{bob}")).await.status, 200);
        assert_eq!(users_named(&acme, "bob@other.com").await, 1);

        let bob_before = any.get(&format!("/Users/{bob}")).await.body;
        // Each write class across domains is refused, with the domains named, and writes nothing.
        let deactivate = patch(json!([{"op": "replace", "path": "active", "value": false}]));
        for (what, r) in [
            (
                "PATCH",
                acme.patch(&format!("/Users/{bob}"), &deactivate).await,
            ),
            (
                "PATCH into our domain",
                acme.patch(
                    &format!("/Users/{bob}"),
                    &patch(json!([{"op": "replace", "path": "userName", "value": "bob@acme.com"}])),
                )
                .await,
            ),
            (
                "PUT",
                acme.put(&format!("/Users/{bob}"), &user("bob@other.com"))
                    .await,
            ),
            (
                "PUT into our domain",
                acme.put(&format!("/Users/{bob}"), &user("bob@acme.com"))
                    .await,
            ),
            ("DELETE", acme.delete(&format!("/Users/{bob}")).await),
        ] {
            assert_eq!(r.status, 403, "{what}: {}", r.body);
            assert_domain_refusal(&r, "other.com", "acme.com");
        }
        let bob_after = any.get(&format!("/Users/{bob}")).await.body;
        assert_eq!(bob_before, bob_after);

        // Moving one's own user out of one's domains is refused too.
        let r = acme
            .patch(
                &format!("/Users/{alice}"),
                &patch(json!([{"op": "replace", "path": "userName", "value": "alice@other.com"}])),
            )
            .await;
        assert_domain_refusal(&r, "other.com", "acme.com");
        let r = acme
            .patch(
                &format!("/Users/{alice}"),
                &patch(
                    json!([{"op": "add", "path": "emails", "value": [{"value": "a@acme.com"}]}]),
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        // Local users outside the token's domains are never taken over; inside, they are.
        for r in [
            acme.put(&format!("/Users/{carol}"), &user("carol@other.com"))
                .await,
            acme.put(&format!("/Users/{carol}"), &user("carol@acme.com"))
                .await,
            acme.patch(&format!("/Users/{carol}"), &deactivate).await,
            acme.delete(&format!("/Users/{carol}")).await,
        ] {
            assert_domain_refusal(&r, "other.com", "acme.com");
        }
        let carol_now = server.state.users.get(org.id, &carol).await.unwrap();
        assert_eq!(
            (
                carol_now.managed_by,
                carol_now.user_name.as_str(),
                carol_now.active
            ),
            (ManagedBy::Local, "carol@other.com", true)
        );
        let r = acme.patch(&format!("/Users/{plain}"), &deactivate).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be checked"));
        let r = acme
            .put(&format!("/Users/{dave}"), &user("dave@acme.com"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let dave_now = server.state.users.get(org.id, &dave).await.unwrap();
        assert_eq!(dave_now.managed_by, ManagedBy::Scim);

        // Groups: a token may not add a user of another domain, by POST, PUT or PATCH.
        let group = |name: &str, members: &[&str]| {
            json!({"schemas": [GROUP], "displayName": name,
                   "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()})
        };
        let r = acme.post("/Groups", &group("Mixed", &[&alice, &bob])).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains(&bob),
            "{}",
            r.body
        );
        assert_domain_refusal(&r, "other.com", "acme.com");
        let r = acme.post("/Groups", &group("Acme", &[&alice])).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let acme_group = r.body["id"].as_str().unwrap().to_string();
        for r in [
            acme.patch(
                &format!("/Groups/{acme_group}"),
                &patch(json!([{"op": "add", "path": "members", "value": [{"value": bob}]}])),
            )
            .await,
            acme.patch(
                &format!("/Groups/{acme_group}"),
                &patch(json!([{"op": "replace", "path": "members", "value": [{"value": carol}]}])),
            )
            .await,
            acme.patch(
                &format!("/Groups/{acme_group}"),
                &patch(json!([{"op": "add", "value": {"members": [{"value": bob}]}}])),
            )
            .await,
            acme.put(&format!("/Groups/{acme_group}"), &group("Acme", &[&bob]))
                .await,
        ] {
            assert_domain_refusal(&r, "other.com", "acme.com");
        }
        let members = acme.get(&format!("/Groups/{acme_group}")).await.body["members"].clone();
        assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
        assert_eq!(members[0]["value"], alice.as_str());
        // Adding its own users is fine.
        let r = acme
            .patch(
                &format!("/Groups/{acme_group}"),
                &patch(json!([{"op": "add", "path": "members", "value": [{"value": dave}]}])),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);

        // A `*` token is held to nothing.
        let r = any
            .post("/Groups", &group("Everyone", &[&alice, &bob, &carol]))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            any.patch(&format!("/Users/{carol}"), &deactivate)
                .await
                .status,
            200
        );
        assert_eq!(any.delete(&format!("/Users/{bob}")).await.status, 204);

        // Every refusal is in the audit log with its reason.
        let events = server
            .state
            .admin
            .audit(
                &org,
                &AuditQuery {
                    operation_prefix: Some("scim.".into()),
                    limit: 200,
                    ..AuditQuery::default()
                },
            )
            .await
            .unwrap();
        for op in [
            "scim.user.patch",
            "scim.user.replace",
            "scim.user.delete",
            "scim.group.create",
            "scim.group.patch",
            "scim.group.replace",
        ] {
            assert!(
                events.iter().any(|e| e.event.operation == op
                    && e.event.status == 403
                    && e.event
                        .detail
                        .as_deref()
                        .is_some_and(|d| d.contains("other.com"))),
                "{op} refusal not audited"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_identity_strings_are_refused_on_every_write_and_nothing_is_written() {
    on_every_backend!(|server| {
        let (slug, scim) = server.org_with_token(&["acme.com"]).await;
        let ok = scim.create_user("ok@acme.com").await;
        let before_total = total_users(&scim).await;
        let ok_before = scim.get(&format!("/Users/{ok}")).await.body;

        let two_primaries = json!({"schemas": [USER], "userName": "two@acme.com",
            "emails": [{"value": "a@acme.com", "primary": true}, {"value": "b@acme.com", "primary": true}]});
        let with = |key: &str, value: Value| {
            let mut u = user("x@acme.com");
            u[key] = value;
            u
        };
        let bad_bodies: Vec<(&str, Value)> = vec![
            ("userName", user("a@evil.com@acme.com")),
            ("userName", user("nul\u{0}@acme.com")),
            ("userName", user("lf@acme.com\n")),
            ("userName", user("\ttab@acme.com")),
            ("userName", user("del\u{7f}name")),
            ("userName", user("c1\u{85}name")),
            ("userName", user("jane@")),
            (
                "emails[0].value",
                with("emails", json!([{"value": "x@evil.com@acme.com"}])),
            ),
            (
                "emails[1].value",
                with(
                    "emails",
                    json!([{"value": "x@acme.com"}, {"value": "no-at"}]),
                ),
            ),
            ("emails", two_primaries.clone()),
            ("externalId", with("externalId", json!("ext\u{0}1"))),
            ("displayName", with("displayName", json!("Line\nBreak"))),
            (
                "name.givenName",
                with("name", json!({"givenName": "A\u{1b}[31m"})),
            ),
        ];
        for (attribute, body) in &bad_bodies {
            // POST: refused, nothing made.
            let r = scim.post("/Users", body).await;
            r.assert_scim_error(400, Some("invalidValue"));
            let detail = r.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("`{attribute}`")),
                "{attribute}: {detail}"
            );
            // PUT over an existing user: refused, the user unchanged.
            let mut replace = body.clone();
            if *attribute != "userName" {
                replace["userName"] = json!("ok@acme.com");
            }
            let r = scim.put(&format!("/Users/{ok}"), &replace).await;
            r.assert_scim_error(400, Some("invalidValue"));
        }
        assert_eq!(total_users(&scim).await, before_total);

        // PATCH: each bad shape refused, the user unchanged.
        for ops in [
            json!([{"op": "replace", "path": "userName", "value": "a@evil.com@acme.com"}]),
            json!([{"op": "replace", "path": "userName", "value": "ok\u{0}@acme.com"}]),
            json!([{"op": "replace", "path": "displayName", "value": "tab\there"}]),
            json!([{"op": "replace", "path": "externalId", "value": "x\u{9f}"}]),
            json!([{"op": "add", "path": "emails", "value": [{"value": "bad@@acme.com"}]}]),
            json!([{"op": "replace", "value": {"userName": "lf\n@acme.com"}}]),
        ] {
            let r = scim
                .patch(&format!("/Users/{ok}"), &patch(ops.clone()))
                .await;
            r.assert_scim_error(400, Some("invalidValue"));
        }
        assert_eq!(scim.get(&format!("/Users/{ok}")).await.body, ok_before);

        // Groups: controls in displayName refused on POST, PUT and PATCH.
        let r = scim
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "Eng\u{0}"}),
            )
            .await;
        r.assert_scim_error(400, Some("invalidValue"));
        assert!(r.body["detail"].as_str().unwrap().contains("`displayName`"));
        let g = scim.create_group("Eng").await;
        let r = scim
            .put(
                &format!("/Groups/{g}"),
                &json!({"schemas": [GROUP], "displayName": "E\nng"}),
            )
            .await;
        r.assert_scim_error(400, Some("invalidValue"));
        let r = scim
            .patch(
                &format!("/Groups/{g}"),
                &patch(json!([{"op": "replace", "path": "displayName", "value": "E\u{7f}"}])),
            )
            .await;
        r.assert_scim_error(400, Some("invalidValue"));
        assert_eq!(
            scim.get(&format!("/Groups/{g}")).await.body["displayName"],
            "Eng"
        );

        // The admin API and the console share the rules (problem+json there).
        let key = server
            .state
            .admin
            .create_admin_key(Some("t"))
            .await
            .unwrap()
            .1;
        for body in [
            json!({"userName": "a@evil.com@acme.com"}),
            json!({"userName": "nul\u{0}"}),
            json!({"userName": "fine@acme.com", "email": "x@y@acme.com"}),
        ] {
            let res = server
                .http
                .post(format!("{}/api/v1/orgs/{slug}/users", server.base_url))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 400, "{body}");
            assert!(res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/problem+json"));
        }
        assert_eq!(total_users(&scim).await, before_total);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identity_strings_are_stored_clean_and_look_alikes_collide() {
    on_every_backend!(|server| {
        let (_slug, scim) = server.org_with_token(&["acme.com"]).await;

        // Padding is trimmed; the IdP finds the user by the value it sent.
        let r = scim.post("/Users", &user("  padded@acme.com  ")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["userName"], "padded@acme.com");
        assert_eq!(users_named(&scim, "  padded@acme.com  ").await, 1);
        assert_eq!(users_named(&scim, "padded@acme.com").await, 1);

        // A decomposed accent is stored composed (NFC): the composed one is taken, in any
        // case, and each finds the other.
        let decomposed = "rene\u{301}@acme.com";
        let composed = "Ren\u{e9}@acme.com";
        let r = scim.post("/Users", &user(decomposed)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["userName"], "ren\u{e9}@acme.com");
        let r = scim.post("/Users", &user(composed)).await;
        r.assert_scim_error(409, Some("uniqueness"));
        assert_eq!(users_named(&scim, composed).await, 1);
        assert_eq!(users_named(&scim, decomposed).await, 1);
        // Also inside a compound filter, checked in memory.
        let filter = format!("userName eq \"{decomposed}\" and active eq true");
        let r = scim
            .get(&format!("/Users?filter={}", urlencoding(&filter)))
            .await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);

        // Odd but valid addresses are accepted, and one primary is fine.
        for name in ["o'brien+tag@acme.com", "\"quoted name\"@acme.com"] {
            let r = scim.post("/Users", &user(name)).await;
            assert_eq!(r.status, 201, "{name}: {}", r.body);
        }
        let r = scim
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "plainname",
                        "emails": [{"value": "plain@acme.com", "primary": true}, {"value": "p2@acme.com"}]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    });
}
