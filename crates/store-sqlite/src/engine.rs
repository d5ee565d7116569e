//! How requests reach SQLite: one writer thread with group commit, and a pool of read
//! connections used on the calling thread.
//!
//! Why not an async driver: SQLite is a library, not a server, and a statement on an indexed
//! row takes microseconds. An async wrapper that runs each statement on a worker thread pays
//! two thread hand-offs per statement, which profiles showed to be the largest cost of a
//! request. Here a read is run where it is asked for (no hand-off at all), and a write is one
//! hand-off to the writer thread, which runs every write waiting at that moment inside one
//! transaction (group commit), each in its own savepoint so one refused write never undoes
//! another. Callers are answered only after the commit, so a write that was answered is
//! visible to every later read.

use directory::store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Writes run together in one transaction, at most this many.
const MAX_BATCH: usize = 512;
/// Read connections kept open between requests.
const MAX_IDLE_READERS: usize = 8;

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub(crate) enum Location {
    File(PathBuf),
    /// Private to the one writer connection: reads go through the writer.
    Memory,
}

/// Settings every connection gets.
fn configure(conn: &Connection, writer: bool) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Readers: a small page cache plus memory-mapped pages. SQLite empties a connection's
    // page cache whenever another connection has committed, at a cost that grows with the
    // cache's size, while mapped pages stay valid in the OS cache. The writer's own commits
    // do not empty its cache, so it keeps a larger one.
    conn.pragma_update(None, "cache_size", if writer { -32_000 } else { -2_000 })?;
    conn.pragma_update(None, "mmap_size", 1_073_741_824_i64)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

pub(crate) fn open_writer(location: &Location) -> StoreResult<Connection> {
    let conn = match location {
        Location::Memory => Connection::open_in_memory().map_err(backend)?,
        Location::File(path) => {
            if let Some(parent) = path.parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
            }
            let conn = Connection::open(path)
                .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
            // WAL: readers never block the writer. With synchronous=NORMAL a commit does not
            // wait for fsync: a power cut may lose the last commits, never corrupt the file.
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(backend)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!(
                    "{} cannot use write-ahead logging (journal mode {mode})",
                    path.display()
                )));
            }
            // Checkpoints run on their own thread; the writer checkpoints itself only if
            // that thread falls far behind. The WAL file is cut back after a checkpoint.
            conn.pragma_update(None, "wal_autocheckpoint", 16_384)
                .map_err(backend)?;
            conn.pragma_update(None, "journal_size_limit", 67_108_864_i64)
                .map_err(backend)?;
            conn
        }
    };
    configure(&conn, true).map_err(backend)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    configure(&conn, false).map_err(backend)?;
    Ok(conn)
}

/// How often committed pages are copied from the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// A connection of its own for checkpoints.
fn open_checkpointer(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)
        .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(1)).map_err(backend)?;
    Ok(conn)
}

/// Checkpoints off the write path. Left to itself SQLite checkpoints inside the commit that
/// crosses `wal_autocheckpoint`, so one write in a thousand waits for the copy and its fsync.
/// A PASSIVE checkpoint never blocks the writer or the readers; the writer's own
/// autocheckpoint stays as a backstop, set high (see `open_writer`).
fn checkpoint_loop(conn: Connection, alive: std::sync::Weak<()>) {
    while alive.upgrade().is_some() {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "SQLite checkpoint failed; the next one will retry");
        }
    }
}

/// A write waiting for the writer thread.
trait Job: Send {
    /// Runs the write inside the batch's transaction. Returns false when the transaction
    /// itself is lost (SQLite rolled it back), so the whole batch must fail.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's fate is known.
    fn answer(self: Box<Self>, commit: &StoreResult<()>);
}

struct Call<T, F> {
    work: Option<F>,
    outcome: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return true;
        };
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            self.outcome = Some(Err(backend(e)));
            return !conn.is_autocommit();
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "a write panicked; it was rolled back".into(),
            ))
        });
        let end = if outcome.is_ok() {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        let sound = conn.execute_batch(end).is_ok() && !conn.is_autocommit();
        self.outcome = Some(outcome);
        sound
    }

    fn answer(self: Box<Self>, commit: &StoreResult<()>) {
        let outcome = match (self.outcome, commit) {
            // A refused write is refused whatever happened to the others.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(e)) => Err(e.clone()),
            (None, _) => Err(StoreError::Backend("the write did not run".into())),
        };
        let _ = self.reply.send(outcome);
    }
}

/// The writer thread's side: takes batches of jobs and commits each batch once.
fn writer_loop(conn: Connection, mut jobs: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = run_batch(&conn, &mut batch);
        if commit.is_err() {
            tracing::error!(error = ?commit, writes = batch.len(), "a batch of writes failed");
        }
        for job in batch.drain(..) {
            job.answer(&commit);
        }
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> StoreResult<()> {
    // IMMEDIATE takes the write lock now, so a long batch never fails half-way for another
    // process (the command line) holding it; busy_timeout waits for that process instead.
    conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
    for job in batch.iter_mut() {
        if !job.run(conn) {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            return Err(StoreError::Backend(
                "the database rolled back a batch of writes".into(),
            ));
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        return Err(backend(e));
    }
    Ok(())
}

pub(crate) struct Engine {
    jobs: mpsc::Sender<Box<dyn Job>>,
    /// `None` for an in-memory database: it exists only in the writer's connection.
    readers: Option<Arc<ReaderPool>>,
    /// The checkpointer stops once this is gone.
    _alive: Arc<()>,
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Engine {
    /// Starts the writer thread on `writer` (already migrated).
    pub(crate) fn start(location: &Location, writer: Connection) -> StoreResult<Engine> {
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        let alive = Arc::new(());
        let readers = match location {
            Location::Memory => None,
            Location::File(path) => {
                let checkpointer = open_checkpointer(path)?;
                let alive = Arc::downgrade(&alive);
                std::thread::Builder::new()
                    .name("sqlite-checkpoint".into())
                    .spawn(move || checkpoint_loop(checkpointer, alive))
                    .map_err(|e| {
                        StoreError::Backend(format!("cannot start the checkpoint thread: {e}"))
                    })?;
                Some(Arc::new(ReaderPool {
                    path: path.clone(),
                    idle: Mutex::new(Vec::new()),
                }))
            }
        };
        Ok(Engine {
            jobs,
            readers,
            _alive: alive,
        })
    }

    /// Runs `work` on the writer thread, inside a transaction it may share with other writes.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Call {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the SQLite writer dropped a write".into()))?
    }

    /// Runs a short read (an indexed lookup) right here, on the calling thread.
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        match &self.readers {
            Some(pool) => pool.with(work),
            None => self.write(work).await,
        }
    }

    /// Runs a read that may take long (a scan, a large group) on a blocking thread, so it
    /// never holds up the async workers.
    pub(crate) async fn read_long<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        match &self.readers {
            Some(pool) => {
                let pool = Arc::clone(pool);
                tokio::task::spawn_blocking(move || pool.with(work))
                    .await
                    .map_err(|e| StoreError::Backend(format!("a read failed: {e}")))?
            }
            None => self.write(work).await,
        }
    }
}

impl ReaderPool {
    /// Lends an idle connection (opening one if none is idle) to `work`.
    fn with<T>(&self, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = work(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }
}
