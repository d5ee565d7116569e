//! Console passwords: argon2id hashing and verification, bounded in how many run at once.
//!
//! Each argon2id computation (the crate's default parameters) holds 19 MiB for tens of
//! milliseconds of one core. Unbounded, a burst of sign-ins is a burst of memory: every
//! hash and every verify therefore takes a slot first, waits at most
//! [`PASSWORD_SLOT_WAIT`] for one, and is shed as [`ErrorKind::Busy`] when none frees up,
//! so memory stays at `slots × 19 MiB` whatever the traffic.

use crate::error::{Error, ErrorKind};
use crate::token;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Password computations that may run at once, per core the process may use.
pub const PASSWORD_SLOTS_PER_CORE: usize = 2;
/// How long a sign-in waits for a free slot before it is told to try again.
pub const PASSWORD_SLOT_WAIT: Duration = Duration::from_millis(500);
/// What a shed request is told to wait (`Retry-After`, seconds).
pub const PASSWORD_BUSY_RETRY_AFTER_SECS: u64 = 5;

/// What a shed request is told, on every surface.
pub const PASSWORD_BUSY: &str =
    "Too many sign-ins are being checked right now. Wait a few seconds and try again.";

/// The bounded pool of password computations; cheap to clone, shared by every clone.
#[derive(Clone, Debug)]
pub struct PasswordHashing {
    slots: Arc<Semaphore>,
    capacity: usize,
    wait: Duration,
}

impl Default for PasswordHashing {
    /// [`PASSWORD_SLOTS_PER_CORE`] × the cores available, waiting [`PASSWORD_SLOT_WAIT`].
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores * PASSWORD_SLOTS_PER_CORE, PASSWORD_SLOT_WAIT)
    }
}

impl PasswordHashing {
    /// At most `slots` computations at once; a caller waits `wait` for a slot. With no slots
    /// at all every computation is shed (what a test uses to see the refusal for certain).
    pub fn new(slots: usize, wait: Duration) -> Self {
        let capacity = slots.min(Semaphore::MAX_PERMITS);
        PasswordHashing {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            wait,
        }
    }

    /// How many computations may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Computations running right now.
    pub fn running(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, Error> {
        match tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out (or closed, which this type never does): shed.
            _ => Err(Error::new(ErrorKind::Busy, PASSWORD_BUSY)),
        }
    }

    /// Argon2id PHC string of `password`, off the async threads. `Busy` when no slot freed up.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let permit = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            // Held until the computation ends, even if the caller went away meanwhile.
            let _permit = permit;
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
        })
        .await
        .map_err(|e| Error::internal(format!("password hashing task failed: {e}")))?
    }

    /// Verifies against `stored`, or against a throwaway hash when there is none, so both
    /// take the same time. An unreadable stored hash never matches. `Busy` when no slot freed up.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        let permit = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let (phc, real) = match &stored {
                Some(s) => (s.as_str(), true),
                None => (dummy_hash(), false),
            };
            let Ok(parsed) = PasswordHash::new(phc) else {
                return false;
            };
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            ok && real
        })
        .await
        .map_err(|e| Error::internal(format!("password check task failed: {e}")))
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(token::generate_secret("dummy").as_bytes(), &salt)
            .map(|h| h.to_string())
            // Unparseable on purpose: verify then fails fast, still never matching.
            .unwrap_or_default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify() {
        let hashing = PasswordHashing::default();
        assert!(hashing.capacity() >= PASSWORD_SLOTS_PER_CORE);
        let h = hashing.hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(hashing
            .verify("correct horse battery".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!hashing.verify("wrong".into(), Some(h)).await.unwrap());
        assert!(!hashing.verify("x".into(), None).await.unwrap());
        assert!(!hashing
            .verify("x".into(), Some("not a hash".into()))
            .await
            .unwrap());
        assert_eq!(hashing.running(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_pool_sheds_after_the_wait_and_never_runs_more_than_its_slots() {
        let hashing = PasswordHashing::new(1, Duration::from_millis(1));
        // Hold the only slot: the next computation cannot start and is shed as Busy.
        let held = hashing.slot().await.unwrap();
        assert_eq!(hashing.running(), 1);
        let shed = hashing.verify("pw".into(), None).await.unwrap_err();
        assert_eq!((shed.kind, shed.status()), (ErrorKind::Busy, 429));
        assert_eq!(
            hashing.hash("pw".into()).await.unwrap_err().kind,
            ErrorKind::Busy
        );
        drop(held);
        assert!(!hashing.verify("pw".into(), None).await.unwrap());
        assert_eq!(hashing.running(), 0);

        let closed = PasswordHashing::new(0, Duration::ZERO);
        assert_eq!(
            closed.hash("pw".into()).await.unwrap_err().kind,
            ErrorKind::Busy
        );
    }
}
