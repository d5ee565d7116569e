//! Every refusal in its surface's own format: a path segment that is not UTF-8 once
//! percent-decoded, an unknown address, a wrong method or an oversized body get a SCIM error
//! under `/scim/v2`, problem+json under `/api/v1`, and an HTML page with the page headers on
//! the SAML pages and the console, never the framework's plain text. Filters that compare an
//! attribute with a value of the wrong type are refused as `invalidFilter`. Client errors are
//! not logged at ERROR.

use super::browser::{assert_console_headers, signed_in_admin};
use serde_json::{json, Value};
use testkit::on_every_backend;

/// Percent-escapes that do not decode to UTF-8 text.
const NOT_UTF8: [&str; 3] = ["%FF", "%C3%28", "ok%80"];

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    Answer {
        status,
        headers,
        body,
    }
}

fn assert_scim(a: &Answer, status: u16, scim_type: Option<&str>) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(
        a.header("content-type"),
        "application/scim+json",
        "{}",
        a.body
    );
    let body = a.json();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], status.to_string());
    if let Some(t) = scim_type {
        assert_eq!(body["scimType"], t, "{body}");
    }
}

fn assert_problem(a: &Answer, status: u16) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(
        a.header("content-type"),
        "application/problem+json",
        "{}",
        a.body
    );
    let body = a.json();
    assert_eq!(body["status"], status);
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

/// An HTML page of the SAML routes, with their security headers.
fn assert_page(a: &Answer, status: u16) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(
        a.header("content-type").starts_with("text/html"),
        "{}",
        a.body
    );
    assert!(
        a.header("content-security-policy")
            .contains("default-src 'none'"),
        "no CSP: {:?}",
        a.headers
    );
    assert_eq!(a.header("x-content-type-options"), "nosniff");
    assert!(a.body.contains("Reference: <code>"), "{}", a.body);
}

#[tokio::test]
async fn scim_paths_that_are_not_utf8_are_scim_errors() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["acme.com"]).await;
        for bad in NOT_UTF8 {
            for (method, path) in [
                ("GET", format!("/Users/{bad}")),
                ("PUT", format!("/Users/{bad}")),
                ("PATCH", format!("/Users/{bad}")),
                ("DELETE", format!("/Users/{bad}")),
                ("GET", format!("/Groups/{bad}")),
                ("DELETE", format!("/Groups/{bad}")),
                ("GET", format!("/Schemas/{bad}")),
                ("GET", format!("/ResourceTypes/{bad}")),
            ] {
                let a = send(
                    c.http
                        .request(method.parse().unwrap(), format!("{}{path}", c.root))
                        .bearer_auth(&c.token)
                        .header("content-type", "application/scim+json")
                        .body("{}"),
                )
                .await;
                assert_scim(&a, 400, Some("invalidValue"));
                assert!(
                    a.json()["detail"].as_str().unwrap().contains("UTF-8"),
                    "{}",
                    a.body
                );
            }
        }
    });
}

#[tokio::test]
async fn api_paths_methods_and_bodies_are_problems() {
    on_every_backend!(|server| {
        let (slug, _) = server.org_with_token(&["acme.com"]).await;
        let (_, key) = server
            .state
            .admin
            .create_admin_key(Some("t"))
            .await
            .unwrap();
        let api = |path: String| format!("{}/api/v1{path}", server.base_url);
        for bad in NOT_UTF8 {
            for (method, path) in [
                ("GET", format!("/orgs/{bad}")),
                ("GET", format!("/orgs/{bad}/tokens")),
                ("DELETE", format!("/orgs/{slug}/tokens/{bad}")),
                ("PUT", format!("/orgs/{slug}/tokens/{bad}/domains")),
                ("GET", format!("/orgs/{bad}/saml")),
                ("PUT", format!("/orgs/{bad}/saml/metadata")),
                ("GET", format!("/orgs/{slug}/groups/{bad}")),
                ("GET", format!("/orgs/{bad}/users")),
            ] {
                let a = send(
                    server
                        .http
                        .request(method.parse().unwrap(), api(path.clone()))
                        .bearer_auth(&key),
                )
                .await;
                assert!(
                    a.status == 400 || a.status == 404,
                    "{method} {path}: {}",
                    a.body
                );
                assert_problem(&a, a.status);
            }
        }
        // A method a route does not answer.
        let a = send(server.http.delete(api("/orgs".into())).bearer_auth(&key)).await;
        assert_problem(&a, 405);
        // A body past the API's limit (an undeclared one: `extract`'s unit tests).
        let big = vec![b' '; portcullis::http::extract::API_BODY_LIMIT + 1];
        let a = send(
            server
                .http
                .post(api("/orgs".into()))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(big.clone()),
        )
        .await;
        assert_problem(&a, 413);
    });
}

#[tokio::test]
async fn saml_pages_and_unknown_addresses_are_html_pages_with_their_headers() {
    on_every_backend!(|server| {
        for bad in NOT_UTF8 {
            for (method, path) in [
                ("GET", format!("/saml/{bad}/metadata")),
                ("GET", format!("/saml/{bad}/login")),
                ("POST", format!("/saml/{bad}/acs")),
            ] {
                let a = send(
                    server
                        .http
                        .request(
                            method.parse().unwrap(),
                            format!("{}{path}", server.base_url),
                        )
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("SAMLResponse=x"),
                )
                .await;
                assert_page(&a, 400);
                assert!(a.body.contains("UTF-8"), "{}", a.body);
            }
        }
        for path in ["/nothing-here", "/saml/x/acs/more", "/%FF"] {
            let a = send(server.http.get(format!("{}{path}", server.base_url))).await;
            assert_page(&a, 404);
        }
        // The console answers an unreadable id as an unknown one, with the console's headers.
        let (_, mut b) = signed_in_admin(&server, "it@acme.com").await;
        for path in [
            "/console/users/%FF",
            "/console/groups/%C3%28",
            "/console/tokens/%FF/revoke",
        ] {
            let p = b.get(path).await;
            assert!((400..500).contains(&p.status), "{path}: {}", p.status);
            assert_console_headers(&p);
        }
    });
}

#[tokio::test]
async fn me_without_credentials_is_a_401_and_a_valid_token_still_501() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["acme.com"]).await;
        let me = format!("{}/Me", c.root);
        for req in [
            server.http.get(&me),
            server.http.post(&me).body("{}"),
            server
                .http
                .get(&me)
                .header("cookie", "portcullis_session=forged"),
            server.http.get(&me).bearer_auth("pcs_not-a-token"),
        ] {
            let a = send(req).await;
            assert_scim(&a, 401, None);
            assert!(
                a.header("www-authenticate").starts_with("Bearer"),
                "{:?}",
                a.headers
            );
        }
        assert_scim(
            &send(server.http.get(&me).bearer_auth(&c.token)).await,
            501,
            None,
        );
    });
}

#[tokio::test]
async fn filters_comparing_the_wrong_type_are_invalid_filters_naming_the_attribute() {
    on_every_backend!(|server| {
        let (_, c) = server.org_with_token(&["acme.com"]).await;
        c.create_user("ada@acme.com").await;
        for (resource, filter, named) in [
            ("Users", r#"meta.created gt "not-a-date""#, "meta.created"),
            (
                "Users",
                r#"meta.lastModified lt "2024-01-01""#,
                "meta.lastModified",
            ),
            ("Groups", r#"meta.created ge 17"#, "meta.created"),
            ("Users", r#"active eq "yes""#, "active"),
            ("Users", r#"active gt true"#, "active"),
            ("Users", r#"emails[primary eq "true"]"#, "emails.primary"),
            ("Users", r#"userName eq true"#, "userName"),
        ] {
            let encoded: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
            let r = c.get(&format!("/{resource}?filter={encoded}")).await;
            r.assert_scim_error(400, Some("invalidFilter"));
            let detail = r.body["detail"].as_str().unwrap();
            assert!(detail.contains(named), "{filter}: {detail}");
            let r = c
                .post(
                    &format!("/{resource}/.search"),
                    &json!({ "filter": filter }),
                )
                .await;
            r.assert_scim_error(400, Some("invalidFilter"));
        }
        let r = c
            .post("/.search", &json!({"filter": r#"meta.created gt "soon""#}))
            .await;
        r.assert_scim_error(400, Some("invalidFilter"));
        // Right types still work, and a date compares as a date.
        let r = c
            .get("/Users?filter=meta.created%20gt%20%222000-01-01T00:00:00%2B02:00%22%20and%20active%20eq%20true")
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    });
}
