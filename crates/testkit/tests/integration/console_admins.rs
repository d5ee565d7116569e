//! The console's admins page and admin sign-in through SAML, as a browser uses them: invite
//! from the console, remove an admin, the admin group and granted roles, SSO sign-in with the
//! test IdP, the role checked on every request, CSRF, odd input and isolation.

use super::browser::{assert_console_headers, signed_in_admin, Browser, Page, GOOD_PASSWORD};
use directory::ids::{GroupId, UserId};
use directory::model::{Actor, GroupRecord, ManagedBy, Organization, UserRecord};
use directory::query::AuditQuery;
use serde_json::json;
use testkit::on_every_backend;
use testkit::server::{ScimClient, TestServer};
use testkit::test_idp::{ResponseParams, TestIdp};

const SSO_URL: &str = "https://acme.okta.example/app/portcullis/exk1/sso/saml";

/// The text of the element with `id`.
fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let rest = &page.body[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    rest[..rest.find('<').unwrap()].to_string()
}

/// The `href` of the element with `id`.
fn href_of(page: &Page, id: &str) -> String {
    let at = page
        .body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let rest = &page.body[at..];
    let h = rest.find("href=\"").unwrap() + "href=\"".len();
    rest[h..h + rest[h..].find('"').unwrap()].replace("&amp;", "&")
}

async fn org_of(server: &TestServer, slug: &str) -> Organization {
    server.state.admin.org(slug).await.unwrap()
}

/// An organization with a signed-in password admin, SAML set up with the test IdP, and a SCIM
/// token for its login domain.
struct Sso {
    slug: String,
    org: Organization,
    admin: Browser,
    scim: ScimClient,
    idp: TestIdp,
    domain: String,
    entity_id: String,
    acs: String,
}

async fn sso_org(server: &TestServer) -> Sso {
    let (slug, admin) = signed_in_admin(server, "it@acme.com").await;
    let org = org_of(server, &slug).await;
    let domain = format!(
        "d{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let scim = server.token_for(&slug, &[&domain]).await;
    let conn = server
        .state
        .sso
        .setup(&org, std::slice::from_ref(&domain), &Actor::Cli)
        .await
        .unwrap();
    // A claimed domain routes nobody until proved: the operator approves it.
    server.approve_login_domain(&slug, &domain).await;
    let idp = TestIdp::new(&format!(
        "http://www.okta.com/exk{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    server
        .state
        .sso
        .upload_metadata(&org, &idp.metadata_xml(SSO_URL), &Actor::Cli)
        .await
        .unwrap();
    let urls = server.state.sso.urls(&conn.client_id);
    Sso {
        slug,
        org,
        admin,
        scim,
        idp,
        domain,
        entity_id: urls.entity_id,
        acs: urls.acs_url,
    }
}

/// Signs `user_name` in from the console's SSO form through the test IdP; the browser and
/// the page `/console/sso` answered.
async fn sso_sign_in(server: &TestServer, s: &Sso, user_name: &str) -> (Browser, Page) {
    let mut b = Browser::new(server);
    let login = b.get("/console/login").await;
    assert_eq!(login.status, 200);
    for id in ["sso-email", "sso-sign-in", "sso-form"] {
        assert!(login.body.contains(&format!("id=\"{id}\"")), "#{id}");
    }
    let csrf = login.csrf();
    let p = b
        .post(
            "/console/login/sso",
            &[("csrf", &csrf), ("email", user_name)],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_console_headers(&p);
    let next = href_of(&p, "continue-to-idp");
    assert!(
        p.body.contains("http-equiv=\"refresh\""),
        "no refresh: {}",
        p.body
    );
    let path = next.strip_prefix(&server.base_url).unwrap().to_string();
    assert!(
        path.ends_with("/login?return_to=%2Fconsole%2Fsso"),
        "{path}"
    );
    let to_idp = b.get(&path).await;
    assert_eq!(to_idp.status, 302, "{}", to_idp.body);
    let location = reqwest::Url::parse(to_idp.location()).unwrap();
    let request = location
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .into_owned();
    let xml = saml::authn::decode_redirect_value(&request).unwrap();
    let request_id = xml
        .split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let mut params = ResponseParams::new(&s.acs, &s.entity_id, user_name);
    params.in_response_to = Some(request_id);
    let response = s.idp.response_full(&params);
    let acs_path = s.acs.strip_prefix(&server.base_url).unwrap().to_string();
    let posted = b
        .post(&acs_path, &[("SAMLResponse", &response.saml_response)])
        .await;
    assert_eq!(posted.status, 303, "{}", posted.body);
    assert_eq!(posted.location(), "/console/sso");
    assert!(b.cookie("portcullis_session").is_some());
    let back = b.get("/console/sso").await;
    (b, back)
}

/// Asserts the `/console/sso` answer opened a console session, and follows it.
async fn assert_console_session(b: &mut Browser, back: &Page, email: &str) {
    assert_eq!(back.status, 200, "{}", back.body);
    assert_console_headers(back);
    // A same-origin page moves on (the SameSite=Strict cookie would not follow a redirect
    // of the IdP's cross-site chain).
    assert!(back
        .body
        .contains("http-equiv=\"refresh\" content=\"0;url=/console\""));
    assert_eq!(href_of(back, "continue-to-console"), "/console");
    let set = back.headers["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("portcullis_console="), "{set}");
    assert!(
        set.contains("SameSite=Strict") && set.contains("HttpOnly"),
        "{set}"
    );
    let overview = b.get("/console").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains(email), "{}", overview.body);
}

async fn signed_out(b: &mut Browser) {
    let p = b.get("/console").await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/console/login"),
        "{}",
        p.body
    );
}

/// Adds a local (console-made) user straight to the store: the users page is not ours.
async fn local_user(server: &TestServer, org: &Organization, user_name: &str) -> UserRecord {
    let now = server.state.clock.now();
    let mut u = UserRecord {
        id: UserId::new_random(),
        org_id: org.id,
        user_name: String::new(),
        external_id: None,
        display_name: None,
        active: true,
        emails: Vec::new(),
        doc: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "emails": [{"value": user_name, "primary": true}],
            "active": true,
        }),
        managed_by: ManagedBy::Local,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    u.reindex();
    server.state.store.insert_user(&u).await.unwrap();
    u
}

async fn local_group(server: &TestServer, org: &Organization, name: &str) {
    let now = server.state.clock.now();
    let mut g = GroupRecord {
        id: GroupId::new_random(),
        org_id: org.id,
        display_name: String::new(),
        external_id: None,
        doc: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
        }),
        managed_by: ManagedBy::Local,
        scim_visible: false,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    g.reindex();
    server.state.store.insert_group(&g, &[]).await.unwrap();
}

async fn audit_ops(server: &TestServer, org: &Organization, prefix: &str) -> Vec<(String, u16)> {
    server
        .state
        .admin
        .audit(
            org,
            &AuditQuery {
                operation_prefix: Some(prefix.into()),
                limit: 200,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.operation, e.event.status))
        .collect()
}

async fn post_form(b: &mut Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let p = b.get(page).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let csrf = p.csrf();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(action, &all).await
}

fn id_after(body: &str, prefix: &str) -> String {
    let at = body
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {body}"));
    body[at + prefix.len()..at + prefix.len() + 36].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invite_from_the_console_then_remove_the_admin() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_of(&server, &slug).await;
        let page = b.get("/console/admins").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_console_headers(&page);
        for id in [
            "admins",
            "invite-form",
            "invite-email",
            "invite-admin",
            "admin-roles",
            "admin-group",
            "set-admin-group",
            "admin-user",
            "grant-admin-role",
        ] {
            assert!(page.body.contains(&format!("id=\"{id}\"")), "#{id}");
        }
        assert!(page.body.contains("<label for=\"invite-email\">"));
        assert!(page.body.contains("it@acme.com"));
        assert!(page.body.contains("You"));

        // Invite: the link is shown once, on the answer to the POST.
        let p = b
            .post(
                "/console/admins",
                &[("csrf", &page.csrf()), ("email", " Second@Acme.com ")],
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let link = text_of(&p, "invite-link");
        assert!(p.body.contains("data-copy=\"invite-link\""));
        assert!(link.starts_with(&format!("{}/console/invite/", server.base_url)));
        let again = b.get("/console/admins").await;
        assert!(!again.body.contains(&link), "the link is shown only once");
        assert!(again.body.contains("second@acme.com"));
        assert!(again.body.contains("Invited"));

        // The link works once; the new admin signs in with a password.
        let path = link[server.base_url.len()..].to_string();
        let mut second = Browser::new(&server);
        let form = second.get(&path).await;
        assert_eq!(form.status, 200, "{}", form.body);
        let p = second
            .post(
                &path,
                &[
                    ("csrf", &form.csrf()),
                    ("password", GOOD_PASSWORD),
                    ("confirm", GOOD_PASSWORD),
                ],
            )
            .await;
        assert_eq!((p.status, p.location()), (303, "/console"), "{}", p.body);
        assert_eq!(Browser::new(&server).get(&path).await.status, 404);
        let mut third = Browser::new(&server);
        let p = third.login(&slug, "second@acme.com", GOOD_PASSWORD).await;
        assert_eq!(p.status, 303, "{}", p.body);
        assert_eq!(second.get("/console").await.status, 200);

        // Remove: a confirmation first; it ends both of the second admin's sessions.
        let list = b.get("/console/admins").await;
        let second_id = id_after(&list.body, "id=\"remove-admin-");
        let confirm = b.get(&format!("/console/admins/{second_id}/remove")).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        assert!(confirm.body.contains("second@acme.com"));
        assert!(confirm.body.contains("id=\"confirm-remove-admin\""));
        let p = b
            .post(
                &format!("/console/admins/{second_id}/remove"),
                &[("csrf", &confirm.csrf())],
            )
            .await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/console/admins?removed=1"),
            "{}",
            p.body
        );
        signed_out(&mut second).await;
        signed_out(&mut third).await;
        let p = third.login(&slug, "second@acme.com", GOOD_PASSWORD).await;
        assert_eq!(p.status, 401, "{}", p.body);
        let list = b.get("/console/admins?removed=1").await;
        assert!(list.body.contains("id=\"admins-notice\""));
        assert!(!list.body.contains("second@acme.com"));

        // Removing it again, or yourself: refused.
        let me = server
            .state
            .store
            .admin_by_email(org.id, "it@acme.com")
            .await
            .unwrap()
            .unwrap();
        let csrf = list.csrf();
        let p = b
            .post(
                &format!("/console/admins/{second_id}/remove"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 404, "{}", p.body);
        let p = b
            .post(
                &format!("/console/admins/{}/remove", me.id),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, 409, "{}", p.body);
        assert_eq!(
            b.get(&format!("/console/admins/{}/remove", me.id))
                .await
                .status,
            409
        );
        assert_eq!(b.get("/console").await.status, 200);

        let ops = audit_ops(&server, &org, "console.").await;
        assert!(
            ops.contains(&("console.admin.remove".into(), 200)),
            "{ops:?}"
        );
        assert!(ops.contains(&("console.invite".into(), 200)), "{ops:?}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_group_members_sign_in_through_saml_and_lose_it_with_the_role() {
    on_every_backend!(|server| {
        let mut s = sso_org(&server).await;
        let alice = format!("alice@{}", s.domain);
        let bob = format!("bob@{}", s.domain);
        let alice_id = s.scim.create_user(&alice).await;
        s.scim.create_user(&bob).await;
        let group_id = s.scim.create_group("IT-Admins").await;
        let add = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": alice_id}]}]
        });
        assert_eq!(
            s.scim
                .patch(&format!("/Groups/{group_id}"), &add)
                .await
                .status
                / 100,
            2
        );

        // Before any admin group: signed in to Portcullis, but no console.
        let (_, back) = sso_sign_in(&server, &s, &alice).await;
        assert_eq!(back.status, 403, "{}", back.body);
        assert!(
            back.body.contains("not an admin of Acme Corp"),
            "{}",
            back.body
        );

        // The admin chooses the group by name (case does not matter).
        let p = post_form(
            &mut s.admin,
            "/console/admins",
            "/console/admins/group",
            &[("group", "it-admins")],
        )
        .await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/console/admins?group=1"),
            "{}",
            p.body
        );
        let page = s.admin.get("/console/admins").await;
        assert!(text_of(&page, "admin-group-current").contains("Everyone directly in"));
        assert!(
            page.body.contains("<strong>IT-Admins</strong>"),
            "{}",
            page.body
        );

        // A member signs in and gets a console session.
        let (mut a, back) = sso_sign_in(&server, &s, &alice).await;
        assert_console_session(&mut a, &back, &alice).await;
        let admins = s.admin.get("/console/admins").await;
        assert!(admins.body.contains(&alice), "{}", admins.body);
        assert!(admins.body.contains(">SSO<"), "{}", admins.body);
        // A second sign-in reuses the account.
        let (mut a2, back) = sso_sign_in(&server, &s, &alice).await;
        assert_console_session(&mut a2, &back, &alice).await;
        let accounts = server.state.store.list_admins(s.org.id).await.unwrap();
        assert_eq!(accounts.len(), 2, "{accounts:?}");

        // A non-member: the 403 page says why and whom to ask.
        let (mut nb, back) = sso_sign_in(&server, &s, &bob).await;
        assert_eq!(back.status, 403, "{}", back.body);
        assert_console_headers(&back);
        assert!(
            back.body.contains(&format!(
                "{bob} signed in but is not an admin of Acme Corp: ask an admin to add you to the admin group IT-Admins."
            )),
            "{}",
            back.body
        );
        assert!(back.headers.get("set-cookie").is_none());
        signed_out(&mut nb).await;

        // Removed from the group over SCIM: the next request is signed out.
        let remove = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{alice_id}\"]")}]
        });
        assert_eq!(
            s.scim
                .patch(&format!("/Groups/{group_id}"), &remove)
                .await
                .status
                / 100,
            2
        );
        signed_out(&mut a).await;
        signed_out(&mut a2).await;

        // Back in the group, then deactivated over SCIM: signed out too.
        assert_eq!(
            s.scim
                .patch(&format!("/Groups/{group_id}"), &add)
                .await
                .status
                / 100,
            2
        );
        let (mut a, back) = sso_sign_in(&server, &s, &alice).await;
        assert_console_session(&mut a, &back, &alice).await;
        let deactivate = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        });
        assert_eq!(
            s.scim
                .patch(&format!("/Users/{alice_id}"), &deactivate)
                .await
                .status,
            200
        );
        // SCIM deactivation ended the console session in the store, not just at the check.
        let sessions = server
            .state
            .store
            .delete_user_console_sessions(s.org.id, alice_id.parse().unwrap())
            .await
            .unwrap();
        assert_eq!(sessions, 0);
        signed_out(&mut a).await;

        // Deleted over SCIM: signed out as well.
        let erin = format!("erin@{}", s.domain);
        let erin_id = s.scim.create_user(&erin).await;
        let add_erin = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": erin_id}]}]
        });
        assert_eq!(
            s.scim
                .patch(&format!("/Groups/{group_id}"), &add_erin)
                .await
                .status
                / 100,
            2
        );
        let (mut e, back) = sso_sign_in(&server, &s, &erin).await;
        assert_console_session(&mut e, &back, &erin).await;
        assert_eq!(
            s.scim.delete(&format!("/Users/{erin_id}")).await.status,
            204
        );
        signed_out(&mut e).await;

        // Clearing the group: refused on the next sign-in, with the other advice.
        let p = post_form(
            &mut s.admin,
            "/console/admins",
            "/console/admins/group/clear",
            &[],
        )
        .await;
        assert_eq!(p.location(), "/console/admins?cleared=1", "{}", p.body);
        // The password admin was never affected.
        assert_eq!(s.admin.get("/console").await.status, 200);

        let ops = audit_ops(&server, &s.org, "console.").await;
        for want in [
            ("console.signin.sso", 200),
            ("console.signin.sso", 403),
            ("console.admin_group.set", 200),
            ("console.admin_group.clear", 200),
        ] {
            assert!(
                ops.contains(&(want.0.into(), want.1)),
                "{want:?} in {ops:?}"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_users_granted_the_role_sign_in_until_revoked() {
    on_every_backend!(|server| {
        let mut s = sso_org(&server).await;
        let carol_name = format!("carol@{}", s.domain);
        let carol = local_user(&server, &s.org, &carol_name).await;
        let dave = format!("dave@{}", s.domain);
        s.scim.create_user(&dave).await;

        // Externally Managed and unknown users are refused with the reason.
        for (name, says) in [
            (dave.as_str(), "Externally Managed"),
            (
                "nobody@acme.com",
                "There is no user with userName nobody@acme.com",
            ),
        ] {
            let p = post_form(
                &mut s.admin,
                "/console/admins",
                "/console/admins/users",
                &[("user_name", name)],
            )
            .await;
            assert_eq!(p.status, 400, "{}", p.body);
            assert!(text_of(&p, "admin-user-error").contains(says), "{}", p.body);
        }

        let p = post_form(
            &mut s.admin,
            "/console/admins",
            "/console/admins/users",
            &[("user_name", &carol_name.to_uppercase())],
        )
        .await;
        assert_eq!(p.location(), "/console/admins?granted=1", "{}", p.body);
        let page = s.admin.get("/console/admins").await;
        assert!(page.body.contains("id=\"admin-users\""));
        assert!(page.body.contains(&carol_name));

        // Invited first (no password yet): her SSO sign-in links that account, no second one.
        let p = post_form(
            &mut s.admin,
            "/console/admins",
            "/console/admins",
            &[("email", &carol_name)],
        )
        .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let (mut c, back) = sso_sign_in(&server, &s, &carol_name).await;
        assert_console_session(&mut c, &back, &carol_name).await;
        let accounts = server.state.store.list_admins(s.org.id).await.unwrap();
        assert_eq!(accounts.len(), 2, "{accounts:?}");
        let account = accounts.iter().find(|a| a.email == carol_name).unwrap();
        assert_eq!(account.user_id, Some(carol.id));
        let page = s.admin.get("/console/admins").await;
        assert!(
            page.body
                .contains(&format!("<td>{carol_name}</td><td>SSO</td><td>Active</td>")),
            "{}",
            page.body
        );
        // No password: the password form refuses her, and the SSO session stays.
        let mut pw = Browser::new(&server);
        let p = pw.login(&s.slug, &carol_name, GOOD_PASSWORD).await;
        assert_eq!(p.status, 401, "{}", p.body);
        assert_eq!(c.get("/console").await.status, 200);

        // Revoke: her SSO console session ends at once.
        let action = format!("/console/admins/users/{}/revoke", carol.id);
        let p = post_form(&mut s.admin, "/console/admins", &action, &[]).await;
        assert_eq!(p.location(), "/console/admins?revoked=1", "{}", p.body);
        signed_out(&mut c).await;
        let p = post_form(&mut s.admin, "/console/admins", &action, &[]).await;
        assert_eq!(p.status, 404, "{}", p.body);
        let (_, back) = sso_sign_in(&server, &s, &carol_name).await;
        assert_eq!(back.status, 403, "{}", back.body);
        assert!(
            back.body.contains("grant you the admin role"),
            "{}",
            back.body
        );

        let ops = audit_ops(&server, &s.org, "console.admin_role").await;
        for want in [
            ("console.admin_role.grant", 200),
            ("console.admin_role.grant", 400),
            ("console.admin_role.revoke", 200),
        ] {
            assert!(
                ops.contains(&(want.0.into(), want.1)),
                "{want:?} in {ops:?}"
            );
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_unknown_and_odd_groups_are_refused() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_of(&server, &slug).await;
        local_group(&server, &org, "Local-Admins").await;
        for (name, status, says) in [
            ("Local-Admins", 400, "is a local group"),
            ("IT-Admins", 400, "There is no group named IT-Admins"),
            ("   ", 400, "Type the group"),
            ("a\u{0}b", 400, "one line"),
            (&"x".repeat(3000) as &str, 400, "one line"),
        ] {
            let p = post_form(
                &mut b,
                "/console/admins",
                "/console/admins/group",
                &[("group", name)],
            )
            .await;
            assert_eq!(p.status, status, "{name:?}: {}", p.body);
            assert!(
                text_of(&p, "admin-group-error").contains(says),
                "{name:?}: {}",
                p.body
            );
            assert_console_headers(&p);
        }
        let page = b.get("/console/admins").await;
        assert!(text_of(&page, "admin-group-current").contains("No group"));
        let ops = audit_ops(&server, &org, "console.admin_group").await;
        assert!(
            ops.contains(&("console.admin_group.set".into(), 400)),
            "{ops:?}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_new_form_refuses_missing_or_wrong_csrf() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let org = org_of(&server, &slug).await;
        let other = server
            .state
            .console
            .invite(&org, "other@acme.com", &Actor::Cli)
            .await
            .unwrap();
        let user = local_user(&server, &org, "local@acme.com").await;
        server
            .state
            .store
            .grant_admin_role(org.id, user.id, server.state.clock.now())
            .await
            .unwrap();
        let forms = [
            ("/console/admins".to_string(), ("email", "x@acme.com")),
            (
                format!("/console/admins/{}/remove", other.admin.id),
                ("x", "y"),
            ),
            ("/console/admins/group".to_string(), ("group", "IT-Admins")),
            ("/console/admins/group/clear".to_string(), ("x", "y")),
            (
                "/console/admins/users".to_string(),
                ("user_name", "local@acme.com"),
            ),
            (
                format!("/console/admins/users/{}/revoke", user.id),
                ("x", "y"),
            ),
        ];
        for (action, field) in &forms {
            let p = b.post(action, &[*field]).await;
            assert_eq!(p.status, 403, "{action} without csrf: {}", p.body);
            let p = b.post(action, &[("csrf", "csrf_wrong"), *field]).await;
            assert_eq!(p.status, 403, "{action} with a wrong csrf: {}", p.body);
        }
        // Nothing changed.
        assert!(server
            .state
            .store
            .admin_by_id(org.id, other.admin.id)
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            server.state.store.admin_role_users(org.id).await.unwrap(),
            vec![user.id]
        );
        assert_eq!(server.state.store.admin_group(org.id).await.unwrap(), None);

        // The signed-out SSO form is double-submitted.
        let mut c = Browser::new(&server);
        let p = c
            .post("/console/login/sso", &[("email", "a@acme.com")])
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        c.get("/console/login").await;
        let p = c
            .post(
                "/console/login/sso",
                &[("csrf", "csrf_wrong"), ("email", "a@acme.com")],
            )
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_input_and_other_organizations_are_4xx() {
    on_every_backend!(|server| {
        let (_, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let (other_slug, _) = signed_in_admin(&server, "it@other.com").await;
        let other_org = org_of(&server, &other_slug).await;
        let other_admin = server
            .state
            .store
            .admin_by_email(other_org.id, "it@other.com")
            .await
            .unwrap()
            .unwrap();
        let page = b.get("/console/admins").await;
        let csrf = page.csrf();

        // Another organization's admin, malformed ids: 404, never a change.
        for id in [
            other_admin.id.to_string(),
            "nonsense".into(),
            "%FF%FE".into(),
            uuid::Uuid::new_v4().to_string(),
        ] {
            let path = format!("/console/admins/{id}/remove");
            assert_eq!(b.get(&path).await.status, 404, "{path}");
            assert_eq!(
                b.post(&path, &[("csrf", &csrf)]).await.status,
                404,
                "{path}"
            );
            let revoke = format!("/console/admins/users/{id}/revoke");
            assert_eq!(
                b.post(&revoke, &[("csrf", &csrf)]).await.status,
                404,
                "{revoke}"
            );
        }
        assert!(server
            .state
            .store
            .admin_by_id(other_org.id, other_admin.id)
            .await
            .unwrap()
            .is_some());

        // Odd invitation emails: the form again with the reason.
        for email in [
            "",
            "not-an-email",
            "a b@c.d",
            "\u{0}@x.y",
            &"a".repeat(3000),
        ] {
            let p = b
                .post("/console/admins", &[("csrf", &csrf), ("email", email)])
                .await;
            assert_eq!(p.status, 400, "{email:?}: {}", p.body);
            assert!(p.body.contains("id=\"invite-error\""), "{}", p.body);
        }
        // Odd userNames.
        for name in ["", "\u{7}", &"u".repeat(3000)] {
            let p = b
                .post(
                    "/console/admins/users",
                    &[("csrf", &csrf), ("user_name", name)],
                )
                .await;
            assert_eq!(p.status, 400, "{name:?}: {}", p.body);
        }
        // Not UTF-8, a body too big, an odd query string.
        let p = b
            .post_raw(
                "/console/admins/group",
                format!("csrf={csrf}&group=%FF%FE").into_bytes(),
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        let p = b.post_raw("/console/admins", vec![b'a'; 64 * 1024]).await;
        assert_eq!(p.status, 413);
        assert_eq!(b.get("/console/admins?removed=%FF&x").await.status, 200);

        // The SSO form: odd and unrouted emails come back with the reason.
        let mut c = Browser::new(&server);
        let login = c.get("/console/login").await;
        let token = login.csrf();
        for (email, status) in [("", 400), ("nobody", 400), ("x@unrouted.example", 404)] {
            let p = c
                .post("/console/login/sso", &[("csrf", &token), ("email", email)])
                .await;
            assert_eq!(p.status, status, "{email:?}: {}", p.body);
            assert!(p.body.contains("id=\"sso-error\""), "{}", p.body);
        }
        // /console/sso without a SAML session, or with a forged one.
        assert_eq!(c.get("/console/sso").await.status, 401);
        c.cookies
            .push(("portcullis_session".into(), "pcs_session_forged".into()));
        assert_eq!(c.get("/console/sso").await.status, 401);
        // Signed out: the admins page and its forms send to the sign-in page.
        let mut d = Browser::new(&server);
        let p = d.get("/console/admins").await;
        assert_eq!((p.status, p.location()), (303, "/console/login"));
    });
}
