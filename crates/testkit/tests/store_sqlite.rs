//! The Store suite on SQLite: each test on a fresh database file in its own temp directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use directory::store::{OrgStore, Store, UserStore};
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

/// A write that panics (a bug) is rolled back and answered with an error; the writer thread
/// keeps serving the writes after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_write_is_contained() {
    use directory::model::{Organization, UserRecord};
    let dir = TempDir(std::env::temp_dir().join(format!(
        "portcullis-store-panic-{}",
        uuid::Uuid::new_v4().simple()
    )));
    let url = format!("sqlite://{}", dir.0.join("directory.db").display());
    let store = store_sqlite::SqliteStore::connect(&url).await.unwrap();
    let org = Organization {
        id: directory::OrgId::new_random(),
        slug: "acme".into(),
        name: "Acme".into(),
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    store.create_org(&org).await.unwrap();
    let outcome = store
        .modify_user(
            org.id,
            directory::UserId::new_random(),
            Box::new(|_: &UserRecord| panic!("a bug")),
        )
        .await;
    // No such user: the change is never called.
    assert_eq!(outcome, Err(directory::store::StoreError::NotFound));
    let doc = serde_json::json!({"userName": "a@acme.com"});
    let mut u = UserRecord {
        id: directory::UserId::new_random(),
        org_id: org.id,
        user_name: String::new(),
        external_id: None,
        display_name: None,
        active: true,
        emails: Vec::new(),
        doc,
        managed_by: directory::model::ManagedBy::Scim,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        updated_at: time::OffsetDateTime::UNIX_EPOCH,
        version: 1,
    };
    u.reindex();
    store.insert_user(&u).await.unwrap();
    let outcome = store
        .modify_user(
            org.id,
            u.id,
            Box::new(|_: &UserRecord| panic!("a bug in a change")),
        )
        .await;
    assert!(
        matches!(outcome, Err(directory::store::StoreError::Backend(ref m)) if m.contains("panicked")),
        "{outcome:?}"
    );
    // The writer is still there, and the user is unchanged.
    assert_eq!(store.get_user(org.id, u.id).await.unwrap(), Some(u.clone()));
    store.delete_user(org.id, u.id).await.unwrap();
    assert_eq!(store.get_user(org.id, u.id).await.unwrap(), None);
}
