//! Rate limits for the ACS, which anyone may post to: token buckets per connection and per
//! client address, checked before the body is read.
//!
//! The per-address table has a fixed capacity so that an attacker spraying addresses cannot
//! grow it: entries whose bucket has refilled are dropped when room is needed, and while the
//! table is full of live entries, addresses not in it share one overflow bucket.
//!
//! The client address is the TCP peer: behind a reverse proxy every client has the proxy's
//! address (a trusted-proxy setting is not implemented; see docs/security.md).

use super::serving::PeerConnection;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// ACS posts one client address may make: a sign-in is one post, so this leaves room for an
/// office behind one NAT address signing in at nine in the morning.
pub const ACS_PER_ADDRESS: RateLimit = RateLimit {
    per_minute: 60,
    burst: 30,
};
/// ACS posts one connection may make (a browser posts once per sign-in).
pub const ACS_PER_CONNECTION: RateLimit = RateLimit {
    per_minute: 20,
    burst: 10,
};
/// Client addresses tracked at once (about 100 bytes each).
pub const THROTTLE_TABLE_CAPACITY: usize = 16_384;
/// While the table is full, it is swept for refilled entries at most this often.
pub const THROTTLE_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// A throttled address is reported to the audit log at most this often, with the number of
/// posts refused since its last report.
pub const THROTTLE_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// A token bucket; a new one is full.
#[derive(Debug, Clone, Default)]
pub struct TokenBucket {
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` while the bucket is untouched (full).
    updated: Option<Instant>,
}

impl TokenBucket {
    pub fn full() -> Self {
        TokenBucket::default()
    }

    fn level(&self, limit: RateLimit, now: Instant) -> f64 {
        let burst = f64::from(limit.burst.max(1));
        match self.updated {
            None => burst,
            Some(t) => {
                let refill = now.saturating_duration_since(t).as_secs_f64()
                    * f64::from(limit.per_minute)
                    / 60.0;
                (self.tokens + refill).min(burst)
            }
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        let level = self.level(limit, now);
        if level >= 1.0 {
            self.tokens = level - 1.0;
            self.updated = Some(now);
            return Ok(());
        }
        self.tokens = level;
        self.updated = Some(now);
        let per_second = f64::from(limit.per_minute.max(1)) / 60.0;
        Err(Duration::from_secs_f64((1.0 - level) / per_second))
    }

    fn is_full(&self, limit: RateLimit, now: Instant) -> bool {
        self.level(limit, now) >= f64::from(limit.burst.max(1))
    }
}

/// Whom a limit counts: an IPv4 address, or the /64 network of an IPv6 address (one site
/// usually holds a whole /64, so counting its addresses one by one would count nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    V6Network(u64),
    /// Every address that found the table full.
    Overflow,
}

impl ClientKey {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::V6Network((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientKey::V4(a) => write!(f, "{a}"),
            ClientKey::V6Network(n) => {
                write!(f, "{}/64", std::net::Ipv6Addr::from(u128::from(*n) << 64))
            }
            ClientKey::Overflow => f.write_str("addresses beyond the rate limiter's table"),
        }
    }
}

/// What the throttle says about one post.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Throttled {
        retry_after: Duration,
        /// Set when this refusal should be audited: the posts refused from this client since
        /// its last report, this one included.
        report: Option<u64>,
    },
}

#[derive(Debug, Default)]
struct Entry {
    bucket: TokenBucket,
    unreported: u64,
    last_report: Option<Instant>,
}

impl Entry {
    fn throttled(&mut self, retry_after: Duration, now: Instant) -> Verdict {
        self.unreported += 1;
        let due = self
            .last_report
            .is_none_or(|t| now.saturating_duration_since(t) >= THROTTLE_REPORT_INTERVAL);
        let report = due.then(|| {
            self.last_report = Some(now);
            std::mem::take(&mut self.unreported)
        });
        Verdict::Throttled {
            retry_after,
            report,
        }
    }
}

struct Table {
    entries: HashMap<ClientKey, Entry>,
    overflow: Entry,
    next_sweep: Instant,
}

/// The ACS's rate limiter. One per server.
pub struct AcsThrottle {
    per_address: RateLimit,
    per_connection: RateLimit,
    capacity: usize,
    table: Mutex<Table>,
}

impl Default for AcsThrottle {
    fn default() -> Self {
        AcsThrottle::new(ACS_PER_ADDRESS, ACS_PER_CONNECTION, THROTTLE_TABLE_CAPACITY)
    }
}

impl AcsThrottle {
    pub fn new(per_address: RateLimit, per_connection: RateLimit, capacity: usize) -> Self {
        AcsThrottle {
            per_address,
            per_connection,
            capacity: capacity.max(1),
            table: Mutex::new(Table {
                entries: HashMap::with_capacity(capacity.clamp(1, 1024)),
                overflow: Entry::default(),
                next_sweep: Instant::now(),
            }),
        }
    }

    pub fn per_address(&self) -> RateLimit {
        self.per_address
    }

    /// Counts one post from `client` on `connection`, refusing it past either limit.
    pub fn check(
        &self,
        client: ClientKey,
        connection: Option<&PeerConnection>,
        now: Instant,
    ) -> Verdict {
        let by_connection = connection.map(|c| {
            c.acs_budget
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(self.per_connection, now)
        });
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = table.entry_for(client, self.per_address, self.capacity, now);
        if let Some(Err(retry_after)) = by_connection {
            return entry.throttled(retry_after, now);
        }
        match entry.bucket.take(self.per_address, now) {
            Ok(()) => Verdict::Pass,
            Err(retry_after) => entry.throttled(retry_after, now),
        }
    }

    /// Addresses tracked now (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }
}

impl Table {
    fn entry_for(
        &mut self,
        client: ClientKey,
        limit: RateLimit,
        capacity: usize,
        now: Instant,
    ) -> &mut Entry {
        if !self.entries.contains_key(&client) && self.entries.len() >= capacity {
            if now >= self.next_sweep {
                // Refilled entries carry nothing a fresh one would not, except refusals not
                // reported yet, which are given up.
                self.entries.retain(|_, e| !e.bucket.is_full(limit, now));
                self.next_sweep = now + THROTTLE_SWEEP_INTERVAL;
            }
            if self.entries.len() >= capacity {
                return &mut self.overflow;
            }
        }
        self.entries.entry(client).or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_minute: 60,
        burst: 3,
    };

    #[test]
    fn bucket_allows_the_burst_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full();
        for _ in 0..3 {
            assert!(b.take(LIMIT, t0).is_ok());
        }
        let wait = b.take(LIMIT, t0).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
        assert!(b.take(LIMIT, t0 + Duration::from_millis(1001)).is_ok());
        assert!(b.take(LIMIT, t0 + Duration::from_millis(1002)).is_err());
        assert!(b.is_full(LIMIT, t0 + Duration::from_secs(10)));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_network_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_ne!(ClientKey::of(a), ClientKey::of(c));
        assert_eq!(ClientKey::of(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(ClientKey::of(mapped).to_string(), "192.0.2.7");
    }

    #[test]
    fn refusals_are_reported_once_per_interval_with_their_count() {
        let t0 = Instant::now();
        let throttle = AcsThrottle::new(LIMIT, ACS_PER_CONNECTION, 16);
        let me = ClientKey::V4(Ipv4Addr::new(192, 0, 2, 1));
        for _ in 0..3 {
            assert_eq!(throttle.check(me, None, t0), Verdict::Pass);
        }
        let reports: Vec<Option<u64>> = (0..5)
            .map(|_| match throttle.check(me, None, t0) {
                Verdict::Throttled { report, .. } => report,
                Verdict::Pass => panic!("passed past the burst"),
            })
            .collect();
        assert_eq!(reports, vec![Some(1), None, None, None, None]);
        // A minute on: the bucket has refilled, so spend it, then the next refusal reports
        // the four held back and itself.
        let later = t0 + THROTTLE_REPORT_INTERVAL;
        for _ in 0..3 {
            assert_eq!(throttle.check(me, None, later), Verdict::Pass);
        }
        match throttle.check(me, None, later) {
            Verdict::Throttled { report, .. } => assert_eq!(report, Some(5)),
            Verdict::Pass => panic!("passed past the burst"),
        }
        // Another address is not affected.
        let other = ClientKey::V4(Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(throttle.check(other, None, later), Verdict::Pass);
    }

    #[test]
    fn a_sprayed_table_stays_at_its_capacity_and_overflow_shares_one_bucket() {
        let t0 = Instant::now();
        let throttle = AcsThrottle::new(LIMIT, ACS_PER_CONNECTION, 100);
        let mut refused = 0;
        for i in 0..10_000u32 {
            let key = ClientKey::V4(Ipv4Addr::from(0x0a00_0000 + i));
            if matches!(throttle.check(key, None, t0), Verdict::Throttled { .. }) {
                refused += 1;
            }
        }
        assert_eq!(throttle.tracked(), 100);
        // 100 tracked addresses pass; the other 9,900 share the overflow's burst of 3.
        assert_eq!(refused, 10_000 - 100 - 3);
        // Once their buckets have refilled, tracked entries make room for new addresses.
        let later = t0 + Duration::from_secs(10);
        let newcomer = ClientKey::V4(Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(throttle.check(newcomer, None, later), Verdict::Pass);
        assert_eq!(throttle.tracked(), 1);
    }
}
