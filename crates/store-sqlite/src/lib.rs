//! The directory's [`Store`] on embedded SQLite.
//!
//! WAL mode with `synchronous = NORMAL`: readers never block the writer and a commit does not
//! wait for fsync (a power cut may lose the last commits, never corrupt the file). SQLite has
//! one writer at a time: writes go to one writer thread that commits whatever is waiting as
//! one transaction; reads run on the caller's thread over a pool of read-only connections
//! (see [`engine`]).
//!
//! Files: one per sub-trait of [`Store`], the same list as store-postgres's, each holding the
//! statements of its noun (functions on a `Connection`, run on the writer or a reader) and
//! its trait's implementation for [`SqliteStore`]: `orgs.rs`, `admin_keys.rs`, `tokens.rs`,
//! `users.rs` (with the console's user list), `groups.rs` (with the console's keyset pages),
//! `audit.rs`, `saml.rs` (connections, AuthnRequests, replay cache), `sessions.rs`,
//! `login_domains.rs`, `console.rs` (admins, invites, console sessions, sign-in throttle),
//! `console_roles.rs`. Plumbing: `lib.rs` (opening, [`Store::ping`]), `engine.rs` (the writer
//! thread and the reader pool), `migrate.rs`, `rows.rs` (rows to records, errors), `query.rs`
//! (the SQL of a `StoreQuery`), `cursors.rs` (page positions of long imports).
//!
//! SQL that both stores run alike lives once in `store-sql` (imported as `sql` in each file),
//! its fixed statements read here with SQLite's numbered `?N` placeholders.

use async_trait::async_trait;
use directory::store::{Store, StoreError, StoreResult};
use engine::{Engine, Location};
use std::path::PathBuf;
use std::sync::Arc;

mod admin_keys;
mod audit;
mod console;
mod console_roles;
mod cursors;
mod engine;
mod groups;
mod login_domains;
mod migrate;
mod orgs;
mod query;
mod rows;
mod saml;
mod sessions;
mod tokens;
mod users;

pub struct SqliteStore {
    engine: Engine,
    cursors: Arc<cursors::PageCursors>,
}

/// Reads `sqlite://path`, `sqlite:path` (relative or absolute) or `sqlite::memory:`.
fn location(url: &str) -> StoreResult<Location> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            StoreError::Backend(format!(
                "'{url}' is not a SQLite URL: write sqlite://path/to/file.db"
            ))
        })?;
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    if path == ":memory:" || options.split('&').any(|o| o == "mode=memory") {
        return Ok(Location::Memory);
    }
    if path.is_empty() {
        return Err(StoreError::Backend(format!(
            "'{url}' names no file: write sqlite://path/to/file.db"
        )));
    }
    Ok(Location::File(PathBuf::from(path)))
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let location = location(url)?;
        let writer_location = location.clone();
        let writer = tokio::task::spawn_blocking(move || {
            let mut conn = engine::open_writer(&writer_location)?;
            migrate::run(&mut conn)?;
            Ok::<_, StoreError>(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database failed: {e}")))??;
        Ok(SqliteStore {
            engine: Engine::start(&location, writer)?,
            cursors: Arc::default(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.engine
            .read(|c| {
                c.query_row(store_sql::PING.sqlite(), [], |_| Ok(()))
                    .map_err(engine::backend)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(location("sqlite::memory:"), Ok(Location::Memory)));
        assert!(matches!(
            location("sqlite://file:x?mode=memory&cache=shared"),
            Ok(Location::Memory)
        ));
        match location("sqlite://./portcullis-data/portcullis.db?mode=rwc") {
            Ok(Location::File(p)) => {
                assert_eq!(p, PathBuf::from("./portcullis-data/portcullis.db"))
            }
            other => panic!("{other:?}"),
        }
        match location("sqlite:///var/lib/p.db") {
            Ok(Location::File(p)) => assert_eq!(p, PathBuf::from("/var/lib/p.db")),
            other => panic!("{other:?}"),
        }
        assert!(location("postgres://x").is_err());
        assert!(location("sqlite://").is_err());
    }
}
