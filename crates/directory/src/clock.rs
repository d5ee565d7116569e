//! Time is a parameter: services ask a [`Clock`], so tests can fix the instant.

use time::OffsetDateTime;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the system's time is read (clippy.toml bans it everywhere else).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        // Millisecond precision: both backends store it losslessly and ETags stay stable.
        let now = OffsetDateTime::now_utc();
        let ms = now.millisecond();
        now.replace_millisecond(ms).unwrap_or(now)
    }
}
