//! Every Okta request of idp-behaviour.md, in the sequences Okta sends them.

use serde_json::{json, Value};
use testkit::on_every_backend;
use testkit::server::ScimClient;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn test_api_credentials() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let r = okta.get("/Users?startIndex=1&count=2").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("content-type"), Some("application/scim+json"));
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(r.body["totalResults"], 0);
        assert_eq!(r.body["startIndex"], 1);
        assert_eq!(r.body["itemsPerPage"], 0);
        let r = okta.get("/Groups?startIndex=1&count=100").await;
        assert_eq!(r.status, 200);
        // A bad token gets 401 with a SCIM error body and a challenge.
        let bad = server.client("not-a-token");
        let r = bad.get("/Users?startIndex=1&count=2").await;
        r.assert_scim_error(401, None);
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    });
}

#[tokio::test]
async fn create_user_filter_then_post_and_duplicate() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let r = okta
            .get(
                "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["totalResults"], 0);
        assert_eq!(r.body["Resources"], json!([]));

        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
            "name":{"givenName":"Test","familyName":"User"},
            "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
            "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
            "groups":[],"password":"1mz050nq","active":true});
        let r = okta.post("/Users", &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["userName"], "test.user@okta.local");
        assert_eq!(r.body["name"]["givenName"], "Test");
        assert_eq!(r.body["externalId"], "00ujl29u0le5T6Aj10h7");
        assert_eq!(r.body["active"], true);
        assert_eq!(r.body["meta"]["resourceType"], "User");
        assert!(
            r.body.get("password").is_none(),
            "password echoed: {}",
            r.body
        );
        assert_eq!(
            r.header("location").unwrap(),
            r.body["meta"]["location"].as_str().unwrap()
        );
        assert_eq!(
            r.header("etag").unwrap(),
            r.body["meta"]["version"].as_str().unwrap()
        );

        // The lookup Okta makes next time finds it, whatever the case.
        let r = okta
            .get(
                "/Users?filter=userName%20eq%20%22Test.User%40OKTA.local%22&startIndex=1&count=100",
            )
            .await;
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
        assert!(r.body["Resources"][0].get("password").is_none());

        // Duplicate (even in another case) → 409 uniqueness.
        let mut dup = body.clone();
        dup["userName"] = json!("TEST.USER@okta.local");
        let r = okta.post("/Users", &dup).await;
        r.assert_scim_error(409, Some("uniqueness"));

        // GET by id never shows a password.
        let r = okta.get(&format!("/Users/{id}")).await;
        assert_eq!(r.status, 200);
        assert!(r.body.get("password").is_none());
    });
}

#[tokio::test]
async fn import_pages_are_stable_and_complete() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let mut created = Vec::new();
        for i in 0..25 {
            created.push(okta.create_user(&format!("u{i:02}@okta.local")).await);
        }
        let mut seen = Vec::new();
        let mut start = 1;
        loop {
            let r = okta
                .get(&format!("/Users?startIndex={start}&count=10"))
                .await;
            assert_eq!(r.status, 200);
            assert_eq!(r.body["totalResults"], 25);
            assert_eq!(r.body["startIndex"], start);
            let items = r.body["Resources"].as_array().unwrap();
            assert_eq!(r.body["itemsPerPage"], items.len());
            if items.is_empty() {
                break;
            }
            seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_string()));
            start += 10;
        }
        assert_eq!(
            seen, created,
            "pages must cover every user once, in a stable order"
        );
    });
}

#[tokio::test]
async fn update_by_put_and_by_patch() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let id = okta.create_user("jane@okta.local").await;
        // GET then PUT the whole object back, with id and meta.
        let mut full = okta.get(&format!("/Users/{id}")).await.body;
        full["name"]["familyName"] = json!("Doe");
        full["displayName"] = json!("Jane Doe");
        let r = okta.put(&format!("/Users/{id}"), &full).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["name"]["familyName"], "Doe");
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(r.body["meta"]["version"], "W/\"2\"");

        let r = okta
            .patch(&format!("/Users/{id}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"name":{"givenName":"Janet"}}}]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["name"]["givenName"], "Janet");
        assert_eq!(r.body["name"]["familyName"], "Doe");
    });
}

#[tokio::test]
async fn deactivate_and_reactivate() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let id = okta.create_user("leaver@okta.local").await;
        let gid = okta.create_group("Engineering").await;
        okta.patch(&format!("/Groups/{gid}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"add","path":"members","value":[{"value": id}]}]})).await;
        let r = okta
            .patch(&format!("/Users/{id}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"active":false}}]}))
            .await;
        assert!(r.status == 200 || r.status == 204, "{}", r.body);
        let r = okta.get(&format!("/Users/{id}")).await;
        assert_eq!(r.body["active"], false);
        // Deactivation keeps memberships.
        assert_eq!(r.body["groups"][0]["value"], gid.as_str());
        let r = okta.get("/Users?filter=active%20eq%20false").await;
        assert_eq!(r.body["totalResults"], 1);
        let r = okta
            .patch(&format!("/Users/{id}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"active":true}}]}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["active"], true);
    });
}

async fn members(okta: &ScimClient, gid: &str) -> Vec<String> {
    let r = okta.get(&format!("/Groups/{gid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut ids: Vec<String> = r.body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn push_group_rename_membership_and_delete() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let a = okta.create_user("a@okta.local").await;
        let b = okta.create_user("b@okta.local").await;
        // Some Okta apps look the group up by name first.
        let r = okta
            .get("/Groups?filter=displayName%20eq%20%22Engineering%22")
            .await;
        assert_eq!(r.body["totalResults"], 0);
        let r = okta
            .post("/Groups", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let gid = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["displayName"], "Engineering");
        let r = okta
            .get("/Groups?filter=displayName%20eq%20%22engineering%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);
        // Other groups are not returned by the displayName filter.
        okta.create_group("Sales").await;
        let r = okta
            .get("/Groups?filter=displayName%20eq%20%22Engineering%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);

        // Rename: pathless replace carrying the read-only id, which must be ignored.
        let r = okta
            .patch(&format!("/Groups/{gid}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"id": gid, "displayName":"Engineering EU"}}]}))
            .await;
        assert!(r.status == 204 || r.status == 200, "{}", r.body);
        let r = okta.get(&format!("/Groups/{gid}")).await;
        assert_eq!(r.body["displayName"], "Engineering EU");

        // Full push then Okta's two-operation membership change, applied in order.
        let r = okta
            .patch(&format!("/Groups/{gid}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"members","value":[{"value": a, "display":"a@okta.local"}]}]}))
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(members(&okta, &gid).await, vec![a.clone()]);
        let r = okta
            .patch(
                &format!("/Groups/{gid}"),
                &json!({"schemas":[PATCH_OP],"Operations":[
                {"op":"remove","path":format!("members[value eq \"{a}\"]")},
                {"op":"add","path":"members","value":[{"value": b, "display":"b@okta.local"}]}]}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(members(&okta, &gid).await, vec![b.clone()]);
        // A body is returned when asked for.
        let r = okta
            .patch(&format!("/Groups/{gid}?excludedAttributes=members"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"add","path":"members","value":[{"value": a}]}]}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["displayName"], "Engineering EU");
        assert!(r.body.get("members").is_none());

        // The member's groups show the group.
        let r = okta.get(&format!("/Users/{b}")).await;
        assert_eq!(r.body["groups"][0]["value"], gid.as_str());

        // GET → PUT with the whole member list (the other Okta style).
        let mut full = okta.get(&format!("/Groups/{gid}")).await.body;
        full["members"] = json!([{"value": a}]);
        let r = okta.put(&format!("/Groups/{gid}"), &full).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(members(&okta, &gid).await, vec![a.clone()]);

        // Unlink and delete.
        let r = okta.delete(&format!("/Groups/{gid}")).await;
        assert_eq!(r.status, 204);
        okta.get(&format!("/Groups/{gid}"))
            .await
            .assert_scim_error(404, None);
        let r = okta.get(&format!("/Users/{a}")).await;
        assert!(r
            .body
            .get("groups")
            .is_none_or(|g| g.as_array().unwrap().is_empty()));
    });
}

#[tokio::test]
async fn okta_spec_checks() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let r = okta.get("/ServiceProviderConfig").await;
        assert_eq!(r.status, 200);
        for key in [
            "patch",
            "bulk",
            "filter",
            "changePassword",
            "sort",
            "etag",
            "authenticationSchemes",
        ] {
            assert!(
                r.body.get(key).is_some(),
                "ServiceProviderConfig lacks {key}"
            );
        }
        assert!(r.body["filter"]["maxResults"].as_u64().unwrap() > 0);
        assert_eq!(r.body["changePassword"]["supported"], false);
        let scheme = &r.body["authenticationSchemes"][0];
        assert!(scheme["type"].is_string() && scheme["description"].is_string());
        for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
            let r = okta.post(path, &json!({})).await;
            r.assert_scim_error(405, None);
        }
        let r = okta
            .get("/Users/00000000-0000-0000-0000-000000000000")
            .await;
        r.assert_scim_error(404, None);
        let r = okta.get("/Users/not-even-a-uuid").await;
        r.assert_scim_error(404, None);
        let r = okta
            .get("/Users?filter=emails.value%20eq%20%22nobody%40okta.local%22")
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["totalResults"], 0);
    });
}

#[tokio::test]
async fn user_name_change_takes_effect() {
    on_every_backend!(|server| {
        let (_, okta) = server.org_with_token(&["okta.local"]).await;
        let id = okta.create_user("old.name@okta.local").await;
        let r = okta
            .patch(&format!("/Users/{id}"), &json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","path":"userName","value":"New.Name@okta.local"}]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["userName"], "New.Name@okta.local");
        let r = okta
            .get("/Users?filter=userName%20eq%20%22new.name%40okta.local%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["userName"], "New.Name@okta.local");
        let r = okta
            .get("/Users?filter=userName%20eq%20%22old.name%40okta.local%22")
            .await;
        assert_eq!(r.body["totalResults"], 0);
        // The old name is free again.
        okta.create_user("old.name@okta.local").await;
    });
}

pub fn patch(ops: Value) -> Value {
    json!({"schemas":[PATCH_OP],"Operations": ops})
}
