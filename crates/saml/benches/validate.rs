//! Response validation throughput: an Okta-shaped response (Response and Assertion both
//! signed, RSA-2048, exc-c14n) from the independent IdP's fixtures, validated over and over on
//! one thread and then on every core. `cargo bench -p saml`.
//!
//! A plain harness rather than a benchmark framework: the number wanted is validations per
//! second at full load, not a per-call distribution.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use saml::{validate_response, IdpMetadata, ValidationContext};
use std::time::{Duration as StdDuration, Instant};
use time::macros::datetime;
use time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
}

/// Validations per second over `seconds`, on `threads` threads.
fn measure(threads: usize, seconds: u64, metadata: &str, response_b64: &str) -> f64 {
    let start = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let now = datetime!(2026-11-01 10:01 UTC);
                    let idp = IdpMetadata::parse(metadata, now).unwrap();
                    let ctx = ValidationContext {
                        idp: &idp,
                        sp_entity_id: "https://portcullis.example.com/saml/cl1ent",
                        acs_url: "https://portcullis.example.com/saml/cl1ent/acs",
                        now,
                        max_clock_skew: Duration::minutes(3),
                        expected_in_response_to: Some("_5f2b0c8e4d1a49b6a7c3e9f01d2b3c4d"),
                        sp_key: None,
                    };
                    let mut n = 0u64;
                    let until = Instant::now() + StdDuration::from_secs(seconds);
                    while Instant::now() < until {
                        for _ in 0..50 {
                            validate_response(response_b64, &ctx).unwrap();
                        }
                        n += 50;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let metadata = fixture("idp-metadata.xml");
    let response =
        base64::engine::general_purpose::STANDARD.encode(fixture("okta-sp-initiated.xml"));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let seconds = std::env::var("SAML_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!("validate_response, Okta-shaped (Response + Assertion signed, RSA-2048, SHA-256)");
    for threads in [1, cores] {
        let rate = measure(threads, seconds, &metadata, &response);
        println!("{threads} thread(s): {rate:.0} validations/s");
    }
}
