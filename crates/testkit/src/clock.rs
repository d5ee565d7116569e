//! A clock the test moves by hand, shared by the test and the server it drives: an expiry is
//! reached by advancing it, not by writing rows that look old.

use directory::Clock;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// Starts at the current instant (millisecond precision, as the stores keep it).
    pub fn new() -> Arc<ManualClock> {
        ManualClock::at(directory::SystemClock.now())
    }

    /// Starts at `instant`.
    pub fn at(instant: OffsetDateTime) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(instant)))
    }

    /// Moves time on (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }

    /// Sets the instant.
    pub fn set(&self, instant: OffsetDateTime) {
        *self.0.lock().unwrap() = instant;
    }

    /// The same clock as the services take it.
    pub fn shared(self: &Arc<Self>) -> Arc<dyn Clock> {
        self.clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_when_told() {
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let clock = ManualClock::at(start);
        let services = clock.shared();
        assert_eq!(services.now(), start);
        clock.advance(time::Duration::minutes(5));
        assert_eq!(services.now(), start + time::Duration::minutes(5));
        clock.set(start);
        assert_eq!(services.now(), start);
    }
}
