//! A browser for the console tests: cookies kept by hand, no redirects followed, and helpers
//! that create an organization and sign its first admin in through an invitation.

use directory::model::Actor;
use std::net::{IpAddr, Ipv4Addr};
use testkit::server::TestServer;

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
pub const GOOD_PASSWORD: &str = "correct horse battery staple";

/// A browser: no redirects followed, cookies kept by hand, and its own loopback address so the
/// per-address throttle of one test never sees another's failures (the PostgreSQL store is
/// shared between tests).
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: Vec<(String, String)>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        let b = uuid::Uuid::new_v4().as_bytes().to_owned();
        let local = IpAddr::V4(Ipv4Addr::new(127, b[0], b[1], b[2].max(2)));
        Browser {
            // A fresh connection per request: a server that refuses a body unread (413) closes
            // its connection, and a pooled client would send its next request into it (a
            // browser retries such a request; reqwest does not).
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(local)
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            base: server.base_url.clone(),
            cookies: Vec::new(),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn keep_cookies(&mut self, headers: &reqwest::header::HeaderMap) {
        for v in headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() && !v.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header("cookie", self.cookie_header())
        };
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        self.keep_cookies(&headers);
        let body = res.text().await.unwrap();
        assert_ne!(status, 500, "a 500: {body}");
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.post_raw(path, body.into_bytes()).await
    }

    pub async fn post_raw(&mut self, path: &str, body: Vec<u8>) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    /// Signs in through the login form; the page the POST answered.
    pub async fn login(&mut self, org: &str, email: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("organization", org),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

/// A fresh organization and an invitation link for `email`.
pub async fn org_and_invite(server: &TestServer, email: &str) -> (String, String) {
    let slug = format!("org-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let org = server
        .state
        .admin
        .create_org(&slug, Some("Acme Corp"))
        .await
        .unwrap();
    let issued = server
        .state
        .console
        .invite(&org, email, &Actor::Cli)
        .await
        .unwrap();
    assert!(
        issued
            .link
            .starts_with(&format!("{}/console/invite/", server.base_url)),
        "{}",
        issued.link
    );
    let path = issued.link[server.base_url.len()..].to_string();
    (slug, path)
}

pub fn assert_console_headers(page: &Page) {
    assert_eq!(page.headers["content-security-policy"], CSP);
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

/// A fresh organization whose admin `email` accepted the invitation: the browser is signed in.
pub async fn signed_in_admin(server: &TestServer, email: &str) -> (String, Browser) {
    let (slug, invite) = org_and_invite(server, email).await;
    let mut b = Browser::new(server);
    let form = b.get(&invite).await;
    let csrf = form.csrf();
    let p = b
        .post(
            &invite,
            &[
                ("csrf", &csrf),
                ("password", GOOD_PASSWORD),
                ("confirm", GOOD_PASSWORD),
            ],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/console"), "{}", p.body);
    (slug, b)
}
