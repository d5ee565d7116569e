//! What one write may cost, and who waits for it: the limits on a request (values per
//! attribute, PATCH operations, members, value and resource size), each refused with a SCIM
//! error that names it; PATCHes applied outside the store's writer, so another organization's
//! writes never queue behind one; and concurrent PATCHes of one resource all landing.

use crate::okta::patch;
use directory::model::{ManagedBy, UserRecord};
use scim::limits::{
    MAX_ATTRIBUTE_VALUES, MAX_MEMBERS_PER_OPERATION, MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS,
    MAX_RESOURCE_BYTES, MAX_STRING_BYTES,
};
use serde_json::{json, Value};
use std::time::Duration;
use testkit::on_every_backend;
use testkit::server::{Resp, ScimClient};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn emails(n: usize, tag: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("{tag}{i}@acme.com"), "type": "work"}))
            .collect(),
    )
}

/// A 400 invalidValue whose detail contains `names` (the limit and its value).
fn assert_limit(r: &Resp, names: &str) {
    r.assert_scim_error(400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(names),
        "detail does not name the limit: {detail}"
    );
}

async fn version_of(c: &ScimClient, path: &str) -> Value {
    let r = c.get(path).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["meta"]["version"].clone()
}

#[tokio::test]
async fn values_per_attribute_are_bounded_on_post_put_and_patch() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let limit = format!("at most {MAX_ATTRIBUTE_VALUES} values");
        // POST with one value too many: refused, nothing created.
        let r = c
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "many@acme.com", "emails": emails(MAX_ATTRIBUTE_VALUES + 1, "m")}),
            )
            .await;
        assert_limit(&r, &limit);
        let r = c
            .get("/Users?filter=userName%20eq%20%22many%40acme.com%22")
            .await;
        assert_eq!(r.body["totalResults"], 0);
        // Exactly the limit is fine.
        let r = c
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "full@acme.com", "emails": emails(MAX_ATTRIBUTE_VALUES, "f")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let path = format!("/Users/{id}");
        let version = version_of(&c, &path).await;
        // PUT with too many phone numbers: refused, the user unchanged.
        let phones: Vec<Value> = (0..MAX_ATTRIBUTE_VALUES + 1)
            .map(|i| json!({"value": format!("+1555{i:07}")}))
            .collect();
        let r = c
            .put(
                &path,
                &json!({"schemas": [USER], "userName": "full@acme.com", "phoneNumbers": phones}),
            )
            .await;
        assert_limit(&r, &limit);
        assert_eq!(version_of(&c, &path).await, version);
        // PATCH that would grow the full attribute: refused, unchanged.
        let r = c
            .patch(
                &path,
                &patch(json!([{"op": "add", "path": "emails", "value": [{"value": "one.more@acme.com"}]}])),
            )
            .await;
        assert_limit(&r, &limit);
        assert_eq!(version_of(&c, &path).await, version);
        // Replacing one and adding one in the same PATCH stays within it.
        let r = c
            .patch(
                &path,
                &patch(json!([
                    {"op": "remove", "path": "emails[value eq \"f0@acme.com\"]"},
                    {"op": "add", "path": "emails", "value": [{"value": "one.more@acme.com"}]}
                ])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["emails"].as_array().unwrap().len(),
            MAX_ATTRIBUTE_VALUES
        );
    });
}

#[tokio::test]
async fn operations_per_patch_are_bounded() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let id = c.create_user("ops@acme.com").await;
        let path = format!("/Users/{id}");
        let version = version_of(&c, &path).await;
        let op = json!({"op": "replace", "path": "displayName", "value": "x"});
        let r = c
            .patch(
                &path,
                &patch(Value::Array(vec![op.clone(); MAX_PATCH_OPERATIONS + 1])),
            )
            .await;
        assert_limit(&r, &format!("at most {MAX_PATCH_OPERATIONS} operations"));
        assert_eq!(version_of(&c, &path).await, version);
        let r = c
            .patch(&path, &patch(Value::Array(vec![op; MAX_PATCH_OPERATIONS])))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    });
}

#[tokio::test]
async fn value_and_resource_sizes_are_bounded() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let long = "x".repeat(MAX_STRING_BYTES + 1);
        let limit = format!("at most {MAX_STRING_BYTES} bytes");
        let r = c
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "long@acme.com", "displayName": long}),
            )
            .await;
        assert_limit(&r, &limit);
        let id = c.create_user("sized@acme.com").await;
        let path = format!("/Users/{id}");
        let version = version_of(&c, &path).await;
        let r = c
            .patch(
                &path,
                &patch(json!([{"op": "replace", "path": "name.givenName", "value": long}])),
            )
            .await;
        assert_limit(&r, &limit);
        let r = c
            .put(
                &path,
                &json!({"schemas": [USER], "userName": "sized@acme.com",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": long}}),
            )
            .await;
        assert_limit(&r, &limit);
        // Every value within its limit, the whole past the resource limit.
        let big = "y".repeat(MAX_STRING_BYTES);
        let addresses: Vec<Value> = (0..MAX_RESOURCE_BYTES / MAX_STRING_BYTES + 1)
            .map(|i| json!({"formatted": big, "type": format!("t{i}")}))
            .collect();
        let r = c
            .put(
                &path,
                &json!({"schemas": [USER], "userName": "sized@acme.com", "addresses": addresses}),
            )
            .await;
        assert_limit(&r, &format!("more than {MAX_RESOURCE_BYTES} bytes"));
        // Nor can PATCHes grow it there a little at a time.
        for i in 0..MAX_RESOURCE_BYTES / MAX_STRING_BYTES - 1 {
            let r = c
                .patch(
                    &path,
                    &patch(json!([{"op": "add", "path": "addresses", "value": [{"formatted": big, "type": format!("t{i}")}]}])),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let r = c
            .patch(
                &path,
                &patch(json!([{"op": "add", "path": "addresses", "value": [{"formatted": big, "type": "last"}, {"formatted": big, "type": "straw"}]}])),
            )
            .await;
        assert_limit(&r, &format!("more than {MAX_RESOURCE_BYTES} bytes"));
        let r = c.get(&path).await;
        assert_ne!(r.body["meta"]["version"], version);
        assert_eq!(
            r.body["addresses"].as_array().unwrap().len(),
            MAX_RESOURCE_BYTES / MAX_STRING_BYTES - 1
        );
    });
}

fn member_values(n: usize, tag: &str) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"value": format!("{tag}{i}")}))
            .collect(),
    )
}

#[tokio::test]
async fn members_are_bounded_per_operation_and_per_request() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let gid = c.create_group("Bounded").await;
        let path = format!("/Groups/{gid}");
        let version = version_of(&c, &path).await;
        let r = c
            .patch(
                &path,
                &patch(json!([{"op": "add", "path": "members", "value": member_values(MAX_MEMBERS_PER_OPERATION + 1, "a")}])),
            )
            .await;
        assert_limit(&r, &format!("at most {MAX_MEMBERS_PER_OPERATION} members"));
        let r = c
            .patch(
                &path,
                &patch(json!([
                    {"op": "remove", "path": "members", "value": member_values(MAX_MEMBERS_PER_OPERATION, "r")},
                    {"op": "add", "path": "members", "value": member_values(MAX_MEMBERS_PER_OPERATION, "a")},
                    {"op": "add", "path": "members", "value": [{"value": "one-more"}]}
                ])),
            )
            .await;
        assert_limit(&r, &format!("at most {MAX_MEMBERS_PER_REQUEST} members"));
        assert_eq!(version_of(&c, &path).await, version);
        // POST and PUT of a group are held to the request limit too.
        let r = c
            .post(
                "/Groups",
                &json!({"schemas": [GROUP], "displayName": "Huge", "members": member_values(MAX_MEMBERS_PER_REQUEST + 1, "p")}),
            )
            .await;
        assert_limit(&r, &format!("at most {MAX_MEMBERS_PER_REQUEST} members"));
        let r = c
            .put(
                &path,
                &json!({"schemas": [GROUP], "displayName": "Bounded", "members": member_values(MAX_MEMBERS_PER_REQUEST + 1, "p")}),
            )
            .await;
        assert_limit(&r, &format!("at most {MAX_MEMBERS_PER_REQUEST} members"));
        assert_eq!(version_of(&c, &path).await, version);
    });
}

/// Users made straight in the store: a thousand SCIM POSTs would only make the test slow.
async fn many_users(server: &testkit::server::TestServer, slug: &str, n: usize) -> Vec<String> {
    let org = server.state.admin.org(slug).await.unwrap();
    let now = server.state.clock.now();
    let inserts = (0..n).map(|i| {
        let mut u = UserRecord {
            id: directory::UserId::new_random(),
            org_id: org.id,
            user_name: String::new(),
            external_id: None,
            display_name: None,
            active: true,
            emails: vec![],
            doc: json!({"schemas": [USER], "userName": format!("member{i}@acme.com")}),
            managed_by: ManagedBy::Scim,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        u.reindex();
        let store = server.state.store.clone();
        async move {
            store.insert_user(&u).await.unwrap();
            u.id.to_string()
        }
    });
    futures_join_all(inserts).await
}

/// Runs the futures together (the store batches concurrent writes).
async fn futures_join_all<F: std::future::Future<Output = String> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<String> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_thousand_members_in_one_operation_and_unknown_ids_anywhere_in_the_list() {
    on_every_backend!(|server| {
        let (slug, c) = server.org_with_token(&["*"]).await;
        let ids = many_users(&server, &slug, 1_000).await;
        let gid = c.create_group("Thousand").await;
        let path = format!("/Groups/{gid}");
        // Unknown ids at the start, in the middle and at the very end of a long list.
        let mut values: Vec<Value> = vec![json!({"value": uuid::Uuid::new_v4().to_string()})];
        for (i, id) in ids.iter().enumerate() {
            values.push(json!({"value": id}));
            if i == 500 {
                values.push(json!({"value": uuid::Uuid::new_v4().to_string()}));
                values.push(json!({"value": "not-an-id"}));
            }
        }
        values.push(json!({"value": uuid::Uuid::new_v4().to_string()}));
        values.push(json!({"value": gid}));
        let r = c
            .patch(
                &path,
                &patch(json!([{"op": "add", "path": "members", "value": values}])),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = c.get(&path).await;
        let mut got: Vec<String> = r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want);
        // 19,000 ids that name nobody (the request that took seconds in the writer) change
        // nothing and are answered like any PATCH.
        let nobody: Vec<Value> = (0..19_000)
            .map(|_| json!({"value": uuid::Uuid::new_v4().to_string()}))
            .collect();
        let (half, rest) = nobody.split_at(9_500);
        let r = c
            .patch(
                &path,
                &patch(json!([
                    {"op": "add", "path": "members", "value": half},
                    {"op": "add", "path": "members", "value": rest}
                ])),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = c.get(&format!("{path}?attributes=members")).await;
        assert_eq!(r.body["members"].as_array().unwrap().len(), 1_000);
    });
}

#[tokio::test]
async fn the_most_expensive_allowed_user_patch_is_applied_in_full() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let r = c
            .post(
                "/Users",
                &json!({"schemas": [USER], "userName": "costly@acme.com", "emails": emails(MAX_ATTRIBUTE_VALUES, "e")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let path = format!("/Users/{}", r.body["id"].as_str().unwrap());
        // Every operation a value filter over the full attribute; half remove, half re-add.
        let ops: Vec<Value> = (0..MAX_PATCH_OPERATIONS)
            .map(|i| {
                let n = (i / 2) % MAX_ATTRIBUTE_VALUES;
                if i % 2 == 0 {
                    json!({"op": "remove", "path": format!("emails[value eq \"e{n}@acme.com\"]")})
                } else {
                    json!({"op": "add", "path": "emails", "value": [{"value": format!("e{n}@acme.com"), "type": "home"}]})
                }
            })
            .collect();
        let r = c.patch(&path, &patch(Value::Array(ops))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let emails = r.body["emails"].as_array().unwrap();
        assert_eq!(emails.len(), MAX_ATTRIBUTE_VALUES);
        assert!(emails.iter().all(|e| e["type"] == "home"), "{}", r.body);
    });
}

#[tokio::test]
async fn many_concurrent_patches_of_one_user_and_one_group_all_land() {
    on_every_backend!(|server| {
        let (slug, c) = server.org_with_token(&["*"]).await;
        let uid = c.create_user("contended@acme.com").await;
        let user_path = format!("/Users/{uid}");
        const WRITERS: usize = 64;
        let tasks: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (c, path) = (c.clone(), user_path.clone());
                // Adds and a read-modify-write of another attribute, so a lost update shows.
                let body = patch(json!([
                    {"op": "add", "path": "phoneNumbers", "value": [{"value": format!("+1555{i:07}"), "type": "work"}]},
                    {"op": "replace", "path": "title", "value": format!("t{i}")}
                ]));
                tokio::spawn(async move { c.patch(&path, &body).await })
            })
            .collect();
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let r = c.get(&user_path).await;
        assert_eq!(r.body["phoneNumbers"].as_array().unwrap().len(), WRITERS);
        assert_eq!(r.body["meta"]["version"], format!("W/\"{}\"", WRITERS + 1));

        let members = many_users(&server, &slug, 4 * WRITERS).await;
        let gid = c.create_group("Contended").await;
        let group_path = format!("/Groups/{gid}");
        // Each writer adds four members and removes the first one it added, in one PATCH.
        let tasks: Vec<_> = members
            .chunks(4)
            .map(|four| {
                let (c, path) = (c.clone(), group_path.clone());
                let body = patch(json!([
                    {"op": "add", "path": "members", "value": four.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()},
                    {"op": "remove", "path": format!("members[value eq \"{}\"]", four[0])}
                ]));
                tokio::spawn(async move { c.patch(&path, &body).await })
            })
            .collect();
        for t in tasks {
            let r = t.await.unwrap();
            assert_eq!(r.status, 204, "{}", r.body);
        }
        let r = c.get(&group_path).await;
        let mut got: Vec<String> = r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        got.sort();
        let mut want: Vec<String> = members
            .chunks(4)
            .flat_map(|four| four[1..].to_vec())
            .collect();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(r.body["meta"]["version"], format!("W/\"{}\"", WRITERS + 1));
        // Every queue of writers went away with its last writer.
        assert_eq!(server.state.scim.write_turns().in_use(), 0);
    });
}

/// While one organization's PATCH is being applied, another organization's writes go through:
/// the change is applied outside the store's writer, which gets only the finished record.
/// (When PATCH ran inside the writer's transaction, holding it there held every write.)
#[tokio::test]
async fn another_organizations_writes_do_not_wait_for_a_patch_being_applied() {
    on_every_backend!(|server| {
        let (slug_a, a) = server.org_with_token(&["*"]).await;
        let (_, b) = server.org_with_token(&["*"]).await;
        let org_a = server.state.admin.org(&slug_a).await.unwrap();
        let user_a = a.create_user("slow@acme.com").await;
        let group_a = a.create_group("Slow").await;
        let user_b = b.create_user("quick@acme.com").await;
        let group_b = b.create_group("Quick").await;

        let gate = server.state.scim.write_gate().clone();
        let held = gate.hold(org_a.id).await;
        let stuck_user = {
            let (a, path) = (a.clone(), format!("/Users/{user_a}"));
            tokio::spawn(async move {
                a.patch(
                    &path,
                    &patch(json!([{"op": "replace", "path": "displayName", "value": "Applied"}])),
                )
                .await
            })
        };
        let stuck_group = {
            let (a, path) = (a.clone(), format!("/Groups/{group_a}"));
            let body =
                patch(json!([{"op": "add", "path": "members", "value": [{"value": user_a}]}]));
            tokio::spawn(async move { a.patch(&path, &body).await })
        };
        // Both of A's PATCHes have read their resource and are mid-way.
        let mut waited = 0;
        while gate.waiting() < 2 {
            assert!(waited < 1_000, "the PATCHes never reached the gate");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        // B writes users and groups meanwhile: PATCH, PUT, POST, DELETE all answer.
        let b_writes = async {
            let r = b
                .patch(
                    &format!("/Users/{user_b}"),
                    &patch(json!([{"op": "replace", "path": "displayName", "value": "B"}])),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let r = b
                .patch(
                    &format!("/Groups/{group_b}"),
                    &patch(json!([{"op": "add", "path": "members", "value": [{"value": user_b}]}])),
                )
                .await;
            assert_eq!(r.status, 204, "{}", r.body);
            let r = b
                .put(
                    &format!("/Users/{user_b}"),
                    &json!({"schemas": [USER], "userName": "quick@acme.com", "title": "put"}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let other = b.create_user("another@acme.com").await;
            assert_eq!(b.delete(&format!("/Users/{other}")).await.status, 204);
        };
        tokio::time::timeout(Duration::from_secs(30), b_writes)
            .await
            .expect("another organization's writes waited for a PATCH being applied");
        assert!(!stuck_user.is_finished() && !stuck_group.is_finished());
        drop(held);
        let r = stuck_user.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["displayName"], "Applied");
        assert_eq!(stuck_group.await.unwrap().status, 204);
        let r = a.get(&format!("/Groups/{group_a}")).await;
        assert_eq!(r.body["members"][0]["value"], user_a.as_str());
    });
}

/// A group PATCH adding `n` member ids that name nobody: about 50 bytes a member.
fn unknown_members(n: usize) -> Value {
    let members: Vec<Value> = (0..n)
        .map(|i| json!({"value": format!("00000000-0000-4000-8000-{i:012x}")}))
        .collect();
    patch(json!([{"op": "add", "path": "members", "value": members}]))
}

/// Large write bodies (past `LARGE_REQUEST_BYTES`) take one of their organization's slots
/// while they are parsed and applied: past the organization's limit the next one waits
/// briefly and gets 429 with Retry-After, while small writes and other organizations' large
/// ones go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_writes_are_bounded_per_organization() {
    use directory::scan::{ScanLimits, LARGE_REQUEST_BYTES};
    use directory::scim_service::Limits;
    use testkit::server::TestServer;
    for backend in testkit::server::backends() {
        let limits = Limits {
            large_requests_per_org: 1,
            scan: ScanLimits {
                wait: Duration::from_millis(300),
                ..ScanLimits::default()
            },
            ..Limits::default()
        };
        let server = TestServer::start_with_limits(backend, limits).await;
        let (slug_a, a) = server.org_with_token(&["*"]).await;
        let (_, b) = server.org_with_token(&["*"]).await;
        let org_a = server.state.admin.org(&slug_a).await.unwrap();
        let (group_a, other_a) = (a.create_group("Big").await, a.create_group("Other").await);
        let group_b = b.create_group("Big").await;
        let big = unknown_members(2_000);
        assert!(big.to_string().len() > LARGE_REQUEST_BYTES);

        // A's first large PATCH holds the organization's one slot, stopped mid-way.
        let gate = server.state.scim.write_gate().clone();
        let held = gate.hold(org_a.id).await;
        let first = {
            let (a, path, body) = (a.clone(), format!("/Groups/{group_a}"), big.clone());
            tokio::spawn(async move { a.patch(&path, &body).await })
        };
        let mut waited = 0;
        while gate.waiting() < 1 {
            assert!(waited < 1_000, "the first PATCH never reached the gate");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
        // A second large one of A is refused for load, saying why and when to retry.
        let r = a.patch(&format!("/Groups/{other_a}"), &big).await;
        r.assert_scim_error(429, None);
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("64 KiB") && detail.contains("limit per organization is 1"),
            "{detail}"
        );
        assert_eq!(r.header("retry-after"), Some("2"));
        // Another organization's large PATCH is not held up.
        let r = b.patch(&format!("/Groups/{group_b}"), &big).await;
        assert_eq!(r.status, 204, "{}", r.body);
        drop(held);
        let r = first.await.unwrap();
        assert_eq!(r.status, 204, "{}", r.body);
        // The slot is free again.
        let r = a.patch(&format!("/Groups/{other_a}"), &big).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
}
