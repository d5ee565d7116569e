//! Deeply nested input, sent to every parser a stranger (or a tenant) can reach, on a server
//! whose threads have the production stack size (`portcullis::WORKER_STACK_SIZE`): XML posted
//! to the public ACS, uploaded in the console and PUT to the admin API, deep JSON bodies, deep
//! filters and PATCH paths. Each is a clean 4xx in its surface's format, and the server still
//! answers afterwards. Before the XML nesting was bounded ahead of the parser, the first of
//! these aborted the whole process (a stack overflow inside roxmltree).

use super::browser::{assert_console_headers, signed_in_admin, Browser, Page};
use base64::Engine as _;
use directory::Clock as _;
use serde_json::Value;
use std::future::Future;
use testkit::server::{backends, TestServer};
use time::Duration;

/// As many nested elements as the report's document: about 35 KB, under every size limit.
const DEEP_ELEMENTS: usize = 5_000;
/// Nested JSON arrays, far past serde_json's recursion limit (128), under the 1 MiB body limit.
const DEEP_JSON: usize = 100_000;
const BOUNDARY: &str = "----portcullis-deep-5e1f";

/// Runs `scenario` on a runtime whose threads (where the server's tasks run) have the stack
/// production has, not whatever the test harness gives.
fn on_production_stack<F, Fut>(scenario: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(portcullis::WORKER_STACK_SIZE)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(scenario());
}

/// `DEEP_ELEMENTS` nested elements between `open` and `close`.
fn deep_xml(open: &str, close: &str) -> String {
    format!(
        "{open}{}{}{close}",
        "<a>".repeat(DEEP_ELEMENTS),
        "</a>".repeat(DEEP_ELEMENTS)
    )
}

fn deep_response() -> String {
    deep_xml(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">"#,
        "</samlp:Response>",
    )
}

fn deep_metadata() -> String {
    deep_xml(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">"#,
        "</md:EntityDescriptor>",
    )
}

fn deep_json_array() -> String {
    format!("{}{}", "[".repeat(DEEP_JSON), "]".repeat(DEEP_JSON))
}

/// A good IdP metadata document around a fresh certificate, so the connection is complete and
/// the ACS really validates what it is sent.
fn good_metadata() -> String {
    let cert = saml::SpKeyPair::generate(
        "test idp",
        directory::SystemClock.now() - Duration::days(1),
        Duration::days(365),
    )
    .unwrap()
    .certificate_base64();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://www.okta.com/exk1deep"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

struct Answer {
    status: u16,
    content_type: String,
    csp: Option<String>,
    body: String,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header("content-type").unwrap_or_default();
    let csp = header("content-security-policy");
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    Answer {
        status,
        content_type,
        csp,
        body,
    }
}

/// The server still serves: health, and a real request through the store.
async fn still_answers(server: &TestServer) {
    let health = send(server.http.get(format!("{}/healthz", server.base_url))).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let ready = send(server.http.get(format!("{}/readyz", server.base_url))).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
}

/// An operator key, an organization with a SAML connection and good metadata; its slug,
/// the key and the connection's Client ID.
async fn saml_org(server: &TestServer) -> (String, String, String) {
    let (slug, _) = server.org_with_token(&["deep.example"]).await;
    let (_, operator) = server
        .state
        .admin
        .create_admin_key(Some("deep"))
        .await
        .unwrap();
    let setup = send(
        server
            .http
            .post(format!("{}/api/v1/orgs/{slug}/saml/setup", server.base_url))
            .bearer_auth(&operator),
    )
    .await;
    assert_eq!(setup.status, 200, "{}", setup.body);
    let client_id = serde_json::from_str::<Value>(&setup.body).unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let uploaded = put_metadata(server, &slug, &operator, good_metadata()).await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);
    (slug, operator, client_id)
}

async fn put_metadata(server: &TestServer, slug: &str, operator: &str, xml: String) -> Answer {
    send(
        server
            .http
            .put(format!(
                "{}/api/v1/orgs/{slug}/saml/metadata",
                server.base_url
            ))
            .bearer_auth(operator)
            .header("content-type", "application/xml")
            .body(xml),
    )
    .await
}

fn assert_too_deep_page(a: &Answer) {
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.content_type.starts_with("text/html"),
        "{}",
        a.content_type
    );
    assert!(
        a.csp
            .as_deref()
            .is_some_and(|c| c.contains("default-src 'none'")),
        "no CSP on the refusal: {:?}",
        a.csp
    );
}

#[test]
fn a_deep_saml_response_posted_to_the_public_acs_is_refused_and_the_server_lives() {
    on_production_stack(|| async {
        for backend in backends() {
            let server = TestServer::start(backend).await;
            let (_, _, client_id) = saml_org(&server).await;
            let encoded = base64::engine::general_purpose::STANDARD.encode(deep_response());
            let acs = format!("{}/saml/{client_id}/acs", server.base_url);
            let refused = send(server.http.post(&acs).form(&[("SAMLResponse", &encoded)])).await;
            assert_too_deep_page(&refused);
            // Unclosed, with attributes: refused by count all the same.
            let unclosed = base64::engine::general_purpose::STANDARD
                .encode(r#"<a x="1">"#.repeat(DEEP_ELEMENTS));
            let refused = send(server.http.post(&acs).form(&[("SAMLResponse", &unclosed)])).await;
            assert_too_deep_page(&refused);
            still_answers(&server).await;
            // The ACS itself still validates.
            let again = send(
                server
                    .http
                    .post(&acs)
                    .form(&[("SAMLResponse", "bm90IHhtbA==")]),
            )
            .await;
            assert_eq!(again.status, 400, "{}", again.body);
        }
    });
}

#[test]
fn deep_metadata_put_to_the_admin_api_is_a_problem_and_the_server_lives() {
    on_production_stack(|| async {
        for backend in backends() {
            let server = TestServer::start(backend).await;
            let (slug, operator, _) = saml_org(&server).await;
            let refused = put_metadata(&server, &slug, &operator, deep_metadata()).await;
            assert_eq!(refused.status, 400, "{}", refused.body);
            assert_eq!(refused.content_type, "application/problem+json");
            let problem: Value = serde_json::from_str(&refused.body).unwrap();
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("deeper than {} levels", saml::xml::MAX_DEPTH)),
                "{problem}"
            );
            still_answers(&server).await;
            // The good metadata is still the connection's: nothing was half-written.
            let shown = send(
                server
                    .http
                    .get(format!("{}/api/v1/orgs/{slug}/saml", server.base_url))
                    .bearer_auth(&operator),
            )
            .await;
            assert_eq!(shown.status, 200, "{}", shown.body);
            assert!(
                shown.body.contains("http://www.okta.com/exk1deep"),
                "{}",
                shown.body
            );
        }
    });
}

fn multipart(csrf: &str, file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"; filename=\"deep.xml\"\r\nContent-Type: application/xml\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn console_upload(b: &mut Browser, file: &[u8]) -> Page {
    let csrf = b.get("/console/saml").await.csrf();
    let req = b
        .http
        .post(format!("{}/console/saml/metadata", b.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&csrf, file));
    b.send(req).await
}

#[test]
fn deep_metadata_uploaded_in_the_console_is_explained_and_the_server_lives() {
    on_production_stack(|| async {
        for backend in backends() {
            let server = TestServer::start(backend).await;
            let (_, mut b) = signed_in_admin(&server, "it@deep.example").await;
            let page = b.get("/console/saml").await;
            let setup = b
                .post(
                    "/console/saml/setup",
                    &[("csrf", &page.csrf()), ("domains", "")],
                )
                .await;
            assert_eq!(setup.status, 303, "{}", setup.body);
            let refused = console_upload(&mut b, deep_metadata().as_bytes()).await;
            // The console answers every XML limit (size, nodes, depth) as "too large".
            assert_eq!(refused.status, 413, "{}", refused.body);
            assert_console_headers(&refused);
            assert!(
                refused
                    .body
                    .contains("far larger or deeper than identity provider metadata"),
                "{}",
                refused.body
            );
            still_answers(&server).await;
            // The console still serves this admin, and a good file is still accepted.
            let ok = console_upload(&mut b, good_metadata().as_bytes()).await;
            assert!(ok.status == 303 || ok.status == 200, "{}", ok.body);
        }
    });
}

/// A SCIM request with a raw body (deep JSON cannot be built as a `Value`).
async fn scim_raw(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: String,
) -> Answer {
    send(
        server
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/scim/v2{path}", server.base_url),
            )
            .bearer_auth(token)
            .header("content-type", "application/scim+json")
            .body(body),
    )
    .await
}

fn assert_scim_error(a: &Answer, status: u16, scim_type: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.content_type, "application/scim+json");
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["scimType"], scim_type, "{body}");
}

#[test]
fn deep_json_filters_and_paths_are_refused_on_the_production_stack() {
    on_production_stack(|| async {
        for backend in backends() {
            let server = TestServer::start(backend).await;
            let (slug, scim) = server.org_with_token(&["deep.example"]).await;
            let token = scim.token.clone();
            let user = scim.create_user("ada@deep.example").await;
            let deep = deep_json_array();
            let user_body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b@deep.example","name":{deep}}}"#
            );
            for (method, path, body) in [
                ("POST", "/Users".to_string(), user_body.clone()),
                ("PUT", format!("/Users/{user}"), user_body.clone()),
                ("POST", "/Groups".to_string(), deep.clone()),
                (
                    "PATCH",
                    format!("/Users/{user}"),
                    format!(
                        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"add","path":"title","value":{deep}}}]}}"#
                    ),
                ),
                (
                    "POST",
                    "/Users/.search".to_string(),
                    format!(r#"{{"filter":{deep}}}"#),
                ),
                ("POST", "/.search".to_string(), deep.clone()),
                (
                    "POST",
                    "/Bulk".to_string(),
                    format!(r#"{{"Operations":{deep}}}"#),
                ),
            ] {
                let a = scim_raw(&server, &token, method, &path, body).await;
                assert_scim_error(&a, 400, "invalidSyntax");
            }

            // Filters nested past the limit, by every way of nesting, refused before any
            // recursion goes deeper than the limit.
            let deep_filters = [
                format!("{}userName pr{}", "(".repeat(3_000), ")".repeat(3_000)),
                format!("{}userName pr{}", "not (".repeat(1_500), ")".repeat(1_500)),
                format!("emails[{}value pr{}]", "(".repeat(3_000), ")".repeat(3_000)),
                "(".repeat(8_000),
            ];
            for filter in &deep_filters {
                let search = serde_json::json!({ "filter": filter }).to_string();
                let a = scim_raw(&server, &token, "POST", "/Users/.search", search).await;
                assert_scim_error(&a, 400, "invalidFilter");
            }
            // The longest flat chain the parser accepts is evaluated fine (no recursion per term).
            let chain = format!(
                "{}userName eq \"ada@deep.example\"",
                "title pr or ".repeat(670)
            );
            assert!(chain.len() <= scim::filter::MAX_FILTER_LEN);
            let a = scim_raw(
                &server,
                &token,
                "POST",
                "/Users/.search",
                serde_json::json!({ "filter": chain }).to_string(),
            )
            .await;
            assert_eq!(a.status, 200, "{}", a.body);
            assert!(a.body.contains("ada@deep.example"), "{}", a.body);
            // PATCH paths nest the same way.
            let path = format!(
                "emails[{}value pr{}].type",
                "(".repeat(3_000),
                ")".repeat(3_000)
            );
            let patch = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": path, "value": "work"}],
            });
            let a = scim_raw(
                &server,
                &token,
                "PATCH",
                &format!("/Users/{user}"),
                patch.to_string(),
            )
            .await;
            assert_scim_error(&a, 400, "invalidPath");

            // The admin API's JSON bodies.
            let (_, operator) = server
                .state
                .admin
                .create_admin_key(Some("deep"))
                .await
                .unwrap();
            let a = send(
                server
                    .http
                    .post(format!("{}/api/v1/orgs/{slug}/tokens", server.base_url))
                    .bearer_auth(&operator)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"name":"x","domains":{deep}}}"#)),
            )
            .await;
            assert_eq!(a.status, 400, "{}", a.body);
            assert_eq!(a.content_type, "application/problem+json");

            still_answers(&server).await;
            let r = scim.get(&format!("/Users/{user}")).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(
                r.body.get("title").is_none(),
                "a refused PATCH wrote: {}",
                r.body
            );
        }
    });
}
