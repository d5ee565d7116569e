//! The Store suite on PostgreSQL, at `PORTCULLIS_TEST_POSTGRES_URL`. Every test makes its own
//! organizations with random slugs, so the tests share one database and run in parallel.
//! Without the variable each test says it did not run and passes (CI sets it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use directory::store::Store;
use std::future::Future;
use std::sync::Arc;

async fn run<F, Fut>(name: &str, test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Ok(url) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        println!("store_postgres::{name} did not run: PORTCULLIS_TEST_POSTGRES_URL is not set");
        return;
    };
    let store = store_postgres::PostgresStore::connect(&url).await.unwrap();
    test(Arc::new(store)).await;
}

testkit::store_suite_tests!(run);
