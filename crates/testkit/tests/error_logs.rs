//! Client errors are logged below ERROR (any client could otherwise flood the error log).
//! A test binary of its own: it captures the server's log with a thread-local subscriber, and
//! tracing caches whether a call site is enabled process-wide, so tests of other binaries
//! running on other threads of the same process could hide its lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use testkit::server::{backends, TestServer};

/// Log lines written while the guard lives, captured for the thread that holds it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn client_errors_are_not_logged_at_error() {
    // One thread runs the server and the client, so a thread-local subscriber sees every
    // request the server logs.
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for backend in backends() {
            let server = TestServer::start(backend).await;
            let (_, c) = server.org_with_token(&["acme.com"]).await;
            let base = &server.base_url;
            let requests = [
                server.http.get(format!("{base}/scim/v2/Me")),
                server
                    .http
                    .get(format!("{base}/scim/v2/Me"))
                    .bearer_auth("nope"),
                server
                    .http
                    .get(format!("{base}/scim/v2/Me"))
                    .bearer_auth(&c.token),
                server.http.get(format!("{base}/scim/v2/Users")),
                server
                    .http
                    .get(format!("{base}/scim/v2/Users/%FF"))
                    .bearer_auth(&c.token),
                server
                    .http
                    .get(format!("{base}/scim/v2/Users?filter=("))
                    .bearer_auth(&c.token),
                server.http.get(format!("{base}/api/v1/orgs")),
                server.http.get(format!("{base}/api/v1/orgs/%FF")),
                server.http.post(format!("{base}/saml/nope/acs")),
                server.http.get(format!("{base}/no-such-page")),
            ];
            for req in requests {
                let status = req.send().await.unwrap().status().as_u16();
                assert!((400..500).contains(&status) || status == 501, "{status}");
            }
        }
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The capture works: every request above was logged, below ERROR.
    assert!(
        logs.matches("status=").count() >= 10,
        "the requests were not captured: {logs}"
    );
    let errors: Vec<&str> = logs.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(
        errors.is_empty(),
        "client errors logged at ERROR: {errors:#?}"
    );
}
