//! SAML single sign-on over HTTP: setup through the admin API, metadata upload errors, SP
//! metadata, SP-initiated redirects, `/login` routing, and the sign-in flows with responses
//! signed by the independent test IdP (every response our server accepts is also accepted by
//! the `xmlsec1` oracle).

use serde_json::{json, Value};
use testkit::on_every_backend;
use testkit::server::{ScimClient, TestServer};
use testkit::test_idp::{ResponseParams, TestIdp};
use time::{Duration, OffsetDateTime};

const SSO_URL: &str = "https://acme.okta.example/app/portcullis/exk1/sso/saml";

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Org {
    slug: String,
    scim: ScimClient,
    operator: String,
    domain: String,
}

async fn org(server: &TestServer) -> Org {
    let domain = format!(
        "d{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    let (slug, scim) = server.org_with_token(&[&domain]).await;
    let (_, operator) = server
        .state
        .admin
        .create_admin_key(Some("test"))
        .await
        .unwrap();
    Org {
        slug,
        scim,
        operator,
        domain,
    }
}

async fn api(
    server: &TestServer,
    o: &Org,
    method: &str,
    path: &str,
    body: Option<(&str, String)>,
) -> (u16, Value) {
    let mut req = browser()
        .request(
            method.parse().unwrap(),
            format!("{}/api/v1{path}", server.base_url),
        )
        .header("Authorization", format!("Bearer {}", o.operator));
    if let Some((ct, b)) = body {
        req = req.header("Content-Type", ct).body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(ct, "application/problem+json", "{body}");
    }
    (status, body)
}

async fn setup(server: &TestServer, o: &Org) -> Value {
    let (status, body) = api(
        server,
        o,
        "POST",
        &format!("/orgs/{}/saml/setup", o.slug),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn upload(server: &TestServer, o: &Org, xml: String) -> (u16, Value) {
    api(
        server,
        o,
        "PUT",
        &format!("/orgs/{}/saml/metadata", o.slug),
        Some(("application/xml", xml)),
    )
    .await
}

fn client_id_of(setup: &Value) -> String {
    setup["client_id"].as_str().unwrap().to_string()
}

/// IdP metadata around one certificate (base64 DER), written by hand.
fn metadata_with_cert(cert_b64: Option<&str>) -> String {
    let key = cert_b64
        .map(|c| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://www.okta.com/exk1handmade"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SSO_URL}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

fn cert_b64(not_before: OffsetDateTime, validity: Duration) -> String {
    saml::SpKeyPair::generate("test idp", not_before, validity)
        .unwrap()
        .certificate_base64()
}

#[tokio::test]
async fn setup_prints_urls_and_keeps_the_client_id() {
    on_every_backend!(|server| {
        let o = org(&server).await;
        let first = setup(&server, &o).await;
        let id = client_id_of(&first);
        assert_eq!(id.len(), 24, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{id}"
        );
        let base = format!("{}/saml/{id}", server.base_url);
        assert_eq!(first["entity_id"], base);
        assert_eq!(first["acs_url"], format!("{base}/acs"));
        assert_eq!(first["login_url"], format!("{base}/login"));
        assert_eq!(first["metadata_url"], format!("{base}/metadata"));
        assert_eq!(first["jit"], false);
        assert_eq!(first["idp_initiated"], true);
        // No domain given: the SCIM token's domain becomes the login domain.
        assert_eq!(first["domains"], json!([o.domain]));
        assert!(first.get("sp_key_pem").is_none());

        let (_, audit) = api(
            &server,
            &o,
            "GET",
            &format!("/orgs/{}/audit?operation=saml.", o.slug),
            None,
        )
        .await;
        assert_eq!(audit[0]["operation"], "saml.setup", "{audit}");
        assert_eq!(audit[0]["actor"]["kind"], "admin_key");

        let again = setup(&server, &o).await;
        assert_eq!(client_id_of(&again), id);
        let (status, shown) =
            api(&server, &o, "GET", &format!("/orgs/{}/saml", o.slug), None).await;
        assert_eq!(status, 200);
        assert_eq!(shown["client_id"], id.as_str());

        // Another organization may claim the same domain: a claim routes nobody until proved,
        // so it takes nothing from anyone.
        let other = org(&server).await;
        setup(&server, &other).await;
        let (status, body) = api(
            &server,
            &other,
            "PATCH",
            &format!("/orgs/{}/saml", other.slug),
            Some((
                "application/json",
                json!({"domains": [o.domain]}).to_string(),
            )),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["domains"], json!([o.domain]), "{body}");
        assert_eq!(body["login_domains"][0]["verified"], false, "{body}");
        // Settings change; other settings stay.
        let (status, body) = api(
            &server,
            &o,
            "PATCH",
            &format!("/orgs/{}/saml", o.slug),
            Some(("application/json", json!({"jit": true}).to_string())),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["jit"].clone(), body["idp_initiated"].clone()),
            (json!(true), json!(true))
        );
        let (status, _) = api(
            &server,
            &o,
            "PATCH",
            &format!("/orgs/{}/saml", o.slug),
            Some(("application/json", "{\"jit\": \"yes\"}".into())),
        )
        .await;
        assert_eq!(status, 400);
    });
}

#[tokio::test]
async fn metadata_upload_errors_say_what_is_wrong() {
    on_every_backend!(|server| {
        let o = org(&server).await;
        // Before setup: the connection is created on upload, as setup would.
        let now = server.state.clock.now();
        let cases: Vec<(String, &str)> = vec![
            ("this is not xml <".into(), "not readable XML"),
            (
                saml::sp_metadata_xml(&saml::SpMetadataParams {
                    entity_id: "https://sp.example/saml",
                    acs_url: "https://sp.example/saml/acs",
                    name_id_formats: &[],
                    key_pair: None,
                    authn_requests_signed: false,
                }),
                "describes a service provider",
            ),
            (metadata_with_cert(None), "no signing certificate"),
            (
                metadata_with_cert(Some(&cert_b64(
                    now - Duration::days(400),
                    Duration::days(30),
                ))),
                "expired",
            ),
        ];
        for (xml, wanted) in cases {
            let (status, body) = upload(&server, &o, xml).await;
            assert_eq!(status, 400, "{body}");
            let detail = body["detail"].as_str().unwrap();
            assert!(detail.contains(wanted), "{wanted:?} not in {detail:?}");
        }
        let (status, body) = api(
            &server,
            &o,
            "PUT",
            &format!("/orgs/{}/saml/metadata", o.slug),
            Some(("application/json", "{}".into())),
        )
        .await;
        assert_eq!(status, 415, "{body}");

        let (status, body) = upload(
            &server,
            &o,
            metadata_with_cert(Some(&cert_b64(
                now - Duration::hours(1),
                Duration::days(365),
            ))),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["idp"]["entity_id"], "http://www.okta.com/exk1handmade");
        assert_eq!(body["idp"]["sso_url"], SSO_URL);
        assert_eq!(body["idp"]["certificates"].as_array().unwrap().len(), 1);
        assert!(body["idp"]["certificates"][0]["not_after"].is_string());
    });
}

#[tokio::test]
async fn sp_metadata_login_redirect_and_return_to() {
    on_every_backend!(|server| {
        let o = org(&server).await;
        let id = client_id_of(&setup(&server, &o).await);
        let base = format!("{}/saml/{id}", server.base_url);
        let http = browser();

        // SP metadata.
        let res = http.get(format!("{base}/metadata")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/samlmetadata+xml"
        );
        let xml = res.text().await.unwrap();
        assert!(xml.contains(&format!("entityID=\"{base}\"")), "{xml}");
        assert!(xml.contains(&format!("Location=\"{base}/acs\"")), "{xml}");
        assert!(xml.contains("X509Certificate"), "{xml}");

        // Without IdP metadata, login explains instead of redirecting.
        let res = http.get(format!("{base}/login")).send().await.unwrap();
        assert_eq!(res.status(), 409);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));

        let now = server.state.clock.now();
        let (status, _) = upload(
            &server,
            &o,
            metadata_with_cert(Some(&cert_b64(
                now - Duration::hours(1),
                Duration::days(365),
            ))),
        )
        .await;
        assert_eq!(status, 200);
        let org_id = server.state.admin.org(&o.slug).await.unwrap().id;

        for (asked, kept) in [
            ("/app/settings?tab=2", "/app/settings?tab=2"),
            ("//evil.com", "/me"),
            ("https://evil.com", "/me"),
            ("/\\evil.com", "/me"),
            ("javascript:alert(1)", "/me"),
            ("/\t/evil.com", "/me"),
        ] {
            let res = http
                .get(format!("{base}/login"))
                .query(&[("return_to", asked)])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 302, "{asked:?}");
            let location =
                reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
            assert!(location.as_str().starts_with(SSO_URL), "{location}");
            let request = location
                .query_pairs()
                .find(|(k, _)| k == "SAMLRequest")
                .map(|(_, v)| v.into_owned())
                .unwrap();
            let xml = saml::authn::decode_redirect_value(&request).unwrap();
            assert!(
                xml.contains(&format!("AssertionConsumerServiceURL=\"{base}/acs\"")),
                "{xml}"
            );
            assert!(
                xml.contains(&format!("<saml:Issuer>{base}</saml:Issuer>")),
                "{xml}"
            );
            let request_id = xml
                .split("ID=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            // Remembered, with the sanitised destination, once.
            let store = &server.state.store;
            assert_eq!(
                store
                    .take_authn_request(org_id, request_id, server.state.clock.now())
                    .await
                    .unwrap()
                    .as_deref(),
                Some(kept),
                "{asked:?}"
            );
        }
    });
}

#[tokio::test]
async fn login_routes_by_domain_and_unknown_things_are_refused_plainly() {
    on_every_backend!(|server| {
        let o = org(&server).await;
        let id = client_id_of(&setup(&server, &o).await);
        let http = browser();

        // The domain is only claimed: /login sends nobody anywhere until it is proved.
        let res = http
            .post(format!("{}/login", server.base_url))
            .form(&[("email", format!("jane@{}", o.domain))])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        server.approve_login_domain(&o.slug, &o.domain).await;

        let page = http
            .get(format!("{}/login", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );

        let res = http
            .post(format!("{}/login", server.base_url))
            .form(&[("email", format!("Jane.Doe@{}", o.domain.to_uppercase()))])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(
            res.headers()["location"].to_str().unwrap(),
            format!("{}/saml/{id}/login", server.base_url)
        );
        for email in ["jane@nowhere-routed.example", "not an email <script>"] {
            let res = http
                .post(format!("{}/login", server.base_url))
                .form(&[("email", email)])
                .send()
                .await
                .unwrap();
            assert!(matches!(res.status().as_u16(), 400 | 404), "{email}");
            let html = res.text().await.unwrap();
            assert!(!html.contains("<script>"), "unescaped: {html}");
        }

        // Unknown Client IDs: a 404 page, for every SAML route.
        for (method, path) in [
            ("GET", "/saml/aaaaaaaaaaaaaaaaaaaaaaaa/metadata"),
            ("GET", "/saml/aaaaaaaaaaaaaaaaaaaaaaaa/login"),
            ("POST", "/saml/aaaaaaaaaaaaaaaaaaaaaaaa/acs"),
            ("GET", "/saml/not-a-client-id/metadata"),
        ] {
            let res = http
                .request(
                    method.parse().unwrap(),
                    format!("{}{path}", server.base_url),
                )
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("SAMLResponse=PHg%2B")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 404, "{method} {path}");
            assert!(res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
        }

        // A method a browser route does not answer: an HTML 405, not an empty body.
        let res = http
            .get(format!("{}/logout", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));

        // Not signed in.
        let res = http
            .get(format!("{}/api/v1/me", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert!(res.headers().get("www-authenticate").is_none());
        let res = http
            .get(format!("{}/me", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let res = http
            .get(format!("{}/api/v1/me", server.base_url))
            .header("Cookie", "portcullis_session=pcs_session_forged")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);

        // A body over the ACS bound is refused before it is read whole.
        let big = format!("SAMLResponse={}", "A".repeat(600 * 1024));
        let res = http
            .post(format!("{}/saml/{id}/acs", server.base_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413);
    });
}

// ------------------------------------------------------------------------------------------
// Sign-in flows with the independent test IdP.

/// An organization whose SAML connection trusts `idp`, with one SCIM user.
struct Flow {
    o: Org,
    idp: TestIdp,
    client_id: String,
    entity_id: String,
    acs: String,
    user_name: String,
    user_id: String,
}

async fn flow(server: &TestServer) -> Flow {
    let o = org(server).await;
    let conn = setup(server, &o).await;
    let idp = TestIdp::new(&format!(
        "http://www.okta.com/exk{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ));
    let (status, body) = upload(server, &o, idp.metadata_xml(SSO_URL)).await;
    assert_eq!(status, 200, "{body}");
    let user_name = format!("alice@{}", o.domain);
    let user_id = o.scim.create_user(&user_name).await;
    Flow {
        client_id: client_id_of(&conn),
        entity_id: conn["entity_id"].as_str().unwrap().to_string(),
        acs: conn["acs_url"].as_str().unwrap().to_string(),
        o,
        idp,
        user_name,
        user_id,
    }
}

struct Posted {
    status: u16,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

async fn post_acs(
    server: &TestServer,
    f: &Flow,
    saml_response: &str,
    relay_state: Option<&str>,
) -> Posted {
    let mut form = vec![("SAMLResponse", saml_response.to_string())];
    if let Some(r) = relay_state {
        form.push(("RelayState", r.to_string()));
    }
    let res = browser()
        .post(format!("{}/saml/{}/acs", server.base_url, f.client_id))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let body = res.text().await.unwrap();
    Posted {
        status,
        location,
        cookie,
        body,
    }
}

/// The `name=value` of a Set-Cookie, checked for its attributes.
fn session_cookie(set_cookie: &str) -> String {
    assert!(
        set_cookie.starts_with("portcullis_session="),
        "{set_cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attr), "{attr} missing: {set_cookie}");
    }
    // The test server's base URL is http: no Secure flag, or the browser would drop it.
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    set_cookie.split(';').next().unwrap().to_string()
}

async fn me(server: &TestServer, cookie: &str) -> (u16, Value) {
    let res = browser()
        .get(format!("{}/api/v1/me", server.base_url))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Signs in with `saml_response`, asserting success and the oracle's agreement.
async fn sign_in_ok(
    server: &TestServer,
    f: &Flow,
    xml: &str,
    saml_response: &str,
    relay: Option<&str>,
) -> (String, String) {
    let posted = post_acs(server, f, saml_response, relay).await;
    assert_eq!(posted.status, 303, "refused: {}", posted.body);
    let oracle = f.idp.oracle_verify(xml);
    assert!(
        !oracle.is_empty() && oracle.iter().all(|ok| *ok),
        "the oracle refuses what we accepted: {oracle:?}"
    );
    (
        session_cookie(&posted.cookie.unwrap()),
        posted.location.unwrap(),
    )
}

async fn refused(server: &TestServer, f: &Flow, saml_response: &str, status: u16) -> String {
    let posted = post_acs(server, f, saml_response, None).await;
    assert_eq!(posted.status, status, "{}", posted.body);
    assert!(posted.cookie.is_none(), "a refused sign-in set a cookie");
    assert!(posted.body.contains("Reference"), "{}", posted.body);
    posted.body
}

async fn signin_audit(server: &TestServer, f: &Flow) -> Vec<Value> {
    let (status, body) = api(
        server,
        &f.o,
        "GET",
        &format!("/orgs/{}/audit?operation=saml.signin", f.o.slug),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn sp_initiated_sign_in_then_me_scim_me_and_logout() {
    on_every_backend!(|server| {
        let f = flow(&server).await;
        let http = browser();
        let res = http
            .get(format!(
                "{}/saml/{}/login?return_to=/app/home",
                server.base_url, f.client_id
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
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

        let mut p = ResponseParams::new(&f.acs, &f.entity_id, &f.user_name.to_uppercase());
        p.in_response_to = Some(request_id.clone());
        let r = f.idp.response_full(&p);
        let (cookie, to) =
            sign_in_ok(&server, &f, &r.xml, &r.saml_response, Some("/ignored")).await;
        assert_eq!(to, "/app/home");

        let (status, body) = me(&server, &cookie).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["id"], f.user_id.as_str());
        assert_eq!(body["user"]["userName"], f.user_name.as_str());
        assert_eq!(body["user"]["active"], true);
        assert_eq!(body["organization"], f.o.slug.as_str());
        assert_eq!(body["groups"], json!([]));

        // The same InResponseTo cannot be used twice (a fresh assertion, same request).
        let r2 = f.idp.response_full(&p);
        let page = refused(&server, &f, &r2.saml_response, 400).await;
        assert!(
            !page.contains("InResponseTo"),
            "the admin's reason leaked to the browser: {page}"
        );

        // /scim/v2/Me answers for the session; with a bearer token it stays 501.
        let res = http
            .get(format!("{}/scim/v2/Me", server.base_url))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let scim_me: Value = res.json().await.unwrap();
        assert_eq!(scim_me["id"], f.user_id.as_str());
        assert_eq!(f.o.scim.get("/Me").await.status, 501);

        let res = http
            .get(format!("{}/me", server.base_url))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains(&f.user_name));

        let res = http
            .post(format!("{}/logout", server.base_url))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        assert_eq!(me(&server, &cookie).await.0, 401);
    });
}

#[tokio::test]
async fn idp_initiated_sign_in_relay_state_rotation_and_encryption() {
    on_every_backend!(|server| {
        let mut f = flow(&server).await;
        let p = ResponseParams::new(&f.acs, &f.entity_id, &f.user_name);
        let r = f.idp.response_full(&p);
        let (_, to) = sign_in_ok(&server, &f, &r.xml, &r.saml_response, Some("/reports")).await;
        assert_eq!(to, "/reports");
        let r = f.idp.response_full(&p);
        let (_, to) = sign_in_ok(
            &server,
            &f,
            &r.xml,
            &r.saml_response,
            Some("https://evil.com/x"),
        )
        .await;
        assert_eq!(to, "/me");

        // Key rollover: the IdP signs with a new key, listed with the old one in new metadata.
        f.idp.rotate();
        let r = f.idp.response_full(&p);
        refused(&server, &f, &r.saml_response, 400).await;
        let (status, body) = upload(&server, &f.o, f.idp.metadata_xml(SSO_URL)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["idp"]["certificates"].as_array().unwrap().len(), 2);
        let r = f.idp.response_full(&p);
        sign_in_ok(&server, &f, &r.xml, &r.saml_response, None).await;

        // An assertion encrypted to the connection's SP certificate.
        let (_, conn) = api(
            &server,
            &f.o,
            "GET",
            &format!("/orgs/{}/saml", f.o.slug),
            None,
        )
        .await;
        let mut enc = p.clone();
        enc.encrypt_to = Some(conn["sp_certificate_pem"].as_str().unwrap().to_string());
        let r = f.idp.response_full(&enc);
        assert!(r.xml.contains("EncryptedAssertion"));
        let posted = post_acs(&server, &f, &r.saml_response, None).await;
        assert_eq!(posted.status, 303, "{}", posted.body);
        let org_id = server.state.admin.org(&f.o.slug).await.unwrap().id;
        let stored = server
            .state
            .store
            .saml_connection(org_id)
            .await
            .unwrap()
            .unwrap();
        let oracle = f.idp.oracle_verify_decrypting(&r.xml, &stored.sp_key_pem);
        assert!(
            !oracle.is_empty() && oracle.iter().all(|ok| *ok),
            "{oracle:?}"
        );

        // With idp_initiated off, unsolicited responses are refused.
        let (status, _) = api(
            &server,
            &f.o,
            "PATCH",
            &format!("/orgs/{}/saml", f.o.slug),
            Some((
                "application/json",
                json!({"idp_initiated": false}).to_string(),
            )),
        )
        .await;
        assert_eq!(status, 200);
        let r = f.idp.response_full(&p);
        refused(&server, &f, &r.saml_response, 400).await;
        let audit = signin_audit(&server, &f).await;
        assert!(
            audit[0]["detail"]
                .as_str()
                .unwrap()
                .contains("idp_initiated is off"),
            "{}",
            audit[0]
        );
    });
}

#[tokio::test]
async fn refusals_unknown_deactivated_replayed_wrong_audience_are_audited() {
    on_every_backend!(|server| {
        let f = flow(&server).await;

        // Wrong audience: refused, and the admin sees why.
        let mut bad = ResponseParams::new(&f.acs, "https://someone-else.example/sp", &f.user_name);
        bad.in_response_to = None;
        let r = f.idp.response_full(&bad);
        let page = refused(&server, &f, &r.saml_response, 400).await;
        assert!(!page.contains("someone-else"), "{page}");
        let audit = signin_audit(&server, &f).await;
        assert_eq!(audit[0]["status"], 400);
        assert_eq!(audit[0]["outcome"], "refused");
        assert!(
            audit[0]["detail"]
                .as_str()
                .unwrap()
                .contains("audience mismatch"),
            "{}",
            audit[0]
        );
        assert!(audit[0]["request_id"].is_string());

        // Unknown user, jit off: refused with the ask-your-admin page.
        let stranger = format!("bob@{}", f.o.domain);
        let p = ResponseParams::new(&f.acs, &f.entity_id, &stranger);
        let page = refused(&server, &f, &f.idp.response(&p), 403).await;
        assert!(page.contains("IT admin"), "{page}");
        assert!(signin_audit(&server, &f).await[0]["detail"]
            .as_str()
            .unwrap()
            .contains("unknown user"));

        // jit on: created on first sign-in.
        let (status, _) = api(
            &server,
            &f.o,
            "PATCH",
            &format!("/orgs/{}/saml", f.o.slug),
            Some(("application/json", json!({"jit": true}).to_string())),
        )
        .await;
        assert_eq!(status, 200);
        let r = f.idp.response_full(&p);
        let (cookie, _) = sign_in_ok(&server, &f, &r.xml, &r.saml_response, None).await;
        let (status, body) = me(&server, &cookie).await;
        assert_eq!(status, 200);
        assert_eq!(body["user"]["userName"], stranger.as_str());
        let audit = signin_audit(&server, &f).await;
        assert_eq!(audit[0]["status"], 200);
        assert!(
            audit[0]["detail"]
                .as_str()
                .unwrap()
                .contains("created just in time"),
            "{}",
            audit[0]
        );
        let found =
            f.o.scim
                .get(&format!("/Users?filter=userName%20eq%20%22{stranger}%22"))
                .await;
        assert_eq!(found.body["totalResults"], 1, "{}", found.body);

        // Replay of an accepted response: refused.
        let page = refused(&server, &f, &r.saml_response, 400).await;
        assert!(page.contains("Reference"));
        assert!(signin_audit(&server, &f).await[0]["detail"]
            .as_str()
            .unwrap()
            .contains("replayed"));

        // Deactivated user: refused with the ask-your-admin page.
        let res = f
            .o
            .scim
            .patch(
                &format!("/Users/{}", f.user_id),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let p = ResponseParams::new(&f.acs, &f.entity_id, &f.user_name);
        let page = refused(&server, &f, &f.idp.response(&p), 403).await;
        assert!(
            page.contains("deactivated") && page.contains("IT admin"),
            "{page}"
        );
    });
}

#[tokio::test]
async fn scim_deactivation_and_deletion_end_sessions_at_once() {
    on_every_backend!(|server| {
        let f = flow(&server).await;
        let p = ResponseParams::new(&f.acs, &f.entity_id, &f.user_name);
        let r = f.idp.response_full(&p);
        let (cookie, _) = sign_in_ok(&server, &f, &r.xml, &r.saml_response, None).await;
        assert_eq!(me(&server, &cookie).await.0, 200);

        let res = f
            .o
            .scim
            .patch(
                &format!("/Users/{}", f.user_id),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(me(&server, &cookie).await.0, 401);
        let hash = directory::token::hash_secret(cookie.split_once('=').unwrap().1);
        assert_eq!(
            server.state.store.session_by_hash(&hash).await.unwrap(),
            None
        );

        // Deletion: a second user signs in, is deleted, and is signed out.
        let carol = format!("carol@{}", f.o.domain);
        let carol_id = f.o.scim.create_user(&carol).await;
        let r = f
            .idp
            .response_full(&ResponseParams::new(&f.acs, &f.entity_id, &carol));
        let (cookie, _) = sign_in_ok(&server, &f, &r.xml, &r.saml_response, None).await;
        assert_eq!(me(&server, &cookie).await.0, 200);
        assert_eq!(
            f.o.scim.delete(&format!("/Users/{carol_id}")).await.status,
            204
        );
        assert_eq!(me(&server, &cookie).await.0, 401);
    });
}

#[tokio::test]
async fn forged_and_misdirected_responses_are_refused_without_a_session() {
    on_every_backend!(|server| {
        let f = flow(&server).await;
        let good = ResponseParams::new(&f.acs, &f.entity_id, &f.user_name);
        let other = f.idp.keygen(None, None);
        let victim = format!("admin@{}", f.o.domain);
        f.o.scim.create_user(&victim).await;

        // (what, response, the audit reason wanted, whether the signature itself is bad)
        let mut cases: Vec<(&str, String, &str, bool)> = Vec::new();
        let mut p = good.clone();
        p.tamper = Some(testkit::test_idp::Tamper::NameId(victim.clone()));
        let r = f.idp.response_full(&p);
        cases.push((
            "NameID changed after signing",
            r.saml_response,
            "digest",
            true,
        ));
        let mut p = good.clone();
        p.tamper = Some(testkit::test_idp::Tamper::SignatureValue);
        cases.push((
            "signature bit flipped",
            f.idp.response(&p),
            "signature",
            true,
        ));
        let r = f.idp.response_signed_by(&good, &other);
        cases.push((
            "signed by a key the metadata does not list",
            r.saml_response,
            "signature",
            true,
        ));
        let mut p = good.clone();
        p.sign_assertion = false;
        cases.push((
            "assertion unsigned",
            f.idp.response(&p),
            "assertion_unsigned",
            false,
        ));
        let mut p = good.clone();
        p.destination = format!("{}/saml/aaaaaaaaaaaaaaaaaaaaaaaa/acs", server.base_url);
        cases.push((
            "wrong Destination",
            f.idp.response(&p),
            "destination mismatch",
            false,
        ));
        let mut p = good.clone();
        p.recipient = Some("https://elsewhere.example/acs".into());
        cases.push((
            "wrong Recipient",
            f.idp.response(&p),
            "recipient mismatch",
            false,
        ));
        let mut p = good.clone();
        p.issuer = Some("http://www.okta.com/exkSomeoneElse".into());
        cases.push(("wrong Issuer", f.idp.response(&p), "issuer mismatch", false));
        let mut p = good.clone();
        p.issue_instant = Some(server.state.clock.now() - Duration::hours(1));
        cases.push(("expired", f.idp.response(&p), "expired", false));
        let mut p = good.clone();
        p.issue_instant = Some(server.state.clock.now() + Duration::hours(1));
        cases.push((
            "not yet valid",
            f.idp.response(&p),
            "not valid before",
            false,
        ));
        let mut p = good.clone();
        p.in_response_to = Some("_never_sent_by_us".into());
        cases.push((
            "InResponseTo we never sent",
            f.idp.response(&p),
            "names no pending request",
            false,
        ));

        for (what, saml_response, reason, bad_signature) in cases {
            refused(&server, &f, &saml_response, 400).await;
            let audit = signin_audit(&server, &f).await;
            let detail = audit[0]["detail"].as_str().unwrap();
            assert!(
                detail.contains(reason),
                "{what}: {reason:?} not in {detail:?}"
            );
            if bad_signature {
                use base64::Engine;
                let xml = String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(&saml_response)
                        .unwrap(),
                )
                .unwrap();
                let oracle = f.idp.oracle_verify(&xml);
                assert!(
                    oracle.iter().any(|ok| !ok),
                    "{what}: the oracle accepts it: {oracle:?}"
                );
            }
        }
        // Nobody is signed in as the victim: every refusal above left no session, and the
        // valid response still works.
        let r = f.idp.response_full(&good);
        sign_in_ok(&server, &f, &r.xml, &r.saml_response, None).await;
    });
}

#[tokio::test]
async fn sessions_expire_when_idle_or_old_and_activity_extends_them() {
    on_every_backend!(|server, clock| {
        let o = org(&server).await;
        let user_id: directory::UserId = o
            .scim
            .create_user(&format!("dora@{}", o.domain))
            .await
            .parse()
            .unwrap();
        let org_id = server.state.admin.org(&o.slug).await.unwrap().id;
        let store = &server.state.store;
        // Each session starts now and times out after its own idle and absolute spans; the
        // clock then moves on two hours, past the first one's idle timeout and the second
        // one's absolute timeout.
        let now = server.state.clock.now();
        let session =
            |secret: &str, idle: Duration, absolute: Duration| directory::model::SessionRecord {
                id_hash: directory::token::hash_secret(secret),
                org_id,
                user_id,
                created_at: now,
                last_seen_at: now,
                idle_expires_at: now + idle,
                absolute_expires_at: now + absolute,
            };
        let run = uuid::Uuid::new_v4().simple().to_string();
        let (s_idle, s_old, s_live) = (
            format!("idle-{run}"),
            format!("old-{run}"),
            format!("live-{run}"),
        );
        let cases = [
            (
                s_idle.as_str(),
                session(&s_idle, Duration::hours(1), Duration::hours(12)),
                false,
            ),
            (
                s_old.as_str(),
                session(
                    &s_old,
                    Duration::hours(9),
                    Duration::hours(2) - Duration::seconds(1),
                ),
                false,
            ),
            (
                s_live.as_str(),
                session(&s_live, Duration::hours(7), Duration::hours(12)),
                true,
            ),
        ];
        for (_, record, _) in &cases {
            store.create_session(record).await.unwrap();
        }
        clock.advance(Duration::hours(2));
        for (secret, record, live) in &cases {
            let found = server.state.sso.session_user(secret).await.unwrap();
            assert_eq!(found.is_some(), *live, "{secret}");
            let stored = store.session_by_hash(&record.id_hash).await.unwrap();
            if *live {
                // Activity restarts the idle timeout, never past the absolute one.
                let s = stored.unwrap();
                assert!(s.idle_expires_at > record.idle_expires_at, "{secret}");
                assert!(s.idle_expires_at <= s.absolute_expires_at);
                let (status, _) = me(&server, &format!("portcullis_session={secret}")).await;
                assert_eq!(status, 200);
            } else {
                // An expired session is deleted when seen.
                assert_eq!(stored, None, "{secret}");
                let (status, _) = me(&server, &format!("portcullis_session={secret}")).await;
                assert_eq!(status, 401);
            }
        }
    });
}

#[tokio::test]
async fn users_match_by_email_attribute_and_pages_escape_their_data() {
    on_every_backend!(|server| {
        let f = flow(&server).await;
        // A user whose displayName and group carry markup.
        let user_name = format!("erin@{}", f.o.domain);
        let mut body =
            ScimClient::okta_user(&user_name, "<script>alert(1)</script>", "Doe", "ext-erin");
        body["displayName"] = json!("<script>alert(1)</script> Doe");
        let res = f.o.scim.post("/Users", &body).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let erin = res.body["id"].as_str().unwrap().to_string();
        let group = f.o.scim.create_group("R&D <core>").await;
        let res = f
            .o
            .scim
            .patch(
                &format!("/Groups/{group}"),
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": erin}]}]}),
            )
            .await;
        assert!(matches!(res.status, 200 | 204), "{}", res.body);

        // NameID is Okta's user id, not the userName: the email attribute finds the user.
        let mut p = ResponseParams::new(&f.acs, &f.entity_id, "00u1a2b3c4d5e6f7g8h9");
        p.attributes
            .insert("email".into(), vec![user_name.to_uppercase()]);
        let r = f.idp.response_full(&p);
        let (cookie, _) = sign_in_ok(&server, &f, &r.xml, &r.saml_response, None).await;
        let (status, me_json) = me(&server, &cookie).await;
        assert_eq!(status, 200);
        assert_eq!(me_json["user"]["id"], erin.as_str());
        assert_eq!(me_json["groups"], json!(["R&D <core>"]));

        let res = browser()
            .get(format!("{}/me", server.base_url))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Doe"),
            "{html}"
        );
        assert!(html.contains("R&amp;D &lt;core&gt;"), "{html}");
    });
}

#[tokio::test]
async fn responses_for_one_organization_never_sign_in_to_another() {
    on_every_backend!(|server| {
        let a = flow(&server).await;
        // Organization B trusts the very same IdP, and has a user of the same name.
        let b_org = org(&server).await;
        let b_conn = setup(&server, &b_org).await;
        let (status, _) = upload(&server, &b_org, a.idp.metadata_xml(SSO_URL)).await;
        assert_eq!(status, 200);
        server
            .token_for(&b_org.slug, &[&a.o.domain])
            .await
            .create_user(&a.user_name)
            .await;
        let b = Flow {
            client_id: client_id_of(&b_conn),
            entity_id: b_conn["entity_id"].as_str().unwrap().to_string(),
            acs: b_conn["acs_url"].as_str().unwrap().to_string(),
            o: b_org,
            idp: a.idp.clone(),
            user_name: a.user_name.clone(),
            user_id: String::new(),
        };
        // A response made for A, posted to B's ACS.
        let made = a
            .idp
            .response_full(&ResponseParams::new(&a.acs, &a.entity_id, &a.user_name));
        let for_a = made.saml_response.clone();
        refused(&server, &b, &for_a, 400).await;
        let audit = signin_audit(&server, &b).await;
        let detail = audit[0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("destination mismatch") || detail.contains("audience mismatch"),
            "{detail}"
        );
        // The same response still works where it belongs.
        sign_in_ok(&server, &a, &made.xml, &for_a, None).await;
    });
}

#[tokio::test]
async fn concurrent_replays_sign_in_once_and_signed_requests_when_asked() {
    on_every_backend!(|server| {
        let f = flow(&server).await;
        let made = f
            .idp
            .response_full(&ResponseParams::new(&f.acs, &f.entity_id, &f.user_name));
        let r = made.saml_response.clone();
        let oracle = f.idp.oracle_verify(&made.xml);
        assert!(
            !oracle.is_empty() && oracle.iter().all(|ok| *ok),
            "{oracle:?}"
        );
        let posts =
            futures::future::join_all((0..4).map(|_| post_acs(&server, &f, &r, None))).await;
        let ok = posts.iter().filter(|p| p.status == 303).count();
        assert_eq!(
            ok,
            1,
            "{:?}",
            posts.iter().map(|p| p.status).collect::<Vec<_>>()
        );
        assert!(posts
            .iter()
            .filter(|p| p.status != 303)
            .all(|p| p.status == 400 && p.cookie.is_none()));

        // An IdP that wants signed AuthnRequests gets them (with the connection's SP key).
        let (status, _) = upload(&server, &f.o, f.idp.metadata_xml_with(SSO_URL, true)).await;
        assert_eq!(status, 200);
        let res = browser()
            .get(format!("{}/saml/{}/login", server.base_url, f.client_id))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let names: Vec<String> = location
            .query_pairs()
            .map(|(k, _)| k.into_owned())
            .collect();
        assert!(
            names.contains(&"SigAlg".to_string()) && names.contains(&"Signature".to_string()),
            "{location}"
        );
        // And the SP metadata says so.
        let xml = browser()
            .get(format!("{}/saml/{}/metadata", server.base_url, f.client_id))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(xml.contains("AuthnRequestsSigned=\"true\""), "{xml}");
    });
}

#[tokio::test]
async fn session_cookie_is_secure_behind_https() {
    let store = portcullis::open_store("sqlite::memory:").await.unwrap();
    let https = portcullis::AppState::new(
        store.clone(),
        portcullis::ServerConfig {
            base_url: "https://id.example.com".into(),
            limits: Default::default(),
            domains: Default::default(),
        },
        testkit::ManualClock::new(),
    );
    let cookie = portcullis::saml::browser_session::session_cookie(&https, "s3cret");
    assert!(cookie.starts_with("portcullis_session=s3cret;"), "{cookie}");
    for attr in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Secure",
        "Max-Age=86400",
    ] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(portcullis::saml::browser_session::clear_session_cookie(&https).contains("Secure"));
    let http = portcullis::AppState::new(
        store,
        portcullis::ServerConfig {
            base_url: "http://127.0.0.1:8080".into(),
            limits: Default::default(),
            domains: Default::default(),
        },
        testkit::ManualClock::new(),
    );
    assert!(!portcullis::saml::browser_session::session_cookie(&http, "x").contains("Secure"));
}
