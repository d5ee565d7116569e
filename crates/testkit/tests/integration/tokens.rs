//! Token rules: hash at rest, revocation on the next request, domains, tenant isolation, audit.

use crate::okta::patch;
use directory::model::Actor;
use directory::token::hash_secret;
use serde_json::json;
use testkit::on_every_backend;

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    on_every_backend!(|server| {
        let (slug, client) = server.org_with_token(&["acme.com"]).await;
        let org = server.state.admin.org(&slug).await.unwrap();
        let tokens = server.state.admin.list_tokens(&org).await.unwrap();
        assert_eq!(tokens.len(), 1);
        let t = &tokens[0];
        assert_ne!(t.hash, client.token);
        assert!(!t.hash.contains(&client.token));
        assert_eq!(t.hash, hash_secret(&client.token));
        assert!(client.token.starts_with(&t.prefix));
        assert!(t.prefix.len() < client.token.len() / 2);
    });
}

#[tokio::test]
async fn revocation_takes_effect_on_the_next_request() {
    on_every_backend!(|server| {
        let (slug, client) = server.org_with_token(&["acme.com"]).await;
        let second = server.token_for(&slug, &["acme.com"]).await;
        assert_eq!(client.get("/Users").await.status, 200);
        let org = server.state.admin.org(&slug).await.unwrap();
        // Two tokens may share a creation millisecond: pick the one this client holds.
        let id = server
            .state
            .admin
            .list_tokens(&org)
            .await
            .unwrap()
            .into_iter()
            .find(|t| client.token.starts_with(&t.prefix))
            .unwrap()
            .id;
        server
            .state
            .admin
            .revoke_token(&org, &id.to_string(), &Actor::Cli)
            .await
            .unwrap();
        let r = client.get("/Users").await;
        r.assert_scim_error(401, None);
        assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
        // Another live token of the same organization keeps working (rotation).
        assert_eq!(second.get("/Users").await.status, 200);
    });
}

#[tokio::test]
async fn users_outside_the_token_domains_are_refused() {
    on_every_backend!(|server| {
        let (slug, client) = server.org_with_token(&["acme.com", "acme.io"]).await;
        assert_eq!(
            client
                .post(
                    "/Users",
                    &testkit::server::ScimClient::okta_user("a@acme.io", "A", "B", "1")
                )
                .await
                .status,
            201
        );
        let r = client
            .post(
                "/Users",
                &testkit::server::ScimClient::okta_user("eve@other.com", "E", "V", "2"),
            )
            .await;
        r.assert_scim_error(403, None);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(
            detail.contains("other.com")
                && detail.contains("acme.com")
                && detail.contains("acme.io"),
            "{detail}"
        );

        // userName that is not an email: the primary email decides.
        let r = client
            .post("/Users", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdoe","emails":[{"value":"jdoe@other.com","primary":true}]}))
            .await;
        r.assert_scim_error(403, None);
        let r = client
            .post("/Users", &json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdoe","emails":[{"value":"jdoe@acme.com","primary":true}]}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);

        // Every userName change is checked too, and a refused PATCH changes nothing.
        let id = client.create_user("mover@acme.com").await;
        let r = client
            .patch(
                &format!("/Users/{id}"),
                &patch(json!([{"op":"replace","path":"userName","value":"mover@other.com"}])),
            )
            .await;
        r.assert_scim_error(403, None);
        assert_eq!(
            client.get(&format!("/Users/{id}")).await.body["userName"],
            "mover@acme.com"
        );

        // Editing the token's domains lets the user in without a new token.
        let org = server.state.admin.org(&slug).await.unwrap();
        let tid = server.state.admin.list_tokens(&org).await.unwrap()[0].id;
        server
            .state
            .admin
            .set_token_domains(
                &org,
                &tid.to_string(),
                &["acme.com".into(), "other.com".into()],
                &Actor::Cli,
            )
            .await
            .unwrap();
        assert_eq!(
            client
                .post(
                    "/Users",
                    &testkit::server::ScimClient::okta_user("eve@other.com", "E", "V", "2")
                )
                .await
                .status,
            201
        );
    });
}

#[tokio::test]
async fn organizations_never_see_each_other() {
    on_every_backend!(|server| {
        let (_, a) = server.org_with_token(&["*"]).await;
        let (_, b) = server.org_with_token(&["*"]).await;
        let uid = a.create_user("shared.name@acme.com").await;
        let gid = a.create_group("A only").await;
        assert_eq!(b.get("/Users").await.body["totalResults"], 0);
        assert_eq!(b.get("/Groups").await.body["totalResults"], 0);
        b.get(&format!("/Users/{uid}"))
            .await
            .assert_scim_error(404, None);
        b.get(&format!("/Groups/{gid}"))
            .await
            .assert_scim_error(404, None);
        b.patch(
            &format!("/Users/{uid}"),
            &patch(json!([{"op":"replace","path":"active","value":false}])),
        )
        .await
        .assert_scim_error(404, None);
        b.put(
            &format!("/Users/{uid}"),
            &testkit::server::ScimClient::okta_user("x@acme.com", "X", "Y", "z"),
        )
        .await
        .assert_scim_error(404, None);
        b.delete(&format!("/Users/{uid}"))
            .await
            .assert_scim_error(404, None);
        b.delete(&format!("/Groups/{gid}"))
            .await
            .assert_scim_error(404, None);
        let r = b
            .get("/Users?filter=userName%20eq%20%22shared.name%40acme.com%22")
            .await;
        assert_eq!(r.body["totalResults"], 0);
        // The same userName is free in organization B.
        let bid = b.create_user("shared.name@acme.com").await;
        // B cannot put A's user into B's group, nor B's user into A's group: an id that names
        // nothing in the caller's organization is left out, as unknown ids are.
        let bg = b.create_group("B group").await;
        let r = b
            .patch(
                &format!("/Groups/{bg}"),
                &patch(json!([{"op":"add","path":"members","value":[{"value": uid}]}])),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(b.get(&format!("/Groups/{bg}")).await.body["members"]
            .as_array()
            .is_none_or(|m| m.is_empty()));
        let r = a
            .patch(
                &format!("/Groups/{gid}"),
                &patch(json!([{"op":"add","path":"members","value":[{"value": bid}]}])),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(a.get(&format!("/Groups/{gid}")).await.body["members"]
            .as_array()
            .is_none_or(|m| m.is_empty()));
        assert!(a
            .get(&format!("/Users/{uid}"))
            .await
            .body
            .get("groups")
            .is_none());
        assert_eq!(a.get(&format!("/Users/{uid}")).await.body["active"], true);
    });
}

#[tokio::test]
async fn every_scim_write_is_audited() {
    on_every_backend!(|server| {
        let (slug, client) = server.org_with_token(&["acme.com"]).await;
        let id = client.create_user("audited@acme.com").await;
        client
            .post(
                "/Users",
                &testkit::server::ScimClient::okta_user("x@other.com", "X", "Y", "1"),
            )
            .await;
        let org = server.state.admin.org(&slug).await.unwrap();
        let token_id = server.state.admin.list_tokens(&org).await.unwrap()[0]
            .id
            .to_string();
        let events = server
            .state
            .admin
            .audit(
                &org,
                &directory::query::AuditQuery {
                    limit: 50,
                    operation_prefix: Some("scim.".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(events.len(), 2);
        let refused = &events[0].event;
        assert_eq!(refused.operation, "scim.user.create");
        assert_eq!(refused.status, 403);
        assert!(refused.detail.as_deref().unwrap().contains("other.com"));
        assert_eq!(refused.actor_id.as_deref(), Some(token_id.as_str()));
        let ok = &events[1].event;
        assert_eq!(ok.status, 200);
        assert_eq!(ok.resource_id.as_deref(), Some(id.as_str()));
        assert_eq!(ok.resource_type.as_deref(), Some("User"));
    });
}
