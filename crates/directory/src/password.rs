//! Console passwords: argon2id hashing and verification, bounded in how many run at once.
//!
//! Each argon2id computation (the crate's default parameters) holds 19 MiB for tens of
//! milliseconds of one core. Unbounded, a burst of sign-ins is a burst of memory: every
//! hash and every verify therefore takes a slot first, waits at most
//! [`PASSWORD_SLOT_WAIT`] for one, and is shed as [`ErrorKind::Busy`] when none frees up,
//! so memory stays at `slots × 19 MiB` whatever the traffic.
//!
//! Each slot also owns its 19 MiB of argon2 state, allocated once and reused: letting the
//! crate allocate per computation leaves the freed state cached in the allocator of whichever
//! blocking thread ran it (measured: 100 parallel verifications through 4 slots grew the
//! process by 1 GiB), while reused buffers keep the memory at the number of slots.

use crate::error::{Error, ErrorKind};
use crate::token;
use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Arc, Mutex, OnceLock};
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
    /// Argon2 state buffers of idle slots: a computation takes one with its slot and gives it
    /// back, so there are never more than `capacity`.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
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
            memory: Arc::new(Mutex::new(Vec::new())),
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

    /// Runs `work` off the async threads with a slot and its state buffer.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, Error> {
        let permit = self.slot().await?;
        let pool = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            // Held until the computation ends, even if the caller went away meanwhile.
            let _permit = permit;
            let reused = pool.lock().ok().and_then(|mut idle| idle.pop());
            let mut memory =
                reused.unwrap_or_else(|| vec![Block::default(); Params::DEFAULT.block_count()]);
            let out = work(&mut memory);
            if let Ok(mut idle) = pool.lock() {
                idle.push(memory);
            }
            out
        })
        .await
        .map_err(|e| Error::internal(format!("password task failed: {e}")))
    }

    /// Argon2id PHC string of `password`, off the async threads. `Busy` when no slot freed up.
    pub async fn hash(&self, password: String) -> Result<String, Error> {
        self.run(move |memory| hash_with(memory, password.as_bytes()))
            .await?
            .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
    }

    /// Verifies against `stored`, or against a throwaway hash when there is none, so both
    /// take the same time. An unreadable stored hash never matches. `Busy` when no slot freed up.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        self.run(move |memory| match &stored {
            Some(phc) => verify_with(memory, password.as_bytes(), phc),
            None => {
                let dummy = dummy_hash(memory);
                verify_with(memory, password.as_bytes(), dummy);
                false
            }
        })
        .await
    }
}

/// Argon2id with the crate's default parameters (19 MiB, 2 passes, 1 lane), in `memory`.
fn hash_with(
    memory: &mut [Block],
    password: &[u8],
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let params = Params::DEFAULT;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, raw_salt, &mut out, &mut *memory)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`, computed in `memory`. A hash that is not
/// argon2, or asks for more memory than a slot has, never matches.
fn verify_with(memory: &mut [Block], password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    if params.block_count() > memory.len() {
        tracing::warn!(
            blocks = params.block_count(),
            "a stored password hash asks for more memory than a password slot has"
        );
        return false;
    }
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, raw_salt, &mut out, &mut *memory)
        .is_ok()
        // `Output` compares in constant time.
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

fn dummy_hash(memory: &mut [Block]) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_with(memory, token::generate_secret("dummy").as_bytes())
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

    #[tokio::test]
    async fn hashes_interoperate_with_the_crates_own_and_odd_ones_never_match() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let hashing = PasswordHashing::default();
        let ours = hashing.hash("one two three four".into()).await.unwrap();
        assert!(Argon2::default()
            .verify_password(b"one two three four", &PasswordHash::new(&ours).unwrap())
            .is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(hashing
            .verify("pw".into(), Some(theirs.clone()))
            .await
            .unwrap());
        assert!(!hashing.verify("px".into(), Some(theirs)).await.unwrap());
        // More memory than a slot holds: refused without computing.
        let big = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(Params::DEFAULT_M_COST * 2, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &salt)
        .unwrap()
        .to_string();
        assert!(!hashing.verify("pw".into(), Some(big)).await.unwrap());
        // Not argon2 at all.
        assert!(!hashing
            .verify("pw".into(), Some("$pbkdf2-sha256$i=1$c2FsdA$aGFzaA".into()))
            .await
            .unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn state_buffers_are_reused_never_more_than_the_slots() {
        let hashing = PasswordHashing::new(2, Duration::from_secs(60));
        let burst = (0..12).map(|_| {
            let h = hashing.clone();
            tokio::spawn(async move { h.verify("pw".into(), None).await })
        });
        for task in burst {
            assert!(!task.await.unwrap().unwrap());
        }
        let buffers = hashing.memory.lock().unwrap().len();
        assert!((1..=2).contains(&buffers), "{buffers} buffers for 2 slots");
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
