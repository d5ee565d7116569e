//! Turns between this process's writes of one resource.
//!
//! A SCIM PATCH reads the resource, applies the change away from the store, and writes the
//! result only if nobody wrote it meanwhile (a version check), trying again if somebody did.
//! Left alone, N concurrent PATCHes of one group (an IdP pushing memberships in parallel) would
//! make the last one try N times. Taking turns per resource here makes the version check fail
//! only for writes made elsewhere (another node, the console), so a small bound on attempts is
//! enough. Writes of different resources never wait for each other: there is one queue per
//! resource in use, and it goes away with its last writer.
//!
//! Written here because it is a dozen lines over tokio's mutex; keyed-lock crates add more
//! than they save.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

type Queue = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub struct WriteTurns {
    /// Each resource in use: its queue, and how many writers hold or wait for it.
    queues: Mutex<HashMap<Uuid, (Queue, usize)>>,
}

/// A writer's turn: held until dropped (also when the request is abandoned while waiting).
pub struct Turn<'a> {
    turns: &'a WriteTurns,
    key: Uuid,
    guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTurns {
    /// Waits until no other writer of this process holds `key`'s turn, and takes it.
    pub async fn take(&self, key: Uuid) -> Turn<'_> {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = queues
                .entry(key)
                .or_insert_with(|| (Arc::new(tokio::sync::Mutex::new(())), 0));
            entry.1 += 1;
            Arc::clone(&entry.0)
        };
        // Counted before waiting, so a writer abandoned while waiting is uncounted on drop.
        let mut turn = Turn {
            turns: self,
            key,
            guard: None,
        };
        turn.guard = Some(queue.lock_owned().await);
        turn
    }

    /// How many resources have a queue now (for tests: queues must not pile up).
    pub fn in_use(&self) -> usize {
        self.queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut queues = self
            .turns
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.guard = None;
        if let Some(entry) = queues.get_mut(&self.key) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                queues.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_writer_per_resource_and_nothing_left_behind() {
        let turns = Arc::new(WriteTurns::default());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = turns.take(a).await;
        // Another resource is not held up.
        let other = tokio::time::timeout(Duration::from_secs(5), turns.take(b))
            .await
            .expect("a different resource waited");
        drop(other);
        // The same resource waits for the first turn to end.
        let waiting = {
            let turns = Arc::clone(&turns);
            tokio::spawn(async move {
                let _turn = turns.take(a).await;
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap();
        assert_eq!(turns.in_use(), 0);
    }

    #[tokio::test]
    async fn an_abandoned_wait_leaves_no_queue() {
        let turns = WriteTurns::default();
        let key = Uuid::new_v4();
        let held = turns.take(key).await;
        let abandoned = tokio::time::timeout(Duration::from_millis(20), turns.take(key)).await;
        assert!(abandoned.is_err());
        drop(held);
        assert_eq!(turns.in_use(), 0);
    }
}
