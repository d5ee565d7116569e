//! The console's SAML page and set-up checklist as a browser uses them: generate the Client
//! ID, the values for Okta (equal to the SP metadata's), upload IdP metadata as a multipart
//! form (and every wrong file refused in plain words), certificate expiry, the switches, a
//! test sign-in end to end and a refused one, the overview's steps, CSRF and odd input.

use super::browser::{assert_console_headers, signed_in_admin, Browser, Page, GOOD_PASSWORD};
use base64::Engine as _;
use testkit::on_every_backend;
use testkit::server::{ScimClient, TestServer};
use testkit::test_idp::{ResponseParams, TestIdp};
use time::{Duration, OffsetDateTime};

const SSO_URL: &str = "https://acme.okta.example/app/portcullis/exk1/sso/saml";
const BOUNDARY: &str = "----portcullis-test-7d3f91";

/// The text of the element with `id` (values are plain text in a `code`).
fn text_of(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find('<').unwrap()].to_string()
}

/// The element with `id`, up to the first closing tag of its kind (none of them nest).
fn element(page: &Page, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.body));
    let open = page.body[..at].rfind('<').unwrap();
    let tag: String = page.body[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let rest = &page.body[open..];
    let end = rest.find(&format!("</{tag}>")).unwrap_or(rest.len());
    rest[..end].to_string()
}

fn step_done(page: &Page, id: &str) -> bool {
    if page
        .body
        .contains(&format!("id=\"{id}\" class=\"step done\""))
    {
        return true;
    }
    assert!(
        page.body
            .contains(&format!("id=\"{id}\" class=\"step todo\"")),
        "no step {id} in {}",
        page.body
    );
    false
}

/// A `multipart/form-data` body: (name, file name, bytes) per part.
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/xml\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_multipart(b: &mut Browser, body: Vec<u8>) -> Page {
    let req = b
        .http
        .post(format!("{}/console/saml/metadata", b.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body);
    b.send(req).await
}

/// Uploads `data` as the metadata file through the form.
async fn upload(b: &mut Browser, data: &[u8]) -> Page {
    let csrf = b.get("/console/saml").await.csrf();
    post_multipart(
        b,
        multipart(&[
            ("csrf", None, csrf.as_bytes()),
            ("metadata", Some("okta-metadata.xml"), data),
        ]),
    )
    .await
}

/// Generates the Client ID through the form; the SAML page after it.
async fn generate(b: &mut Browser) -> Page {
    let page = b.get("/console/saml").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let p = b
        .post(
            "/console/saml/setup",
            &[("csrf", &page.csrf()), ("domains", "")],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/console/saml"),
        "{}",
        p.body
    );
    b.get("/console/saml").await
}

fn new_idp() -> TestIdp {
    TestIdp::new(&format!(
        "http://www.okta.com/exk{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    ))
}

/// Loads `path` until `check` holds (the audit log is written in the background).
async fn eventually(b: &mut Browser, path: &str, check: impl Fn(&Page) -> bool) -> Page {
    for _ in 0..100 {
        let p = b.get(path).await;
        if check(&p) {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let p = b.get(path).await;
    panic!("{path} never got there: {}", p.body);
}

fn domain() -> String {
    format!(
        "d{}.example",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Hand-written IdP metadata around `key_descriptor` and `sso` elements.
fn handmade(key_descriptor: &str, sso: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://www.okta.com/exk1handmade"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key_descriptor}{sso}</md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

fn key_descriptor(cert_b64: &str) -> String {
    format!(
        r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
    )
}

fn redirect_sso() -> String {
    format!(
        r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SSO_URL}"/>"#
    )
}

fn cert_b64(not_before: OffsetDateTime, validity: Duration) -> String {
    saml::SpKeyPair::generate("test idp", not_before, validity)
        .unwrap()
        .certificate_base64()
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generate_client_id_values_equal_the_sp_metadata() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let empty = b.get("/console/saml").await;
        assert_console_headers(&empty);
        assert!(
            empty.body.contains("no SAML connection yet"),
            "{}",
            empty.body
        );
        assert!(empty.body.contains("id=\"generate-client-id\""));
        assert!(empty.body.contains("<label for=\"setup-domains\">"));
        assert!(!empty.body.contains("id=\"client-id\""));

        let page = generate(&mut b).await;
        assert_console_headers(&page);
        let org = server.state.admin.org(&slug).await.unwrap();
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        let client_id = text_of(&page, "client-id");
        assert_eq!(client_id, conn.client_id);
        let base = format!("{}/saml/{client_id}", server.base_url);
        assert_eq!(text_of(&page, "audience-uri"), base);
        assert_eq!(text_of(&page, "sso-url"), format!("{base}/acs"));
        assert_eq!(text_of(&page, "login-url"), format!("{base}/login"));
        assert_eq!(
            text_of(&page, "sp-metadata-url"),
            format!("{base}/metadata")
        );
        assert!(page
            .body
            .contains(&format!("href=\"/saml/{client_id}/metadata\"")));
        for id in [
            "client-id",
            "sso-url",
            "audience-uri",
            "login-url",
            "sp-metadata-url",
        ] {
            assert!(page.body.contains(&format!("data-copy=\"{id}\"")), "{id}");
        }
        // Okta's labels, in the order its form asks.
        let at = |s: &str| page.body.find(s).unwrap_or_else(|| panic!("no {s}"));
        assert!(at(">Client ID<") < at(">Single sign-on URL<"));
        assert!(at(">Single sign-on URL<") < at(">Audience URI (SP Entity ID)<"));
        assert!(page
            .body
            .contains("<script src=\"/console/static/console.js\">"));

        // The SP metadata says the same.
        let md = server
            .http
            .get(text_of(&page, "sp-metadata-url"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(md.contains(&format!("entityID=\"{base}\"")), "{md}");
        assert!(md.contains(&format!("Location=\"{base}/acs\"")), "{md}");

        // Generating again keeps the Client ID.
        let again = generate(&mut b).await;
        assert_eq!(text_of(&again, "client-id"), client_id);

        // The overview shows the same values next to the step.
        let overview = b.get("/console").await;
        assert!(step_done(&overview, "step-client-id"));
        assert_eq!(text_of(&overview, "client-id"), client_id);
        assert_eq!(text_of(&overview, "sso-url"), format!("{base}/acs"));
        assert_eq!(text_of(&overview, "audience-uri"), base);
        assert_eq!(text_of(&overview, "name-id-format"), "EmailAddress");
        assert_eq!(text_of(&overview, "app-username"), "Email");

        // Another organization's admin sees none of it.
        let (_, mut other) = signed_in_admin(&server, "it@other.com").await;
        let theirs = other.get("/console/saml").await;
        assert!(!theirs.body.contains(&client_id));
        assert!(theirs.body.contains("id=\"generate-client-id\""));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_good_metadata_shows_the_idp_and_its_certificates() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let page = generate(&mut b).await;
        assert!(page.body.contains("enctype=\"multipart/form-data\""));
        assert!(page.body.contains("<label for=\"metadata-file\">"));
        assert!(page
            .body
            .contains("id=\"metadata-file\" type=\"file\" name=\"metadata\""));
        assert!(page.body.contains("id=\"upload-metadata\""));
        assert!(page.body.contains("data-drop-into=\"metadata-file\""));
        assert!(!page.body.contains("id=\"test-sign-in\""));

        let mut idp = new_idp();
        idp.rotate();
        let p = upload(&mut b, idp.metadata_xml(SSO_URL).as_bytes()).await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/console/saml?metadata=ok"),
            "{}",
            p.body
        );
        let shown = b.get("/console/saml?metadata=ok").await;
        assert!(shown.body.contains("id=\"metadata-ok\""), "{}", shown.body);
        assert_eq!(text_of(&shown, "idp-entity-id"), idp.entity_id);
        assert_eq!(text_of(&shown, "idp-sso-url"), SSO_URL);
        let certs = element(&shown, "idp-certificates");
        assert_eq!(certs.matches("<tr>").count(), 3, "{certs}");
        assert!(certs.contains("Valid"), "{certs}");
        assert!(!shown.body.contains("class=\"warning\""), "{}", shown.body);
        assert!(shown.body.contains("id=\"test-sign-in\""));

        let org = server.state.admin.org(&slug).await.unwrap();
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        assert_eq!(conn.idp_entity_id.as_deref(), Some(idp.entity_id.as_str()));
        let overview = b.get("/console").await;
        assert!(step_done(&overview, "step-metadata"));
        assert!(!step_done(&overview, "step-test-sign-in"));

        // A BOM and CRLF line ends, as some browsers save it, are fine.
        let mut with_bom = b"\xef\xbb\xbf".to_vec();
        with_bom.extend_from_slice(idp.metadata_xml(SSO_URL).replace('\n', "\r\n").as_bytes());
        assert_eq!(upload(&mut b, &with_bom).await.status, 303);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_wrong_file_says_what_is_wrong() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let page = generate(&mut b).await;
        let client_id = text_of(&page, "client-id");
        let idp = new_idp();
        let now = server.state.clock.now();
        let good_cert = cert_b64(now - Duration::hours(1), Duration::days(365));
        let sp_metadata = server
            .http
            .get(format!("{}/saml/{client_id}/metadata", server.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let pem = idp.keys[0].cert_pem.clone();
        let der = base64::engine::general_purpose::STANDARD
            .decode(pem_body(&pem))
            .unwrap();
        let cases: Vec<(&str, Vec<u8>, &str, u16)> = vec![
            ("empty", Vec::new(), "The file is empty", 400),
            ("not xml", b"hello there".to_vec(), "This file is not XML", 400),
            ("broken xml", b"<a><b></a>".to_vec(), "not well-formed XML", 400),
            (
                "doctype",
                b"<!DOCTYPE x [<!ENTITY e \"x\">]><x>&e;</x>".to_vec(),
                "DOCTYPE",
                400,
            ),
            (
                "html",
                b"<html><body>Okta</body></html>".to_vec(),
                "is not SAML metadata: the root element is &lt;html&gt;",
                400,
            ),
            (
                "sp metadata",
                sp_metadata.into_bytes(),
                "metadata of a service provider",
                400,
            ),
            (
                "no idp",
                br#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><Organization/></EntityDescriptor>"#.to_vec(),
                "describes no identity provider",
                400,
            ),
            (
                "no sso service",
                handmade(&key_descriptor(&good_cert), "").into_bytes(),
                "no sign-in address (no SingleSignOnService",
                400,
            ),
            (
                "no signing certificate",
                handmade("", &redirect_sso()).into_bytes(),
                "lists no signing certificate",
                400,
            ),
            (
                "expired certificate",
                handmade(
                    &key_descriptor(&cert_b64(now - Duration::days(800), Duration::days(365))),
                    &redirect_sso(),
                )
                .into_bytes(),
                "Every signing certificate in this file has expired",
                400,
            ),
            (
                "unreadable certificate",
                handmade(&key_descriptor("AAAA"), &redirect_sso()).into_bytes(),
                "Signing certificate 1 in this file cannot be read",
                400,
            ),
            ("pem", pem.into_bytes(), "certificate or key file (.pem/.cer)", 400),
            ("cer", der, "This is a certificate file (.cer)", 400),
            (
                "too large",
                vec![b' '; 300 * 1024],
                "larger than 256 KiB",
                413,
            ),
        ];
        for (what, data, says, status) in cases {
            let p = upload(&mut b, &data).await;
            assert_eq!(p.status, status, "{what}: {}", p.body);
            assert!(p.body.contains(says), "{what}: {}", p.body);
            if status == 400 {
                assert!(
                    p.body
                        .contains("class=\"error\" id=\"metadata-error\" role=\"alert\""),
                    "{what}: {}",
                    p.body
                );
                // The page is whole again: the form to retry is there.
                assert!(p.body.contains("id=\"upload-metadata\""), "{what}");
            }
        }
        // No file at all.
        let csrf = b.get("/console/saml").await.csrf();
        let p = post_multipart(&mut b, multipart(&[("csrf", None, csrf.as_bytes())])).await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("Choose the metadata file"), "{}", p.body);

        // Nothing was kept.
        let org = server.state.admin.org(&slug).await.unwrap();
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        assert_eq!(conn.idp_metadata_xml, None);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn certificates_warn_before_they_expire_and_show_when_expired() {
    on_every_backend!(|server, clock| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        generate(&mut b).await;
        let now = server.state.clock.now();

        // One that ends in 10 days: a warning.
        let mut idp = new_idp();
        idp.keys = vec![idp.keygen(None, Some(now + Duration::days(10)))];
        let p = upload(&mut b, idp.metadata_xml(SSO_URL).as_bytes()).await;
        assert_eq!(p.status, 303, "{}", p.body);
        let page = b.get("/console/saml").await;
        let certs = element(&page, "idp-certificates");
        assert!(certs.contains("class=\"warning\""), "{certs}");
        assert!(
            certs.contains("Expires in 9 days") || certs.contains("Expires in 10 days"),
            "{certs}"
        );

        // One that expires the day after it is uploaded: three days on (the clock moves, no
        // row is forged) it is shown as expired, next to the new one.
        let mut old = new_idp();
        let expiring = old.keygen(
            Some(now - Duration::days(400)),
            Some(now + Duration::days(1)),
        );
        old.keys = vec![expiring, old.keygen(None, None)];
        let p = upload(&mut b, old.metadata_xml(SSO_URL).as_bytes()).await;
        assert_eq!(p.status, 303, "{}", p.body);
        clock.advance(Duration::days(3));
        // Three days outlast the console session: sign in again.
        let p = b.login(&slug, "it@acme.com", GOOD_PASSWORD).await;
        assert_eq!(p.status, 303, "{}", p.body);
        let page = b.get("/console/saml").await;
        let certs = element(&page, "idp-certificates");
        assert_eq!(certs.matches("<tr>").count(), 3, "{certs}");
        assert!(certs.contains("class=\"error\">Expired"), "{certs}");
        assert!(certs.contains("Valid"), "{certs}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switches_change_the_connection() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        // Before a Client ID there is nothing to change.
        let csrf = b.get("/console/saml").await.csrf();
        let p = b
            .post("/console/saml/settings", &[("csrf", &csrf), ("jit", "on")])
            .await;
        assert_eq!(p.status, 409, "{}", p.body);
        assert!(p.body.contains("Generate a Client ID first"));

        let page = generate(&mut b).await;
        assert!(page.body.contains("id=\"saml-settings\""));
        assert!(page.body.contains("<label for=\"jit\">"));
        assert!(page.body.contains("<label for=\"idp-initiated\">"));
        assert!(page.body.contains("<label for=\"login-domains\">"));
        // Defaults: jit off, IdP-initiated on.
        assert!(page
            .body
            .contains("id=\"jit\" type=\"checkbox\" name=\"jit\" value=\"on\" aria"));
        assert!(page
            .body
            .contains("name=\"idp_initiated\" value=\"on\" checked"));

        let d = domain();
        let p = b
            .post(
                "/console/saml/settings",
                &[("csrf", &page.csrf()), ("jit", "on"), ("domains", &d)],
            )
            .await;
        assert_eq!(
            (p.status, p.location()),
            (303, "/console/saml?settings=saved"),
            "{}",
            p.body
        );
        let org = server.state.admin.org(&slug).await.unwrap();
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        assert!(conn.jit);
        assert!(!conn.idp_initiated);
        assert_eq!(claimed(&server, &org).await, vec![d.clone()]);
        let saved = b.get("/console/saml?settings=saved").await;
        assert!(saved.body.contains("id=\"settings-ok\""));
        assert!(saved.body.contains("name=\"jit\" value=\"on\" checked"));
        assert!(!saved
            .body
            .contains("name=\"idp_initiated\" value=\"on\" checked"));

        // A refused domain: the form comes back as sent, with the reason; nothing changes.
        let p = b
            .post(
                "/console/saml/settings",
                &[
                    ("csrf", &page.csrf()),
                    ("idp_initiated", "on"),
                    ("domains", "*"),
                ],
            )
            .await;
        assert_eq!(p.status, 400, "{}", p.body);
        assert!(p.body.contains("id=\"settings-error\" role=\"alert\""));
        assert!(p.body.contains(">*</textarea>"), "{}", p.body);
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        assert!(conn.jit);
        assert_eq!(claimed(&server, &org).await, vec![d]);

        // Everything off, domains cleared.
        let p = b
            .post(
                "/console/saml/settings",
                &[("csrf", &page.csrf()), ("domains", "")],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        assert!(!conn.jit && !conn.idp_initiated && claimed(&server, &org).await.is_empty());
    });
}

/// The organization's login domains (claims, verified or not).
async fn claimed(server: &TestServer, org: &directory::model::Organization) -> Vec<String> {
    server
        .state
        .domains
        .claims(org)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.domain)
        .collect()
}

/// Starts the test sign-in from the console's link; the AuthnRequest's ID.
async fn start_test_sign_in(b: &mut Browser) -> String {
    let page = b.get("/console/saml").await;
    let marker = "id=\"test-sign-in\" target=\"_blank\" rel=\"noopener\" href=\"";
    let at = page
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("no test link in {}", page.body));
    let rest = &page.body[at + marker.len()..];
    let href = rest[..rest.find('"').unwrap()].to_string();
    assert!(
        href.ends_with("/login?return_to=/console/saml/test-result"),
        "{href}"
    );
    let p = b.get(&href).await;
    assert_eq!(p.status, 302, "{}", p.body);
    let location = reqwest::Url::parse(p.location()).unwrap();
    assert!(location.as_str().starts_with(SSO_URL), "{location}");
    let request = location
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .into_owned();
    let xml = saml::authn::decode_redirect_value(&request).unwrap();
    xml.split("ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_sign_in_end_to_end_and_a_refused_one_on_the_page() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let d = domain();
        let scim: ScimClient = server.token_for(&slug, &[&d]).await;
        let user_name = format!("alice@{d}");
        scim.create_user(&user_name).await;
        let page = generate(&mut b).await;
        let acs = text_of(&page, "sso-url");
        let entity_id = text_of(&page, "audience-uri");
        let acs_path = acs[server.base_url.len()..].to_string();
        let idp = new_idp();
        assert_eq!(
            upload(&mut b, idp.metadata_xml(SSO_URL).as_bytes())
                .await
                .status,
            303
        );
        let before = b.get("/console/saml").await;
        assert!(
            before.body.contains("No sign-in attempt yet"),
            "{}",
            before.body
        );

        // The IdP answers the AuthnRequest; the ACS sends the browser to the result page.
        let request_id = start_test_sign_in(&mut b).await;
        let mut p = ResponseParams::new(&acs, &entity_id, &user_name);
        p.in_response_to = Some(request_id);
        let posted = b
            .post(&acs_path, &[("SAMLResponse", &idp.response(&p))])
            .await;
        assert_eq!(
            (posted.status, posted.location()),
            (303, "/console/saml/test-result"),
            "{}",
            posted.body
        );
        let saml_cookie = b.cookie("portcullis_session").unwrap().to_string();

        // The console cookie is SameSite=Strict and stays behind on this redirect: the page
        // stands on the SAML session alone.
        let mut window = Browser::new(&server);
        window
            .cookies
            .push(("portcullis_session".into(), saml_cookie.clone()));
        let result = window.get("/console/saml/test-result").await;
        assert_eq!(result.status, 200, "{}", result.body);
        assert_console_headers(&result);
        assert!(result.body.contains("id=\"test-result\""));
        assert!(
            result.body.contains(&format!(
                "Signed in as <strong>{user_name}</strong> through Okta"
            )),
            "{}",
            result.body
        );
        // With the console session too, the same.
        let result = b.get("/console/saml/test-result").await;
        assert!(result
            .body
            .contains(&format!("<strong>{user_name}</strong>")));

        // The SAML page and the overview show it.
        let page = eventually(&mut b, "/console/saml", |p| {
            element(p, "last-sign-in").contains("succeeded")
        })
        .await;
        assert!(element(&page, "last-sign-in").contains(&user_name));
        let overview = b.get("/console").await;
        assert!(step_done(&overview, "step-test-sign-in"));

        // Without a SAML session the result page says so.
        let mut nobody = Browser::new(&server);
        let none = nobody.get("/console/saml/test-result").await;
        assert_eq!(none.status, 200);
        assert!(
            none.body.contains("No SAML sign-in arrived"),
            "{}",
            none.body
        );

        // A refused test: the SAML page shows it with the admin's reason.
        let request_id = start_test_sign_in(&mut b).await;
        let mut p = ResponseParams::new(&acs, "https://wrong.example/sp", &user_name);
        p.in_response_to = Some(request_id);
        let posted = b
            .post(&acs_path, &[("SAMLResponse", &idp.response(&p))])
            .await;
        assert!((400..500).contains(&posted.status), "{}", posted.body);
        let page = eventually(&mut b, "/console/saml", |p| {
            element(p, "last-sign-in").contains("refused")
        })
        .await;
        let last = element(&page, "last-sign-in");
        assert!(last.contains("audience"), "{last}");
        assert!(last.contains("wrong.example"), "{last}");
        // The overview still counts the earlier success.
        assert!(step_done(&b.get("/console").await, "step-test-sign-in"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overview_steps_flip_as_the_setup_progresses() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let overview = b.get("/console").await;
        assert_console_headers(&overview);
        for id in [
            "step-client-id",
            "step-metadata",
            "step-test-sign-in",
            "step-token",
            "step-first-request",
            "step-last-request",
        ] {
            assert!(!step_done(&overview, id), "{id}");
        }
        assert!(overview.body.contains("not done yet"));
        assert!(overview.body.contains("href=\"/console/saml\""));
        assert!(overview.body.contains("href=\"/console/tokens\""));
        assert_eq!(
            text_of(&overview, "scim-base"),
            format!("{}/scim/v2", server.base_url)
        );
        assert_eq!(text_of(&overview, "scim-unique-id"), "userName");
        assert!(text_of(&overview, "scim-actions").contains("Push New Users"));
        assert!(text_of(&overview, "scim-auth-mode").starts_with("HTTP Header"));

        generate(&mut b).await;
        assert!(step_done(&b.get("/console").await, "step-client-id"));
        let idp = new_idp();
        assert_eq!(
            upload(&mut b, idp.metadata_xml(SSO_URL).as_bytes())
                .await
                .status,
            303
        );
        let overview = b.get("/console").await;
        assert!(step_done(&overview, "step-metadata"));
        assert!(!step_done(&overview, "step-test-sign-in"));

        // A token through the tokens page.
        let d = domain();
        let list = b.get("/console/tokens").await;
        let p = b
            .post(
                "/console/tokens",
                &[
                    ("csrf", &list.csrf()),
                    ("name", "okta-prod"),
                    ("domains", &d),
                ],
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let secret = text_of(&p, "scim-token");
        let overview = b.get("/console").await;
        assert!(step_done(&overview, "step-token"));
        assert!(overview.body.contains("okta-prod"));
        assert!(!step_done(&overview, "step-first-request"));
        assert!(!step_done(&overview, "step-last-request"));

        // Okta's Test API Credentials: the first request.
        let scim = server.client(&secret);
        assert_eq!(scim.get("/Users?startIndex=1&count=2").await.status, 200);
        let overview = eventually(&mut b, "/console", |p| step_done(p, "step-first-request")).await;
        assert!(element(&overview, "step-first-request").contains("okta-prod"));

        // A user created, then one refused: the last request and its reason.
        scim.create_user(&format!("bob@{d}")).await;
        let overview = eventually(&mut b, "/console", |p| step_done(p, "step-last-request")).await;
        assert!(element(&overview, "step-last-request").contains("scim.user.create"));
        let refused = scim
            .post(
                "/Users",
                &ScimClient::okta_user("eve@other.example", "Eve", "Other", "ext-eve"),
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        let overview = eventually(&mut b, "/console", |p| {
            element(p, "step-last-request").contains("refused")
        })
        .await;
        let last = element(&overview, "step-last-request");
        assert!(last.contains("other.example"), "{last}");
        assert!(last.contains("okta-prod"), "{last}");
        let _ = slug;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn csrf_missing_or_wrong_is_403_on_each_form() {
    on_every_backend!(|server| {
        let (slug, mut b) = signed_in_admin(&server, "it@acme.com").await;
        for fields in [vec![], vec![("csrf", "")], vec![("csrf", "csrf_wrong")]] {
            let p = b.post("/console/saml/setup", &fields).await;
            assert_eq!(p.status, 403, "{fields:?}: {}", p.body);
        }
        let org = server.state.admin.org(&slug).await.unwrap();
        assert!(server.state.sso.connection(&org).await.unwrap().is_none());

        generate(&mut b).await;
        for fields in [
            vec![("jit", "on")],
            vec![("csrf", ""), ("jit", "on")],
            vec![("csrf", "csrf_wrong"), ("jit", "on")],
        ] {
            let p = b.post("/console/saml/settings", &fields).await;
            assert_eq!(p.status, 403, "{fields:?}: {}", p.body);
        }
        assert!(
            !server
                .state
                .sso
                .connection(&org)
                .await
                .unwrap()
                .unwrap()
                .jit
        );

        let xml = new_idp().metadata_xml(SSO_URL);
        for csrf in [None, Some(""), Some("csrf_wrong")] {
            let mut parts: Vec<(&str, Option<&str>, &[u8])> =
                vec![("metadata", Some("okta.xml"), xml.as_bytes())];
            if let Some(c) = csrf {
                parts.insert(0, ("csrf", None, c.as_bytes()));
            }
            let p = post_multipart(&mut b, multipart(&parts)).await;
            assert_eq!(p.status, 403, "{csrf:?}: {}", p.body);
        }
        // Not multipart at all: no CSRF field either.
        let p = b
            .post(
                "/console/saml/metadata",
                &[("csrf", "x"), ("metadata", &xml)],
            )
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        let conn = server.state.sso.connection(&org).await.unwrap().unwrap();
        assert_eq!(conn.idp_metadata_xml, None);

        // Signed out: the login page, never the action.
        let mut stranger = Browser::new(&server);
        assert_eq!(
            stranger.get("/console/saml").await.location(),
            "/console/login"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_input_never_500() {
    on_every_backend!(|server| {
        let (_, mut b) = signed_in_admin(&server, "it@acme.com").await;
        let page = generate(&mut b).await;
        let csrf = page.csrf();
        for q in [
            "?metadata=ok&&&",
            "?%ff%fe=1",
            "?settings=%00",
            "?a=<script>",
        ] {
            assert_eq!(b.get(&format!("/console/saml{q}")).await.status, 200, "{q}");
            assert_eq!(b.get(&format!("/console{q}")).await.status, 200, "{q}");
        }
        // Odd multipart bodies.
        let odd: Vec<(String, Vec<u8>)> = vec![
            ("multipart/form-data".into(), b"--x\r\n".to_vec()),
            (
                format!("multipart/form-data; boundary={BOUNDARY}"),
                b"garbage".to_vec(),
            ),
            (
                format!("multipart/form-data; boundary={BOUNDARY}"),
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}"
                )
                .into_bytes(),
            ),
            ("text/plain".into(), vec![0xff; 100]),
        ];
        for (ct, body) in odd {
            let req = b
                .http
                .post(format!("{}/console/saml/metadata", b.base))
                .header("content-type", ct.clone())
                .body(body);
            let p = b.send(req).await;
            assert!((400..500).contains(&p.status), "{ct}: {}", p.status);
        }
        // A body past the limit: 413 before anything is read.
        let big = multipart(&[
            ("csrf", None, csrf.as_bytes()),
            ("metadata", Some("big.xml"), &vec![b'<'; 400 * 1024]),
        ]);
        assert_eq!(post_multipart(&mut b, big).await.status, 413);
        // A file that is not UTF-8, and one with a NUL.
        for data in [&[0xc3u8, 0x28, 0x3c][..], b"<x>\0</x>"] {
            let p = upload(&mut b, data).await;
            assert_eq!(p.status, 400, "{}", p.body);
        }
        // Odd settings and setup values.
        let long = "a".repeat(5000);
        for fields in [
            vec![
                ("csrf", csrf.as_str()),
                ("jit", "maybe"),
                ("domains", "\u{0}"),
            ],
            vec![("csrf", csrf.as_str()), ("domains", long.as_str())],
            vec![("csrf", csrf.as_str()), ("domains", "a..b, -x-.com")],
        ] {
            let p = b.post("/console/saml/settings", &fields).await;
            assert!(p.status < 500, "{fields:?}");
        }
        let p = b.post_raw("/console/saml/settings", vec![0xff; 64]).await;
        assert_eq!(p.status, 403);
        // The result page with a forged SAML cookie.
        let mut forged = Browser::new(&server);
        forged
            .cookies
            .push(("portcullis_session".into(), "x".repeat(300)));
        let p = forged.get("/console/saml/test-result").await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains("No SAML sign-in arrived"));
        // Methods the pages do not answer.
        let req = b.http.put(format!("{}/console/saml", b.base));
        let p = b.send(req).await;
        assert_eq!(p.status, 405);
    });
}
