//! Metrics label cardinality: every label of /metrics comes from a bounded set, whatever
//! methods, paths and statuses clients make up. A test binary of its own: the Prometheus
//! recorder is global to the process, so other tests' requests would add their own series.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use testkit::on_every_backend;

/// The values a label takes in a Prometheus text exposition.
fn label_values(exposition: &str, label: &str) -> BTreeSet<String> {
    let needle = format!("{label}=\"");
    let mut out = BTreeSet::new();
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let mut rest = line;
        while let Some(i) = rest.find(&needle) {
            rest = &rest[i + needle.len()..];
            if let Some(end) = rest.find('"') {
                out.insert(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    out
}

#[tokio::test]
async fn made_up_methods_and_paths_never_become_labels() {
    on_every_backend!(|server| {
        let http = reqwest::Client::new();
        let (_, scim) = server.org_with_token(&["acme.com"]).await;
        // Warm up: the routes every label set should have anyway.
        let baseline = http
            .get(format!("{}/metrics", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(baseline.status(), 200);
        let mut made_up = Vec::new();
        for i in 0..300u32 {
            let method = format!("M{}X{i}", uuid::Uuid::new_v4().simple());
            let path = match i % 4 {
                0 => "/healthz".to_string(),
                1 => format!("/scim/v2/Users/{}", uuid::Uuid::new_v4()),
                2 => format!("/nowhere-{i}-{}", uuid::Uuid::new_v4().simple()),
                _ => format!("/saml/{}/acs", uuid::Uuid::new_v4().simple()),
            };
            let res = http
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{}{path}", server.base_url),
                )
                .header("Authorization", format!("Bearer {}", scim.token))
                .send()
                .await
                .unwrap();
            assert!(
                res.status().is_client_error(),
                "{method} {path}: {}",
                res.status()
            );
            made_up.push((method, path));
        }
        let body = http
            .get(format!("{}/metrics", server.base_url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for (method, path) in &made_up {
            assert!(!body.contains(method.as_str()), "{method} is a label");
            if path != "/healthz" {
                assert!(!body.contains(path.as_str()), "{path} is a label");
            }
        }
        let methods = label_values(&body, "method");
        let allowed: BTreeSet<String> = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "other",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(methods.contains("other"), "{methods:?}");
        assert!(methods.is_subset(&allowed), "{methods:?}");
        for route in label_values(&body, "route") {
            // A route template: literal segments (`v1`, `v2` the only ones with digits) and
            // `{parameters}`, never a path a client sent.
            let template = route.split('/').all(|seg| {
                seg.is_empty()
                    || seg == "v1"
                    || seg == "v2"
                    || (seg.starts_with('{') && seg.ends_with('}'))
                    || seg.starts_with('*')
                    || seg
                        .chars()
                        .all(|c| c.is_ascii_alphabetic() || "-_.".contains(c))
            });
            assert!(
                route == "unmatched" || template,
                "route label {route:?} is not a template"
            );
            assert!(!route.contains("nowhere"), "{route}");
        }
        for status in label_values(&body, "status") {
            let n: u16 = status.parse().unwrap_or(0);
            assert!(status == "other" || (100..=599).contains(&n), "{status}");
        }
        // 300 made-up requests add a handful of series, not 300: the exposition stays small.
        assert!(body.len() < 64 * 1024, "{} bytes of metrics", body.len());
    });
}
