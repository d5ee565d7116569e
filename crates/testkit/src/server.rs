//! A Portcullis server in process on 127.0.0.1:0, and a small SCIM client for tests.

use directory::login_domains::{DnsResolverConfig, DomainConfig};
use directory::model::Actor;
use directory::Clock;
use portcullis::http::serving::{self, ServeLimits};
use portcullis::http::throttle::AcsThrottle;
use portcullis::{build_router, open_store, AppState, ServerConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Which database a test server runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// SQLite always; PostgreSQL too when `PORTCULLIS_TEST_POSTGRES_URL` is set (CI sets it).
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    match std::env::var("PORTCULLIS_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => out.push(Backend::Postgres(url)),
        _ => eprintln!("PORTCULLIS_TEST_POSTGRES_URL is not set: this run covers SQLite only"),
    }
    out
}

pub struct TestServer {
    pub backend: Backend,
    /// e.g. `http://127.0.0.1:41234`
    pub base_url: String,
    pub state: AppState,
    pub http: reqwest::Client,
    db_dir: Option<PathBuf>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.db_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A change a test makes to the server's state before it serves (e.g. fewer password slots).
pub type AdjustState = Box<dyn FnOnce(AppState) -> AppState + Send>;

/// What a test may change about its server: the serving limits (short timeouts, a small
/// connection cap), the ACS rate limiter, the SCIM service's limits (e.g. a small scan
/// chunk), login-domain lookups and re-checks, the clock, and anything else about its state.
#[derive(Default)]
pub struct TestOptions {
    pub serve: ServeLimits,
    pub acs_throttle: Option<AcsThrottle>,
    pub limits: directory::scim_service::Limits,
    pub adjust: Option<AdjustState>,
    /// Where login-domain TXT lookups go (a [`crate::dns::TestDns`]); default: the system's.
    pub dns: Option<std::net::SocketAddr>,
    /// The services' clock (a [`ManualClock`] to drive expiries); default: the system clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// Time between two checks of a DNS-verified login domain; default: the server's.
    pub domain_recheck_interval: Option<time::Duration>,
}

pub use crate::clock::ManualClock;

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        TestServer::start_with(backend, TestOptions::default()).await
    }

    /// A server whose state `adjust` changes before it serves.
    pub async fn start_adjusted(
        backend: Backend,
        adjust: impl FnOnce(AppState) -> AppState + Send + 'static,
    ) -> TestServer {
        let options = TestOptions {
            adjust: Some(Box::new(adjust)),
            ..TestOptions::default()
        };
        TestServer::start_with(backend, options).await
    }

    /// A server whose SCIM service runs with these limits (e.g. a small scan chunk).
    pub async fn start_with_limits(
        backend: Backend,
        limits: directory::scim_service::Limits,
    ) -> TestServer {
        let options = TestOptions {
            limits,
            ..TestOptions::default()
        };
        TestServer::start_with(backend, options).await
    }

    /// A server on the production serving loop ([`portcullis::serving::serve`]) with `options`.
    pub async fn start_with(backend: Backend, options: TestOptions) -> TestServer {
        let (url, db_dir) = match &backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("portcullis-test-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&dir).unwrap();
                (
                    format!("sqlite://{}", dir.join("test.db").display()),
                    Some(dir),
                )
            }
            Backend::Postgres(url) => (url.clone(), None),
        };
        let store = open_store(&url).await.expect("open test store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let config = ServerConfig {
            base_url: base_url.clone(),
            limits: options.limits,
            domains: DomainConfig {
                resolver: options
                    .dns
                    .map(DnsResolverConfig::Nameserver)
                    .unwrap_or_default(),
                recheck_interval: options
                    .domain_recheck_interval
                    .unwrap_or(DomainConfig::default().recheck_interval),
            },
        };
        let clock = options
            .clock
            .unwrap_or_else(|| Arc::new(directory::SystemClock));
        let mut state = AppState::new(store, config, clock);
        if let Some(throttle) = options.acs_throttle {
            state = state.with_acs_throttle(throttle);
        }
        if let Some(adjust) = options.adjust {
            state = adjust(state);
        }
        let router = build_router(state.clone());
        tokio::spawn(serving::serve(
            listener,
            router,
            options.serve,
            std::future::pending(),
        ));
        TestServer {
            backend,
            base_url,
            state,
            http: reqwest::Client::new(),
            db_dir,
        }
    }

    /// A fresh organization (random slug) and a SCIM token for `domains`.
    pub async fn org_with_token(&self, domains: &[&str]) -> (String, ScimClient) {
        let slug = format!("org-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let org = self
            .state
            .admin
            .create_org(&slug, Some("Test Org"))
            .await
            .unwrap();
        let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
        let issued = self
            .state
            .admin
            .create_token(&org, Some("okta"), &domains, &Actor::Cli)
            .await
            .unwrap();
        (slug, self.client(&issued.secret))
    }

    pub async fn token_for(&self, slug: &str, domains: &[&str]) -> ScimClient {
        let org = self.state.admin.org(slug).await.unwrap();
        let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
        let issued = self
            .state
            .admin
            .create_token(&org, Some("second"), &domains, &Actor::Cli)
            .await
            .unwrap();
        self.client(&issued.secret)
    }

    /// An operator's approval of a login domain, as `portcullis domain approve` gives it: the
    /// domain routes sign-ins to the organization at once.
    pub async fn approve_login_domain(&self, slug: &str, domain: &str) {
        let org = self.state.admin.org(slug).await.unwrap();
        self.state
            .domains
            .approve(&org, domain, &Actor::Cli)
            .await
            .unwrap();
    }

    pub fn client(&self, token: &str) -> ScimClient {
        ScimClient {
            http: self.http.clone(),
            root: format!("{}/scim/v2", self.base_url),
            token: token.to_string(),
        }
    }
}

/// A response as tests look at it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts a SCIM error body: status as a string, the error schema, a detail.
    pub fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "not a SCIM error body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status.to_string());
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "error without detail: {}",
            self.body
        );
        if let Some(t) = scim_type {
            assert_eq!(self.body["scimType"], t, "body: {}", self.body);
        }
        if status != 304 {
            assert_eq!(self.header("content-type"), Some("application/scim+json"));
        }
    }
}

#[derive(Clone)]
pub struct ScimClient {
    pub http: reqwest::Client,
    /// The SCIM root, e.g. `http://127.0.0.1:41234/scim/v2`
    pub root: String,
    pub token: String,
}

impl ScimClient {
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.root, path)
        };
        let mut req = self
            .http
            .request(method.parse().unwrap(), url)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("User-Agent", "Okta SCIM Client 1.0.0");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }
    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, None, &[]).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send("POST", path, Some(body), &[]).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send("PUT", path, Some(body), &[]).await
    }
    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send("PATCH", path, Some(body), &[]).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, None, &[]).await
    }

    /// Okta's create-user body for `user_name`.
    pub fn okta_user(user_name: &str, given: &str, family: &str, external_id: &str) -> Value {
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "emails": [{"primary": true, "value": user_name, "type": "work"}],
            "displayName": format!("{given} {family}"),
            "locale": "en-US",
            "externalId": external_id,
            "groups": [],
            "password": "1mz050nq",
            "active": true
        })
    }

    /// Creates a user the Okta way and returns its id.
    pub async fn create_user(&self, user_name: &str) -> String {
        let r = self
            .post(
                "/Users",
                &Self::okta_user(user_name, "Test", "User", &format!("ext-{user_name}")),
            )
            .await;
        assert_eq!(r.status, 201, "create {user_name}: {}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    pub async fn create_group(&self, name: &str) -> String {
        let r = self
            .post("/Groups", &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": []}))
            .await;
        assert_eq!(r.status, 201, "create group {name}: {}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }
}

/// Runs a scenario on every backend.
#[macro_export]
macro_rules! on_every_backend {
    (|$server:ident| $body:block) => {
        for backend in $crate::server::backends() {
            let $server = $crate::server::TestServer::start(backend).await;
            $body
        }
    };
    // The same on a server whose services read `$clock`, a `ManualClock` the scenario moves.
    (|$server:ident, $clock:ident| $body:block) => {
        for backend in $crate::server::backends() {
            let $clock = $crate::ManualClock::new();
            let $server = $crate::server::TestServer::start_with(
                backend,
                $crate::server::TestOptions {
                    clock: Some($clock.shared()),
                    ..Default::default()
                },
            )
            .await;
            $body
        }
    };
}
