//! The test IdP as a web server (`TestIdp::serve`), driven by plain HTTP the way the browser
//! walkthrough drives it: our SP-initiated redirect reaches its `/sso`, its page posts a signed
//! response to our ACS, and the session belongs to the user it was told to sign in.

use serde_json::Value;
use testkit::on_every_backend;
use testkit::server::TestServer;
use testkit::test_idp::{IdpServer, TestIdp};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the attribute `attr` of the first element that has `marker` before it.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[at..];
    let key = format!("{attr}=\"");
    let start = rest
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} after {marker} in {html}"))
        + key.len();
    let value = &rest[start..];
    value[..value.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

/// An organization whose SAML connection trusts the served IdP, and two SCIM users.
async fn set_up(server: &TestServer, idp: &TestIdp) -> (String, IdpServer, String, String) {
    let domain = format!(
        "d{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let (slug, scim) = server.org_with_token(&[&domain]).await;
    let (alice, bob) = (format!("alice@{domain}"), format!("bob@{domain}"));
    scim.create_user(&alice).await;
    scim.create_user(&bob).await;
    let served = idp.serve(&alice);
    let (_, key) = server
        .state
        .admin
        .create_admin_key(Some("idp-server"))
        .await
        .unwrap();
    let api = format!("{}/api/v1/orgs/{slug}/saml", server.base_url);
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{api}/setup"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let conn: Value = res.json().await.unwrap();
    let res = http
        .put(format!("{api}/metadata"))
        .bearer_auth(&key)
        .header("content-type", "application/xml")
        .body(served.metadata_xml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let client_id = conn["client_id"].as_str().unwrap().to_string();
    (client_id, served, alice, bob)
}

/// SP-initiated sign-in through the served IdP; the session's userName.
async fn sign_in(server: &TestServer, served: &IdpServer, client_id: &str) -> String {
    let http = no_redirects();
    let res = http
        .get(format!(
            "{}/saml/{client_id}/login?return_to=/me",
            server.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let to_idp = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to_idp.starts_with(&format!("{}?SAMLRequest=", served.sso_url)),
        "{to_idp}"
    );

    let page = http.get(&to_idp).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<button type=\"submit\" id=\"continue\">Continue</button>"));
    let acs = attr_after(&html, "<form", "action");
    assert_eq!(acs, format!("{}/saml/{client_id}/acs", server.base_url));
    let saml_response = attr_after(&html, "name=\"SAMLResponse\"", "value");
    // Our SP keeps return_to itself and sends no RelayState, so the page has none to post.
    assert!(!html.contains("RelayState"), "{html}");

    let res = http
        .post(&acs)
        .form(&[("SAMLResponse", saml_response)])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    assert_eq!(status, 303, "{}", res.text().await.unwrap());
    assert_eq!(location.as_deref(), Some("/me"));
    let me: Value = http
        .get(format!("{}/api/v1/me", server.base_url))
        .header("cookie", cookie.expect("a session cookie"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["user"]["userName"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn served_idp_signs_in_the_user_it_is_told_and_serves_its_metadata() {
    on_every_backend!(|server| {
        let idp = TestIdp::new(&format!(
            "http://www.okta.com/exk{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        let (client_id, served, alice, bob) = set_up(&server, &idp).await;

        // Its metadata advertises its own SSO URL for both bindings.
        let metadata = reqwest::get(&served.metadata_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(metadata, served.metadata_xml);
        assert!(metadata.contains(&format!("Location=\"{}\"", served.sso_url)));
        assert!(metadata.contains(&idp.entity_id));

        assert_eq!(sign_in(&server, &served, &client_id).await, alice);
        served.set_user(&bob).await;
        assert_eq!(sign_in(&server, &served, &client_id).await, bob);
    });
}

#[tokio::test]
async fn served_idp_refuses_what_is_not_an_authn_request() {
    let idp = TestIdp::new("http://www.okta.com/exk1refusals");
    let served = idp.serve("alice@acme.com");
    let http = no_redirects();
    for query in [
        "",
        "?SAMLRequest=not-base64!",
        "?SAMLRequest=aGVsbG8=",
        // A deflated document that is not an AuthnRequest: <a/>.
        "?SAMLRequest=s0nUtwMA",
    ] {
        let res = http
            .get(format!("{}{query}", served.sso_url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{query}");
        assert!(
            res.text().await.unwrap().starts_with("test IdP: "),
            "{query}"
        );
    }
    let res = http
        .post(format!("{}/user", served.control_url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = http
        .get(served.sso_url.replace("/sso", "/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
