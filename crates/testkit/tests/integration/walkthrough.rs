//! The setup guide walked in headless Chromium, as an IT admin does it: accept the invitation,
//! sign in to the console, generate the Client ID and upload the IdP metadata on the SAML page,
//! generate the SCIM token, let the "IdP" provision users and a group with it, see them
//! Externally Managed and the SCIM group refuse edits, test SAML sign-in from the console, sign
//! a provisioned user in through `/login` at an HTTPS test IdP, invite a second admin and let
//! an IdP group's member into the console through SSO, then read it all in the audit log.
//!
//! Each step is one function that asserts what the admin sees (page text, address, cookies)
//! and then, when `PORTCULLIS_SCREENSHOTS` names a directory, leaves a numbered screenshot
//! there (`01-invite.png`, `02-console-sign-in.png`, …): `scripts/console-screenshots.sh`
//! regenerates the ones in `docs/console/`.
//!
//! Runs on SQLite only: the browser is what is under test here (every store is covered by
//! the other HTTP tests), and a fresh database lets the organization own `acme.com`, as in
//! the guide.

use super::browser::GOOD_PASSWORD;
use directory::model::Actor;
use serde_json::{json, Value};
use std::path::PathBuf;
use testkit::chrome::{screenshot_dir, Chrome, DESKTOP, PHONE};
use testkit::server::{Backend, ScimClient, TestServer};
use testkit::test_idp::{IdpServer, TestIdp};

const ADMIN: &str = "it@acme.com";
const DOMAIN: &str = "acme.com";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What the steps share: the server, the browser, and what earlier steps produced.
struct Walk {
    server: TestServer,
    chrome: Chrome,
    shots: Option<PathBuf>,
    taken: usize,
    slug: String,
    invite_path: String,
    scim_token: String,
    users: Vec<(String, String)>,
    group_id: String,
    idp: Option<IdpServer>,
    client_id: String,
}

impl Walk {
    /// The next numbered screenshot of the page shown, when screenshots are asked for.
    async fn shot(&mut self, name: &str) {
        let Some(dir) = &self.shots else { return };
        self.taken += 1;
        let path = dir.join(format!("{:02}-{name}.png", self.taken));
        let png = self.chrome.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is no PNG");
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The same at a phone's size, then back to the desktop window.
    async fn phone_shot(&mut self, name: &str) {
        if self.shots.is_none() {
            return;
        }
        self.chrome.resize(PHONE).await;
        self.shot(name).await;
        self.chrome.resize(DESKTOP).await;
    }

    fn scim(&self) -> ScimClient {
        self.server.client(&self.scim_token)
    }
}

/// Runs the steps in order, each named in the log so a failure says where the walk stopped.
macro_rules! walk {
    ($w:ident: $($step:ident),+ $(,)?) => {
        $(
            eprintln!("walkthrough: {}", stringify!($step));
            $step(&mut $w).await;
        )+
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_setup_guide_in_a_real_browser() {
    let server = TestServer::start(Backend::Sqlite).await;
    let chrome = Chrome::start(&server.base_url).await;
    let mut w = Walk {
        server,
        chrome,
        shots: screenshot_dir(),
        taken: 0,
        slug: String::new(),
        invite_path: String::new(),
        scim_token: String::new(),
        users: Vec::new(),
        group_id: String::new(),
        idp: None,
        client_id: String::new(),
    };
    walk!(w:
        invite,
        accept_invitation,
        console_sign_in,
        saml_page,
        generate_token,
        provision_over_scim,
        users_externally_managed,
        scim_group_read_only,
        console_test_sign_in,
        sso_sign_in,
        admins_and_sso_admin,
        audit_log,
        setup_complete,
    );
    w.chrome.quit().await;
}

/// The operator creates the organization and invites its IT admin (the directory services,
/// as `portcullis admin invite` does).
async fn invite(w: &mut Walk) {
    let slug = format!("acme-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let state = &w.server.state;
    let org = state
        .admin
        .create_org(&slug, Some("Acme Corp"))
        .await
        .unwrap();
    let issued = state
        .console
        .invite(&org, ADMIN, &Actor::Cli)
        .await
        .unwrap();
    w.invite_path = issued
        .link
        .strip_prefix(&w.server.base_url)
        .unwrap_or_else(|| panic!("the link {} is not on this server", issued.link))
        .to_string();
    w.slug = slug;

    w.chrome.goto(&w.invite_path).await;
    assert_eq!(w.chrome.path().await, w.invite_path);
    let page = w.chrome.body_text().await;
    assert!(
        page.contains(ADMIN),
        "the invitation does not name {ADMIN}: {page}"
    );
    assert!(page.contains("New password"), "{page}");
    w.chrome.fill("password", GOOD_PASSWORD).await;
    w.chrome.fill("Confirm the password", GOOD_PASSWORD).await;
    w.shot("invite").await;
}

/// Setting the password signs the admin in and opens the console's overview.
async fn accept_invitation(w: &mut Walk) {
    w.chrome.click_text("Set password and sign in").await;
    w.chrome.wait_for_path("/console").await;
    assert_eq!(w.chrome.heading().await, "Overview");
    let page = w.chrome.body_text().await;
    assert!(page.contains("Acme Corp") && page.contains(ADMIN), "{page}");
    assert!(page.contains(&w.slug), "{page}");
    // The console session cookie is HttpOnly yet visible to WebDriver; its value is opaque.
    let session = w.chrome.cookie("portcullis_console").await;
    assert!(
        session.is_some_and(|s| s.len() >= 20),
        "no console session cookie"
    );

    // The link was for one use: opening it again is refused.
    w.chrome.goto(&w.invite_path).await;
    let again = w.chrome.body_text().await;
    assert!(
        !again.contains("New password"),
        "the invitation works twice: {again}"
    );
    w.chrome.goto("/console").await;
}

/// Signs out, then in again with the password at /console/login.
async fn console_sign_in(w: &mut Walk) {
    w.chrome.click_text("Sign out").await;
    w.chrome.wait_for_path("/console/login").await;
    assert!(w.chrome.cookie("portcullis_console").await.is_none());
    w.chrome.goto("/console").await;
    w.chrome.wait_for_path("/console/login").await;

    // A wrong password is refused on the page, without a session.
    let slug = w.slug.clone();
    w.chrome.fill("organization", &slug).await;
    w.chrome.fill("email", ADMIN).await;
    w.chrome.fill("password", "not the password at all").await;
    w.chrome.click_text("Sign in").await;
    w.chrome.wait_for_path("/console/login").await;
    assert!(w.chrome.cookie("portcullis_console").await.is_none());

    w.chrome.fill("organization", &slug).await;
    w.chrome.fill("email", ADMIN).await;
    w.chrome.fill("password", GOOD_PASSWORD).await;
    w.shot("console-sign-in").await;
    w.chrome.click_text("Sign in").await;
    w.chrome.wait_for_path("/console").await;
    assert_eq!(w.chrome.heading().await, "Overview");
    assert!(w.chrome.cookie("portcullis_console").await.is_some());
    w.shot("overview").await;
}

/// "Generate the API token": the tokens page shows it once, with the SCIM base URL.
async fn generate_token(w: &mut Walk) {
    w.chrome.click_text("SCIM tokens").await;
    w.chrome.wait_for_path("/console/tokens").await;
    assert!(w.chrome.body_text().await.contains("No tokens yet"));
    w.chrome.fill("name", "okta-prod").await;
    w.chrome.fill("Email domains", DOMAIN).await;
    w.chrome.click_text("Generate token").await;

    let token = w.chrome.wait_for("scim-token").await;
    assert!(token.starts_with("pcs_"), "{token}");
    let base = w.chrome.text("scim-base").await;
    assert_eq!(base, format!("{}/scim/v2", w.server.base_url));
    // Shown on the page that answers the POST, never in an address.
    assert!(!w.chrome.url().await.contains(&token));
    w.scim_token = token;
    w.shot("token-generated").await;
    w.phone_shot("token-generated-phone").await;

    // The list never shows it again, only its prefix.
    w.chrome.goto("/console/tokens").await;
    let list = w.chrome.body_text().await;
    assert!(
        list.contains("okta-prod") && list.contains(DOMAIN),
        "{list}"
    );
    assert!(list.contains(&w.scim_token[..8]), "{list}");
    assert!(
        !list.contains(&w.scim_token),
        "the list shows the token: {list}"
    );
    assert!(list.contains("never"), "used before the IdP had it: {list}");
}

/// Okta provisions users and a group with the token; the tokens page then shows it was used.
async fn provision_over_scim(w: &mut Walk) {
    let scim = w.scim();
    assert_eq!(scim.get("/Users?startIndex=1&count=2").await.status, 200);
    for (i, (given, family)) in [("Jane", "Doe"), ("Raj", "Patel")].into_iter().enumerate() {
        let email = format!(
            "{}.{}@{DOMAIN}",
            given.to_lowercase(),
            family.to_lowercase()
        );
        let r = scim
            .post(
                "/Users",
                &ScimClient::okta_user(&email, given, family, &format!("00u{i}")),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        w.users
            .push((email, r.body["id"].as_str().unwrap().to_string()));
    }
    // The token is for acme.com only.
    let other = ScimClient::okta_user("eve@other.com", "Eve", "Other", "00u9");
    assert_eq!(scim.post("/Users", &other).await.status, 403);

    w.group_id = scim.create_group("Engineering").await;
    let members: Vec<Value> = w.users.iter().map(|(_, id)| json!({"value": id})).collect();
    let r = scim
        .patch(
            &format!("/Groups/{}", w.group_id),
            &json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": members}]}),
        )
        .await;
    assert!(matches!(r.status, 200 | 204), "{}", r.body);

    w.chrome.goto("/console/tokens").await;
    let list = w.chrome.body_text().await;
    assert!(
        !list.contains("never"),
        "the token's last use is not shown: {list}"
    );
    w.shot("token-used").await;
}

/// A provisioned user signs in: /login routes the email to the organization's IdP, the IdP
/// posts its signed response back, and /me shows who is signed in.
async fn sso_sign_in(w: &mut Walk) {
    let idp_sso = w.idp.as_ref().unwrap().sso_url.clone();
    let (jane, _) = w.users[0].clone();
    // The console's test sign-in left Jane signed in; she signs out first.
    w.chrome.goto("/me").await;
    if w.chrome.heading().await == "Signed in" {
        sso_sign_out(w).await;
    }
    w.chrome.goto("/login").await;
    w.chrome.fill("Work email", &jane).await;
    w.shot("sso-login").await;
    w.chrome.click_text("Continue").await;

    // At the IdP: the AuthnRequest came through the Redirect binding.
    w.chrome.wait_for_url_prefix(&idp_sso).await;
    let at_idp = w.chrome.wait_for("signed-in-as").await;
    assert!(at_idp.contains(&jane), "{at_idp}");
    assert!(w.chrome.cookie("portcullis_session").await.is_none());
    w.shot("idp").await;
    w.chrome.click("continue").await;

    w.chrome.wait_for_path("/me").await;
    assert_eq!(w.chrome.heading().await, "Signed in");
    let me = w.chrome.body_text().await;
    assert!(me.contains("Jane Doe") && me.contains(&jane), "{me}");
    assert!(me.contains(&w.slug) && me.contains("Engineering"), "{me}");
    assert!(w.chrome.cookie("portcullis_session").await.is_some());
    w.shot("signed-in").await;

    // Signing out ends the session.
    sso_sign_out(w).await;
}

/// Signs out on /me and waits for the answer before looking again.
async fn sso_sign_out(w: &mut Walk) {
    w.chrome.click_text("Sign out").await;
    for _ in 0..100 {
        if w.chrome.cookie("portcullis_session").await.is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(w.chrome.cookie("portcullis_session").await.is_none());
    w.chrome.goto("/me").await;
    assert_eq!(w.chrome.heading().await, "Not signed in");
}

/// "Check the audit log": the console shows what the IdP did, the refusal with its reason, and
/// the sign-in; filtering to refusals leaves only the refusal.
async fn audit_log(w: &mut Walk) {
    w.chrome.goto("/console").await;
    w.chrome.click_text("Audit log").await;
    w.chrome.wait_for_path("/console/audit").await;
    assert_eq!(w.chrome.heading().await, "Audit log");
    let log = w.chrome.text("audit-events").await;
    for seen in [
        "scim.user.create",
        "scim.group.create",
        "saml.signin",
        "token.create",
        "email domain other.com is not allowed for token okta-prod",
    ] {
        assert!(log.contains(seen), "the audit log lacks {seen}: {log}");
    }
    w.shot("audit-log").await;

    // Every actor on the page (token, IdP, admin, the user who signed in to the console through
    // SSO) links to that actor's events, and each of those pages answers.
    let links: Vec<String> = w
        .chrome
        .client()
        .execute(
            "return [...document.querySelectorAll('#audit-events a[href^=\"/console/audit?actor=\"]')].map(a => a.getAttribute('href'));",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for kind in ["scim_token", "saml_idp", "console_admin", "user"] {
        assert!(
            links.iter().any(|l| l.contains(&format!("actor={kind}"))),
            "no {kind} actor on the page: {links:?}"
        );
    }
    for link in links {
        w.chrome.goto(&link).await;
        assert_eq!(w.chrome.heading().await, "Audit log", "{link}");
        assert!(w.chrome.has("audit-events").await, "{link}");
    }

    w.chrome.goto("/console/audit?outcome=refused").await;
    let refused = w.chrome.text("audit-events").await;
    assert!(refused.contains("other.com"), "{refused}");
    assert!(
        !refused.contains("scim.group.create") && !refused.contains("saml.signin"),
        "a success among the refusals: {refused}"
    );
}

/// The first user the IdP will provision, known before provisioning so the IdP can be
/// started with the SAML set-up.
fn jane() -> String {
    format!("jane.doe@{DOMAIN}")
}

/// "Generate your client ID" and "upload it to Command": the SAML page generates the Client
/// ID, shows the values to paste into Okta, and takes the IdP metadata file.
async fn saml_page(w: &mut Walk) {
    w.chrome.goto("/console").await;
    w.chrome.click_text("SAML").await;
    w.chrome.wait_for_path("/console/saml").await;
    assert!(w.chrome.has("generate-client-id").await);
    w.chrome.fill("setup-domains", DOMAIN).await;
    w.chrome.click("generate-client-id").await;
    let client_id = w.chrome.wait_for("client-id").await;
    assert!(!client_id.is_empty());
    w.client_id = client_id.trim().to_string();
    let acs = w.chrome.text("sso-url").await;
    assert_eq!(
        acs.trim(),
        format!("{}/saml/{}/acs", w.server.base_url, w.client_id)
    );
    let audience = w.chrome.text("audience-uri").await;
    assert!(audience.contains(&w.client_id), "{audience}");
    w.shot("saml-client-id").await;
    // The login domain is only claimed: it routes nobody until proved. The page names the TXT
    // record to publish; here the operator approves it instead (acme.com's DNS is not ours).
    assert!(w.chrome.has("login-domains-card").await);
    let txt_name = w.chrome.text("txt-name-0").await;
    assert_eq!(txt_name.trim(), format!("_portcullis-challenge.{DOMAIN}"));
    let slug = w.slug.clone();
    w.server.approve_login_domain(&slug, DOMAIN).await;

    // The SP metadata Okta may read is at the address the page gives.
    let sp = reqwest::get(w.chrome.text("sp-metadata-url").await.trim().to_string())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sp.contains(&format!("/saml/{}/acs", w.client_id)), "{sp}");

    // The metadata file saved from Okta ("Save Page As … .xml"), chosen with the file picker.
    let idp = TestIdp::new("http://www.okta.com/exk1walkthrough");
    let served = idp.serve_tls(&jane());
    let dir = std::env::temp_dir().join(format!("portcullis-walk-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("okta-metadata.xml");
    std::fs::write(&file, &served.metadata_xml).unwrap();
    w.chrome.upload("metadata-file", &file).await;
    w.chrome.click("upload-metadata").await;
    let ok = w.chrome.wait_for("metadata-ok").await;
    assert!(!ok.is_empty());
    let entity = w.chrome.text("idp-entity-id").await;
    assert!(entity.contains("exk1walkthrough"), "{entity}");
    let certs = w.chrome.text("idp-certificates").await;
    assert!(!certs.is_empty());
    w.shot("saml-metadata-uploaded").await;
    let _ = std::fs::remove_dir_all(&dir);
    w.idp = Some(served);

    // A wrong file is refused with what is wrong with it: here, our own SP metadata.
    let wrong = std::env::temp_dir().join(format!("sp-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&wrong, &sp).unwrap();
    w.chrome.upload("metadata-file", &wrong).await;
    w.chrome.click("upload-metadata").await;
    let error = w.chrome.wait_for("metadata-error").await;
    assert!(
        error.to_lowercase().contains("service provider"),
        "the refusal does not say the file is SP metadata: {error}"
    );
    let _ = std::fs::remove_file(&wrong);
}

/// "You will see these users and groups populated with the Externally Managed tag": the users
/// page lists them tagged, finds one by search, and her page is read-only.
async fn users_externally_managed(w: &mut Walk) {
    w.chrome.goto("/console").await;
    w.chrome.click_text("Users").await;
    w.chrome.wait_for_path("/console/users").await;
    let list = w.chrome.text("users").await;
    for (email, _) in &w.users {
        assert!(
            list.contains(email.as_str()),
            "{email} is not listed: {list}"
        );
    }
    assert_eq!(
        list.matches("Externally Managed").count(),
        w.users.len(),
        "every provisioned user is tagged: {list}"
    );
    w.shot("users").await;

    w.chrome.fill("q", "raj").await;
    w.chrome.click("search-submit").await;
    w.chrome
        .wait_for_url_prefix(&format!("{}/console/users?q=raj", w.server.base_url))
        .await;
    let found = w.chrome.text("users").await;
    assert!(
        found.contains("raj.patel@") && !found.contains("jane.doe@"),
        "{found}"
    );

    let (jane, jane_id) = w.users[0].clone();
    w.chrome.goto(&format!("/console/users/{jane_id}")).await;
    let line = w.chrome.wait_for("managed-by-idp").await;
    assert!(line.contains("identity provider"), "{line}");
    assert!(
        !w.chrome.has("edit-user").await,
        "an Externally Managed user is editable"
    );
    assert!(!w.chrome.has("deactivate-user").await);
    let attributes = w.chrome.text("user-attributes").await;
    assert!(attributes.contains(&jane), "{attributes}");
    let groups = w.chrome.text("user-groups").await;
    assert!(groups.contains("Engineering"), "{groups}");
    w.shot("user-read-only").await;
}

/// "Users can only be added/removed from SCIM managed groups through SCIM": the group page
/// shows why it is read-only, offers no edit, and an edit posted anyway is refused.
async fn scim_group_read_only(w: &mut Walk) {
    w.chrome.goto("/console").await;
    w.chrome.click_text("Groups").await;
    w.chrome.wait_for_path("/console/groups").await;
    let list = w.chrome.text("groups-table").await;
    assert!(
        list.contains("Engineering") && list.contains("Externally Managed"),
        "{list}"
    );
    w.chrome
        .goto(&format!("/console/groups/{}", w.group_id))
        .await;
    let reason = w.chrome.wait_for("managed-by-idp").await;
    assert!(reason.contains("identity provider"), "{reason}");
    for form in [
        "rename-form",
        "add-members-form",
        "handover-link",
        "delete-link",
    ] {
        assert!(!w.chrome.has(form).await, "a SCIM group offers #{form}");
    }
    let members = w.chrome.text("members-table").await;
    for name in ["Jane Doe", "Raj Patel"] {
        assert!(members.contains(name), "{members}");
    }
    w.shot("scim-group-read-only").await;

    // A rename posted by hand (the form is not offered) is refused with the same reason.
    let csrf: String = w
        .chrome
        .client()
        .execute(
            "return document.querySelector('input[name=csrf]').value;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    w.chrome
        .client()
        .execute(
            "const f = document.createElement('form');
             f.method = 'post';
             f.action = arguments[0];
             for (const [k, v] of [['csrf', arguments[1]], ['name', 'Renamed by hand']]) {
               const i = document.createElement('input');
               i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
             }
             document.body.appendChild(f);
             f.submit();",
            vec![
                json!(format!("/console/groups/{}/rename", w.group_id)),
                json!(csrf),
            ],
        )
        .await
        .unwrap();
    w.chrome
        .wait_for_path(&format!("/console/groups/{}/rename", w.group_id))
        .await;
    let refused = w.chrome.body_text().await;
    assert!(
        refused.contains("identity provider") && !refused.contains("Renamed by hand"),
        "{refused}"
    );
    w.shot("scim-group-edit-refused").await;
    let scim = w.scim().get(&format!("/Groups/{}", w.group_id)).await;
    assert_eq!(scim.body["displayName"], "Engineering");
}

/// The SAML page's "Test sign-in" runs the SP-initiated flow in a new window and reports the
/// result; the page then shows the attempt.
async fn console_test_sign_in(w: &mut Walk) {
    let idp_sso = w.idp.as_ref().unwrap().sso_url.clone();
    w.chrome.goto("/console/saml").await;
    w.chrome.click("test-sign-in").await;
    let console_window = w.chrome.switch_to_new_window().await;
    w.chrome.wait_for_url_prefix(&idp_sso).await;
    let at_idp = w.chrome.wait_for("signed-in-as").await;
    assert!(at_idp.contains(&jane()), "{at_idp}");
    w.chrome.click("continue").await;
    let result = w.chrome.wait_for("test-result").await;
    assert!(
        result.contains(&jane()),
        "the test result does not name the user: {result}"
    );
    w.shot("saml-test-sign-in").await;
    w.chrome.close_window_to(console_window).await;

    w.chrome.goto("/console/saml").await;
    let last = w.chrome.wait_for("last-sign-in").await;
    assert!(last.contains("succeeded"), "{last}");
}

/// The console's admins: a second admin is invited (a one-time link), and the members of the
/// IdP group Engineering become admins who sign in to the console through SAML.
async fn admins_and_sso_admin(w: &mut Walk) {
    let idp_sso = w.idp.as_ref().unwrap().sso_url.clone();
    w.chrome.goto("/console").await;
    w.chrome.click_text("Admins").await;
    w.chrome.wait_for_path("/console/admins").await;
    w.chrome
        .fill("invite-email", &format!("second-admin@{DOMAIN}"))
        .await;
    w.chrome.click("invite-admin").await;
    let link = w.chrome.wait_for("invite-link").await;
    assert!(
        link.starts_with(&format!("{}/console/invite/", w.server.base_url)),
        "{link}"
    );
    w.chrome.fill("admin-group", "Engineering").await;
    w.chrome.click("set-admin-group").await;
    w.chrome
        .wait_for_text("admin-group-current", "Engineering")
        .await;
    w.shot("admins").await;

    // Jane is in Engineering: she signs in to the console through Okta.
    w.chrome.click_text("Sign out").await;
    w.chrome.wait_for_path("/console/login").await;
    w.chrome.fill("sso-email", &jane()).await;
    w.chrome.click("sso-sign-in").await;
    w.chrome.wait_for_url_prefix(&idp_sso).await;
    w.chrome.wait_for("signed-in-as").await;
    w.chrome.click("continue").await;
    w.chrome.wait_for_path("/console").await;
    assert_eq!(w.chrome.heading().await, "Overview");
    let page = w.chrome.body_text().await;
    assert!(page.contains(&jane()), "the console is not Jane's: {page}");
    assert!(w.chrome.cookie("portcullis_console").await.is_some());
}

/// The overview's checklist, every step done.
async fn setup_complete(w: &mut Walk) {
    w.chrome.goto("/console").await;
    for step in [
        "step-client-id",
        "step-metadata",
        "step-test-sign-in",
        "step-token",
        "step-first-request",
        "step-last-request",
    ] {
        let text = w.chrome.text(step).await;
        assert!(
            !text.contains("not done yet"),
            "#{step} is not done: {text}"
        );
    }
    w.shot("overview-complete").await;
    w.phone_shot("overview-complete-phone").await;
}
