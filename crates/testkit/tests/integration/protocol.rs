//! RFC 7644 behaviour beyond the IdP scripts: ETags, errors, limits, search, bulk, concurrency,
//! the directory rules, and the operator surfaces.

use crate::okta::patch;
use directory::model::{ManagedBy, UserRecord};
use serde_json::json;
use testkit::on_every_backend;

#[tokio::test]
async fn etags_if_match_and_if_none_match() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let id = c.create_user("etag@acme.com").await;
        let r = c.get(&format!("/Users/{id}")).await;
        let etag = r.header("etag").unwrap().to_string();
        let r = c
            .send(
                "GET",
                &format!("/Users/{id}"),
                None,
                &[("If-None-Match", &etag)],
            )
            .await;
        assert_eq!(r.status, 304);
        let body = patch(json!([{"op":"replace","path":"displayName","value":"One"}]));
        let r = c
            .send(
                "PATCH",
                &format!("/Users/{id}"),
                Some(&body),
                &[("If-Match", &etag)],
            )
            .await;
        assert_eq!(r.status, 200);
        let newer = r.header("etag").unwrap().to_string();
        assert_ne!(newer, etag);
        // The stale version is refused and nothing changes.
        let body = patch(json!([{"op":"replace","path":"displayName","value":"Two"}]));
        let r = c
            .send(
                "PATCH",
                &format!("/Users/{id}"),
                Some(&body),
                &[("If-Match", &etag)],
            )
            .await;
        r.assert_scim_error(412, None);
        assert_eq!(
            c.get(&format!("/Users/{id}")).await.body["displayName"],
            "One"
        );
        let r = c
            .send(
                "DELETE",
                &format!("/Users/{id}"),
                None,
                &[("If-Match", &etag)],
            )
            .await;
        r.assert_scim_error(412, None);
        let r = c
            .send(
                "GET",
                &format!("/Users/{id}"),
                None,
                &[("If-None-Match", &etag)],
            )
            .await;
        assert_eq!(r.status, 200);
    });
}

#[tokio::test]
async fn bad_input_gets_scim_errors() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let r = c
            .http
            .post(format!("{}/Users", c.root))
            .header("Authorization", format!("Bearer {}", c.token))
            .header("Content-Type", "application/scim+json")
            .body("{\"userName\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["scimType"], "invalidSyntax");
        // application/json is accepted on input.
        let r = c
            .http
            .post(format!("{}/Users", c.root))
            .header("Authorization", format!("Bearer {}", c.token))
            .header("Content-Type", "application/json")
            .body(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"plainjson"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        c.get("/Users?filter=userName%20eq")
            .await
            .assert_scim_error(400, Some("invalidFilter"));
        c.get("/Users?filter=(userName%20eq%20%22a%22")
            .await
            .assert_scim_error(400, Some("invalidFilter"));
        c.get("/Users?startIndex=abc")
            .await
            .assert_scim_error(400, None);
        c.post(
            "/Users",
            &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}),
        )
        .await
        .assert_scim_error(400, None);
        c.post("/Users", &json!({"userName":"noschemas"}))
            .await
            .assert_scim_error(400, None);
        c.post("/Users", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","active":"perhaps"}))
            .await
            .assert_scim_error(400, Some("invalidValue"));
        let id = c.create_user("p@acme.com").await;
        c.patch(&format!("/Users/{id}"), &json!({"Operations":[]}))
            .await
            .assert_scim_error(400, None);
        c.patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op":"jump","path":"active","value":true}])),
        )
        .await
        .assert_scim_error(400, None);
        c.patch(
            &format!("/Users/{id}"),
            &patch(json!([{"op":"replace","path":"nosuchattr","value":1}])),
        )
        .await
        .assert_scim_error(400, Some("invalidPath"));
        // All or nothing: the first operation is not kept when the second fails.
        let r = c
            .patch(&format!("/Users/{id}"), &patch(json!([{"op":"replace","path":"displayName","value":"Changed"},{"op":"replace","path":"active","value":"maybe"}])))
            .await;
        r.assert_scim_error(400, Some("invalidValue"));
        assert!(c
            .get(&format!("/Users/{id}"))
            .await
            .body
            .get("displayName")
            .is_none_or(|d| d != "Changed"));
        // Bodies past the advertised maximum get 413.
        let big = "x".repeat(2 * 1024 * 1024);
        let r = c
            .post(
                "/Users",
                &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName": big}),
            )
            .await;
        r.assert_scim_error(413, None);
        c.get("/NoSuchThing").await.assert_scim_error(404, None);
        c.get("/Me").await.assert_scim_error(501, None);
        // The request id is echoed in the header and quoted in the error detail.
        let r = c.get("/Users/nope").await;
        let rid = r.header("x-request-id").unwrap();
        assert!(
            r.body["detail"].as_str().unwrap().contains(rid),
            "{}",
            r.body
        );
    });
}

#[tokio::test]
async fn filters_sorting_projection_and_search() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        for (name, given, title) in [
            ("carol@acme.com", "Carol", "CTO"),
            ("alice@acme.com", "Alice", "Dev"),
            ("bob@acme.com", "Bob", "Dev"),
        ] {
            let mut u =
                testkit::server::ScimClient::okta_user(name, given, "Z", &format!("x-{given}"));
            u["title"] = json!(title);
            assert_eq!(c.post("/Users", &u).await.status, 201);
        }
        let r = c.get("/Users?sortBy=userName&sortOrder=descending").await;
        let names: Vec<&str> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["carol@acme.com", "bob@acme.com", "alice@acme.com"]
        );
        let r = c.get("/Users?sortBy=name.givenName").await;
        let names: Vec<&str> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"]["givenName"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["Alice", "Bob", "Carol"]);
        let f = "title%20eq%20%22dev%22%20and%20(name.givenName%20sw%20%22a%22%20or%20not%20(userName%20co%20%22bob%22))";
        let r = c.get(&format!("/Users?filter={f}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["userName"], "alice@acme.com");
        let r = c.get("/Users?filter=emails%5Btype%20eq%20%22work%22%20and%20value%20co%20%22%40acme.com%22%5D&count=2").await;
        assert_eq!(r.body["totalResults"], 3);
        assert_eq!(r.body["itemsPerPage"], 2);
        let r = c
            .get("/Users?filter=meta.lastModified%20gt%20%222000-01-01T00:00:00Z%22")
            .await;
        assert_eq!(r.body["totalResults"], 3);
        let r = c
            .get("/Users?filter=meta.lastModified%20gt%20%222100-01-01T00:00:00Z%22")
            .await;
        assert_eq!(r.body["totalResults"], 0);
        let r = c.get("/Users?attributes=userName&count=1").await;
        let u = &r.body["Resources"][0];
        assert!(u.get("userName").is_some() && u.get("id").is_some());
        assert!(u.get("name").is_none() && u.get("emails").is_none());
        let r = c.get("/Users?excludedAttributes=emails,name&count=1").await;
        let u = &r.body["Resources"][0];
        assert!(
            u.get("emails").is_none() && u.get("name").is_none() && u.get("userName").is_some()
        );
        // POST /.search on a type and at the root.
        let r = c
            .post("/Users/.search", &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"b\"","attributes":["userName"]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 1);
        c.create_group("Bees").await;
        let r = c
            .post("/.search", &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"displayName sw \"b\"", "count": 10}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // Both resource types: user "Bob Z" and group "Bees".
        assert_eq!(r.body["totalResults"], 2, "{}", r.body);
        let types: Vec<&str> = r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["meta"]["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(types, vec!["User", "Group"]);
    });
}

#[tokio::test]
async fn bulk_with_bulk_id_references() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let r = c
            .post("/Bulk", &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[
                {"method":"POST","path":"/Users","bulkId":"u1","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk1@acme.com"}},
                {"method":"POST","path":"/Groups","bulkId":"g1","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bulk","members":[{"value":"bulkId:u1"}]}},
                {"method":"PATCH","path":"/Users/bulkId:u1","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}}
            ]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ops = r.body["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0]["status"], "201");
        assert_eq!(ops[1]["status"], "201");
        assert_eq!(ops[2]["status"], "200");
        let uid = ops[0]["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        let r = c.get(ops[1]["location"].as_str().unwrap()).await;
        assert_eq!(r.body["members"][0]["value"], uid.as_str());
        assert_eq!(c.get(&format!("/Users/{uid}")).await.body["active"], false);
        // failOnErrors stops after the first failure.
        let r = c
            .post("/Bulk", &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[
                {"method":"POST","path":"/Users","bulkId":"d","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk1@acme.com"}},
                {"method":"POST","path":"/Users","bulkId":"e","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"never@acme.com"}}
            ]}))
            .await;
        let ops = r.body["Operations"].as_array().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0]["status"], "409");
        assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
        assert_eq!(
            c.get("/Users?filter=userName%20eq%20%22never%40acme.com%22")
                .await
                .body["totalResults"],
            0
        );
        let too_many: Vec<_> = (0..1001)
            .map(|i| json!({"method":"DELETE","path":format!("/Users/{i}")}))
            .collect();
        let r = c.post("/Bulk", &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations": too_many})).await;
        r.assert_scim_error(413, None);
    });
}

#[tokio::test]
async fn concurrent_membership_patches_lose_nothing() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let gid = c.create_group("Crowd").await;
        let mut ids = Vec::new();
        for i in 0..40 {
            ids.push(c.create_user(&format!("crowd{i}@acme.com")).await);
        }
        let tasks: Vec<_> = ids
            .chunks(2)
            .map(|pair| {
                let c = c.clone();
                let gid = gid.clone();
                let body = patch(json!([{"op":"add","path":"members","value": pair.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()}]));
                tokio::spawn(async move { c.patch(&format!("/Groups/{gid}"), &body).await.status })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 204);
        }
        let r = c.get(&format!("/Groups/{gid}")).await;
        assert_eq!(r.body["members"].as_array().unwrap().len(), 40);
    });
}

#[tokio::test]
async fn local_users_are_seen_and_taken_over_local_groups_are_not() {
    on_every_backend!(|server| {
        let (slug, c) = server.org_with_token(&["acme.com"]).await;
        let org = server.state.admin.org(&slug).await.unwrap();
        let now = server.state.clock.now();
        let mut local = UserRecord {
            id: directory::UserId::new_random(),
            org_id: org.id,
            user_name: String::new(),
            external_id: None,
            display_name: None,
            active: true,
            emails: vec![],
            doc: json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Local.Admin@acme.com"}),
            managed_by: ManagedBy::Local,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        local.reindex();
        server.state.store.insert_user(&local).await.unwrap();
        // SCIM sees every user: creating the same userName is a conflict, and the filter finds it.
        c.post(
            "/Users",
            &testkit::server::ScimClient::okta_user("local.admin@acme.com", "L", "A", "1"),
        )
        .await
        .assert_scim_error(409, Some("uniqueness"));
        let r = c
            .get("/Users?filter=userName%20eq%20%22local.admin%40acme.com%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(
            r.body["Resources"][0]["userName"], "Local.Admin@acme.com",
            "userName keeps its case"
        );
        // The first SCIM write takes it over.
        let id = local.id.to_string();
        let r = c
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op":"replace","path":"externalId","value":"00u-okta"}])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let stored = server
            .state
            .store
            .get_user(org.id, local.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.managed_by, ManagedBy::Scim);

        // A console (local) group is invisible to SCIM.
        let group = directory::model::GroupRecord {
            id: directory::GroupId::new_random(),
            org_id: org.id,
            display_name: "Console group".into(),
            external_id: None,
            doc: json!({"displayName":"Console group"}),
            managed_by: ManagedBy::Local,
            scim_visible: false,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        server
            .state
            .store
            .insert_group(&group, std::slice::from_ref(&id))
            .await
            .unwrap();
        c.get(&format!("/Groups/{}", group.id))
            .await
            .assert_scim_error(404, None);
        assert_eq!(
            c.get("/Groups?filter=displayName%20eq%20%22Console%20group%22")
                .await
                .body["totalResults"],
            0
        );
        c.patch(
            &format!("/Groups/{}", group.id),
            &patch(json!([{"op":"remove","path":"members"}])),
        )
        .await
        .assert_scim_error(404, None);
        c.delete(&format!("/Groups/{}", group.id))
            .await
            .assert_scim_error(404, None);
        // …and not listed among the user's groups over SCIM.
        assert!(c
            .get(&format!("/Users/{id}"))
            .await
            .body
            .get("groups")
            .is_none());
    });
}

#[tokio::test]
async fn admin_api_and_operator_endpoints() {
    on_every_backend!(|server| {
        let (_, key) = server
            .state
            .admin
            .create_admin_key(Some("test"))
            .await
            .unwrap();
        let http = &server.http;
        let base = &server.base_url;
        let r = http
            .get(format!("{base}/api/v1/orgs"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let slug = format!("api-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let r = http
            .post(format!("{base}/api/v1/orgs"))
            .bearer_auth(&key)
            .body(json!({"slug": slug, "name":"Api Org"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = http
            .post(format!("{base}/api/v1/orgs"))
            .bearer_auth(&key)
            .body(json!({"slug": "Bad Slug!"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let problem: serde_json::Value = r.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains("slug"));
        let r = http
            .post(format!("{base}/api/v1/orgs/{slug}/tokens"))
            .bearer_auth(&key)
            .body(json!({"name":"okta","domains":["acme.com"]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let created: serde_json::Value = r.json().await.unwrap();
        let token = created["token"].as_str().unwrap().to_string();
        let tid = created["id"].as_str().unwrap().to_string();
        let scim = server.client(&token);
        assert_eq!(scim.get("/Users").await.status, 200);
        let r = http
            .get(format!("{base}/api/v1/orgs/{slug}/tokens"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let list: serde_json::Value = r.json().await.unwrap();
        assert_eq!(list[0]["id"], tid.as_str());
        assert_eq!(list[0]["domains"], json!(["acme.com"]));
        assert!(list[0].get("token").is_none() && list[0].get("hash").is_none());
        let r = http
            .put(format!("{base}/api/v1/orgs/{slug}/tokens/{tid}/domains"))
            .bearer_auth(&key)
            .body(json!({"domains":["acme.com","acme.io"]}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = http
            .delete(format!("{base}/api/v1/orgs/{slug}/tokens/{tid}"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(scim.get("/Users").await.status, 401);
        let r = http
            .get(format!("{base}/api/v1/orgs/{slug}/audit?operation=token."))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let events: serde_json::Value = r.json().await.unwrap();
        let ops: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["operation"].as_str().unwrap())
            .collect();
        assert_eq!(ops, vec!["token.revoke", "token.domains", "token.create"]);
        let r = http
            .get(format!("{base}/api/v1/orgs/nope"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);

        assert_eq!(
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("portcullis_http_requests_total"),
            "{metrics}"
        );
        assert!(metrics.contains("portcullis_http_request_duration_seconds"));
    });
}

#[tokio::test]
async fn concurrent_user_patches_queue_and_all_apply() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let id = c.create_user("busy@acme.com").await;
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let c = c.clone();
                let id = id.clone();
                let body = patch(json!([{"op":"add","path":"phoneNumbers","value":[{"value": format!("+1555000{i:04}"), "type":"work"}]}]));
                tokio::spawn(async move { c.patch(&format!("/Users/{id}"), &body).await.status })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
        let r = c.get(&format!("/Users/{id}")).await;
        assert_eq!(
            r.body["phoneNumbers"].as_array().unwrap().len(),
            24,
            "{}",
            r.body
        );
        assert_eq!(r.body["meta"]["version"], "W/\"25\"");
    });
}

#[tokio::test]
async fn unknown_members_are_left_out_all_at_once() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["*"]).await;
        let real = c.create_user("real@acme.com").await;
        let mut members: Vec<serde_json::Value> = (0..300)
            .map(|_| json!({"value": uuid::Uuid::new_v4().to_string()}))
            .collect();
        members.push(json!({"value": real}));
        members.push(json!({"value": "fake-member-id"}));
        let r = c
            .post("/Groups", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Mixed","members": members}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let gid = r.body["id"].as_str().unwrap().to_string();
        let ids: Vec<&str> = r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![real.as_str()]);
        let other = c.create_user("other@acme.com").await;
        let mut adds = members.clone();
        adds.push(json!({"value": other}));
        let r = c
            .patch(
                &format!("/Groups/{gid}"),
                &patch(json!([{"op":"add","path":"members","value": adds}])),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = c.get(&format!("/Groups/{gid}")).await;
        let mut ids: Vec<String> = r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        let mut want = vec![real.clone(), other.clone()];
        want.sort();
        assert_eq!(ids, want);
    });
}
