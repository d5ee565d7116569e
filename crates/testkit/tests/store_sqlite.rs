//! The Store suite on SQLite: each test on a fresh database file in its own temp directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use directory::store::Store;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

/// A directory removed when the test ends, passed or not.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run<F, Fut>(_name: &str, test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = TempDir(std::env::temp_dir().join(format!(
        "portcullis-store-suite-{}",
        uuid::Uuid::new_v4().simple()
    )));
    let url = format!("sqlite://{}", dir.0.join("directory.db").display());
    let store = store_sqlite::SqliteStore::connect(&url).await.unwrap();
    test(Arc::new(store)).await;
    drop(dir);
}

testkit::store_suite_tests!(run);
