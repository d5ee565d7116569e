//! Every Entra ID request of idp-behaviour.md.

use crate::okta::patch;
use serde_json::json;
use testkit::on_every_backend;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn test_connection_with_random_guid() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let guid = uuid::Uuid::new_v4();
        let r = entra
            .get(&format!("/Users?filter=userName%20eq%20%22{guid}%22"))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["totalResults"], 0);
        assert_eq!(r.body["Resources"], json!([]));
    });
}

#[tokio::test]
async fn capitalised_ops_string_booleans_and_dotted_keys() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let id = entra.create_user("adele@contoso.com").await;
        for (value, expected) in [
            ("False", false),
            ("True", true),
            ("false", false),
            ("true", true),
        ] {
            let r = entra
                .patch(
                    &format!("/Users/{id}"),
                    &patch(json!([{"op":"Replace","path":"active","value": value}])),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["active"], expected);
        }
        let r = entra
            .patch(&format!("/Users/{id}"), &patch(json!([{"op":"replace","value":{
                "displayName":"X","name.givenName":"A","name.familyName":"B",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"12"}}])))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["displayName"], "X");
        assert_eq!(r.body["name"]["givenName"], "A");
        assert_eq!(r.body["name"]["familyName"], "B");
        assert_eq!(r.body[ENTERPRISE]["employeeNumber"], "12");
        assert!(r.body["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == ENTERPRISE));
    });
}

#[tokio::test]
async fn work_email_is_created_by_value_path() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let r = entra
            .post("/Users", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@contoso.com","active":true}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = entra
            .patch(&format!("/Users/{id}"), &patch(json!([{"op":"Add","path":"emails[type eq \"work\"].value","value":"bob@contoso.com"}])))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let emails = r.body["emails"].as_array().unwrap();
        assert_eq!(emails.len(), 1);
        assert_eq!(emails[0]["type"], "work");
        assert_eq!(emails[0]["value"], "bob@contoso.com");
        let r = entra
            .get("/Users?filter=emails.value%20eq%20%22BOB%40contoso.com%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);
    });
}

#[tokio::test]
async fn manager_forms() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let boss = entra.create_user("boss@contoso.com").await;
        let id = entra.create_user("report@contoso.com").await;
        let path = format!("{ENTERPRISE}:manager");
        let r = entra
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op":"Add","path": path,"value":[{"value": boss}]}])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss.as_str());
        let r = entra
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op":"Replace","path": path,"value":""}])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body
                .get(ENTERPRISE)
                .is_none_or(|e| e.get("manager").is_none()),
            "{}",
            r.body
        );
        let r = entra
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op":"Replace","path": path,"value": boss}])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], boss.as_str());
    });
}

#[tokio::test]
async fn group_with_extra_schema_and_member_removal_forms() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let a = entra.create_user("a@contoso.com").await;
        let b = entra.create_user("b@contoso.com").await;
        let c = entra.create_user("c@contoso.com").await;
        let r = entra
            .post("/Groups", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "displayName":"Finance","externalId":"8aa1a0c0","members":[{"value": a},{"value": b},{"value": c}]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let gid = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["members"].as_array().unwrap().len(), 3);
        let r = entra
            .patch(
                &format!("/Groups/{gid}"),
                &patch(
                    json!([{"op":"Remove","path":"members","value":[{"value": a},{"value": b}]}]),
                ),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        // Groups are read without members; the answer must not carry them.
        let r = entra
            .get(&format!("/Groups/{gid}?excludedAttributes=members"))
            .await;
        assert_eq!(r.status, 200);
        assert!(r.body.get("members").is_none());
        assert_eq!(r.body["displayName"], "Finance");
        let r = entra
            .get("/Groups?excludedAttributes=members&filter=externalId%20eq%20%228aa1a0c0%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);
        assert!(r.body["Resources"][0].get("members").is_none());
        let r = entra.get(&format!("/Groups/{gid}")).await;
        let left: Vec<&str> = r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        assert_eq!(left, vec![c.as_str()]);
    });
}

#[tokio::test]
async fn filters_entra_uses() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let r = entra
            .post("/Users", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve@contoso.com","externalId":"Eve-1","active":true}))
            .await;
        assert_eq!(r.status, 201);
        let r = entra
            .get("/Users?filter=externalId%20eq%20%22Eve-1%22")
            .await;
        assert_eq!(r.body["totalResults"], 1);
        // externalId is case-exact.
        let r = entra
            .get("/Users?filter=externalId%20eq%20%22eve-1%22")
            .await;
        assert_eq!(r.body["totalResults"], 0);
        let r = entra.get("/Users?filter=externalId%20eq%20%22Eve-1%22%20and%20userName%20eq%20%22EVE%40contoso.com%22").await;
        assert_eq!(r.body["totalResults"], 1);
        let r = entra.get("/Users?filter=externalId%20eq%20%22Eve-1%22%20and%20userName%20eq%20%22other%40contoso.com%22").await;
        assert_eq!(r.body["totalResults"], 0);
    });
}

#[tokio::test]
async fn deprovision_deactivate_then_delete() {
    on_every_backend!(|server| {
        let (_, entra) = server.org_with_token(&["contoso.com"]).await;
        let id = entra.create_user("gone@contoso.com").await;
        let gid = entra.create_group("Team").await;
        entra
            .patch(
                &format!("/Groups/{gid}"),
                &patch(json!([{"op":"Add","path":"members","value":[{"value": id}]}])),
            )
            .await;
        let r = entra
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op":"Replace","path":"active","value":"False"}])),
            )
            .await;
        assert_eq!(r.status, 200);
        let r = entra.delete(&format!("/Users/{id}")).await;
        assert_eq!(r.status, 204);
        entra
            .get(&format!("/Users/{id}"))
            .await
            .assert_scim_error(404, None);
        entra
            .delete(&format!("/Users/{id}"))
            .await
            .assert_scim_error(404, None);
        // DELETE removes memberships too.
        let r = entra.get(&format!("/Groups/{gid}")).await;
        assert!(
            r.body["members"].as_array().is_none_or(|m| m.is_empty()),
            "{}",
            r.body
        );
    });
}
