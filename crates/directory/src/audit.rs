//! The audit log writer: events are queued and written in batches, one transaction per batch,
//! so recording a SCIM write does not add a database round trip to the request.

use crate::model::AuditEvent;
use crate::store::{FoldedAuditEvent, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Identical folded events (same organization and fold key) within this time of the first are
/// one row with a count (see [`AuditLog::record_folded`]).
pub const AUDIT_FOLD_WINDOW: time::Duration = time::Duration::minutes(10);

enum Command {
    Record(AuditEvent),
    RecordFolded(FoldedAuditEvent),
    Flush(oneshot::Sender<()>),
}

/// Handle to the background audit writer. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Command>,
}

const QUEUE: usize = 65_536;
const BATCH: usize = 1_024;

impl AuditLog {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Command>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut folded = Vec::new();
            let mut waiters = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut next = Some(first);
                while let Some(cmd) = next.take() {
                    match cmd {
                        Command::Record(e) => batch.push(e),
                        Command::RecordFolded(e) => folded.push(e),
                        Command::Flush(done) => waiters.push(done),
                    }
                    if batch.len() + folded.len() >= BATCH {
                        break;
                    }
                    next = rx.try_recv().ok();
                }
                if !batch.is_empty() {
                    if let Err(e) = store.append_audit(&batch).await {
                        tracing::error!(error = %e, lost = batch.len(), "audit events could not be written");
                    }
                    batch.clear();
                }
                if !folded.is_empty() {
                    if let Err(e) = store.append_audit_folded(&folded).await {
                        tracing::error!(error = %e, lost = folded.len(), "audit events could not be written");
                    }
                    folded.clear();
                }
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
            }
        });
        AuditLog { tx }
    }

    /// Queues an event; waits only when the queue is full (back-pressure, never loss).
    pub async fn record(&self, event: AuditEvent) {
        if let Err(mpsc::error::TrySendError::Full(cmd)) = self.tx.try_send(Command::Record(event))
        {
            let _ = self.tx.send(cmd).await;
        }
    }

    /// Queues an event that folds into an identical one (same organization and `fold_key`)
    /// recorded within [`AUDIT_FOLD_WINDOW`] before it, adding `count` to that one's count.
    pub async fn record_folded(&self, event: AuditEvent, fold_key: String, count: u64) {
        let window_start = event.at - AUDIT_FOLD_WINDOW;
        let cmd = Command::RecordFolded(FoldedAuditEvent {
            event,
            fold_key,
            count: count.max(1),
            window_start,
        });
        if let Err(mpsc::error::TrySendError::Full(cmd)) = self.tx.try_send(cmd) {
            let _ = self.tx.send(cmd).await;
        }
    }

    /// Returns once every event queued before the call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}
