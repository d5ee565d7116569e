//! What a list or search needs when no index answers it alone: the organization is read in
//! chunks of [`ScanLimits::chunk`] rows in insertion order, the filter is checked on each
//! chunk, and only what the page needs is kept — the count of matches and the positions of
//! the page's rows, or for a sort the best `startIndex + count − 1` of them. Memory per
//! request is O(chunk + page), never O(organization).
//!
//! Such scans are bounded per organization ([`ScanGate`]) so one tenant cannot hold every
//! blocking thread or the disk.

use crate::error::{Error, ErrorKind};
use crate::ids::OrgId;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Rows read from the store per chunk of a scan.
pub const SCAN_CHUNK_ROWS: u32 = 500;
/// Scans (lists and searches that no index answers alone) one organization may run at once.
pub const MAX_CONCURRENT_SCANS_PER_ORG: u16 = 2;
/// How long a scan waits for one of its organization's slots before it is refused.
pub const SCAN_SLOT_WAIT: Duration = Duration::from_secs(2);
/// What a refused scan is told to wait before trying again (`Retry-After`).
pub const SCAN_RETRY_AFTER_SECONDS: u64 = 2;
/// The largest `startIndex` of a sorted scan: a sort keeps the best `startIndex + count − 1`
/// matches, so this bounds its memory. Past it, narrow the filter (e.g. by
/// `meta.lastModified`) instead of paging further.
pub const MAX_SORTED_SCAN_START_INDEX: u64 = 10_000;

/// A SCIM write body larger than this is a large request: parsed and applied it costs up to
/// tens of MiB (a 19,000-member PATCH about 24 MiB), so it takes one of its organization's
/// large-request slots for as long as it runs.
pub const LARGE_REQUEST_BYTES: usize = 64 * 1024;
/// Large requests one organization may have parsed and running at once; more wait
/// [`SCAN_SLOT_WAIT`] for a slot, then get 429 with `Retry-After`.
pub const MAX_CONCURRENT_LARGE_REQUESTS_PER_ORG: u16 = 2;

/// The scan settings a service runs with: the constants above unless a test or the
/// operator changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    pub chunk: u32,
    pub per_org: u16,
    pub wait: Duration,
    pub max_sorted_start_index: u64,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            chunk: SCAN_CHUNK_ROWS,
            per_org: MAX_CONCURRENT_SCANS_PER_ORG,
            wait: SCAN_SLOT_WAIT,
            max_sorted_start_index: MAX_SORTED_SCAN_START_INDEX,
        }
    }
}

/// How many scans each organization runs at once: a small semaphore per organization,
/// created on first use and dropped when its last scan ends, so the map holds only the
/// organizations scanning right now.
pub struct ScanGate {
    per_org: u16,
    wait: Duration,
    work: GatedWork,
    running: Arc<Mutex<HashMap<OrgId, Arc<Semaphore>>>>,
}

/// What a [`ScanGate`] bounds, for what a refused client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GatedWork {
    Scans,
    LargeRequests,
}

/// A slot of its organization's scans, given back when dropped.
pub struct ScanSlot {
    permit: Option<OwnedSemaphorePermit>,
    org: OrgId,
    running: Arc<Mutex<HashMap<OrgId, Arc<Semaphore>>>>,
}

impl Drop for ScanSlot {
    fn drop(&mut self) {
        drop(self.permit.take());
        forget_if_idle(&self.running, self.org);
    }
}

/// Drops the organization's semaphore when only the map holds it: nobody scans or waits.
fn forget_if_idle(running: &Mutex<HashMap<OrgId, Arc<Semaphore>>>, org: OrgId) {
    if let Ok(mut running) = running.lock() {
        if running.get(&org).is_some_and(|s| Arc::strong_count(s) == 1) {
            running.remove(&org);
        }
    }
}

impl ScanGate {
    pub fn new(limits: &ScanLimits) -> Self {
        ScanGate {
            per_org: limits.per_org.max(1),
            wait: limits.wait,
            work: GatedWork::Scans,
            running: Arc::default(),
        }
    }

    /// The gate of large SCIM write requests ([`LARGE_REQUEST_BYTES`]), `per_org` at once.
    pub fn for_large_requests(per_org: u16, wait: Duration) -> Self {
        ScanGate {
            per_org: per_org.max(1),
            wait,
            work: GatedWork::LargeRequests,
            running: Arc::default(),
        }
    }

    /// A slot for one scan of `org`, waiting at most the configured time for one to free.
    pub async fn enter(&self, org: OrgId) -> Result<ScanSlot, Error> {
        let semaphore = {
            let mut running = self
                .running
                .lock()
                .map_err(|_| Error::internal("the scan gate is poisoned"))?;
            Arc::clone(
                running
                    .entry(org)
                    .or_insert_with(|| Arc::new(Semaphore::new(usize::from(self.per_org)))),
            )
        };
        let permit = tokio::time::timeout(self.wait, semaphore.acquire_owned()).await;
        match permit {
            Ok(Ok(permit)) => Ok(ScanSlot {
                permit: Some(permit),
                org,
                running: Arc::clone(&self.running),
            }),
            _ => {
                // The timed-out wait (and its hold on the semaphore) is gone by now.
                forget_if_idle(&self.running, org);
                let detail = match self.work {
                    GatedWork::Scans => format!(
                        "this organization is already running {} searches that no index answers (the limit per organization is {}); retry in {} seconds, or filter on an indexed attribute (userName, emails, externalId or displayName with eq or sw)",
                        self.per_org, self.per_org, SCAN_RETRY_AFTER_SECONDS
                    ),
                    GatedWork::LargeRequests => format!(
                        "this organization already has {} requests larger than {} KiB being applied (the limit per organization is {}); retry in {} seconds, or send smaller requests",
                        self.per_org,
                        LARGE_REQUEST_BYTES / 1024,
                        self.per_org,
                        SCAN_RETRY_AFTER_SECONDS
                    ),
                };
                Err(Error::new(ErrorKind::Busy, detail))
            }
        }
    }

    /// Organizations with a scan running or waiting (for tests of the cleanup).
    pub fn organizations_scanning(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }
}

/// What scans have read, for tests and benchmarks: the bound on what one request holds is
/// checked here rather than by measuring memory.
#[derive(Debug, Default)]
pub struct ScanStats {
    scans: AtomicU64,
    rows_read: AtomicU64,
    largest_chunk: AtomicU64,
    most_kept: AtomicU64,
}

/// A copy of [`ScanStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStatsSnapshot {
    /// Scans run.
    pub scans: u64,
    /// Rows the store returned to scans, in all.
    pub rows_read: u64,
    /// The most rows one store call returned to a scan.
    pub largest_chunk: u64,
    /// The most matches one scan kept at once (page positions or sort entries).
    pub most_kept: u64,
}

impl ScanStats {
    pub(crate) fn record_chunk(&self, rows: usize) {
        let rows = rows as u64;
        self.rows_read.fetch_add(rows, AtomicOrdering::Relaxed);
        self.largest_chunk.fetch_max(rows, AtomicOrdering::Relaxed);
    }

    pub(crate) fn record_scan(&self, kept: usize) {
        self.scans.fetch_add(1, AtomicOrdering::Relaxed);
        self.most_kept
            .fetch_max(kept as u64, AtomicOrdering::Relaxed);
    }

    pub fn snapshot(&self) -> ScanStatsSnapshot {
        ScanStatsSnapshot {
            scans: self.scans.load(AtomicOrdering::Relaxed),
            rows_read: self.rows_read.load(AtomicOrdering::Relaxed),
            largest_chunk: self.largest_chunk.load(AtomicOrdering::Relaxed),
            most_kept: self.most_kept.load(AtomicOrdering::Relaxed),
        }
    }
}

/// A value a scan sorts by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortScalar {
    Int(i64),
    Text(String),
}

/// How a sort orders missing values and ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortSemantics {
    /// As the stores sort a column: missing values last in both directions, ties in
    /// insertion order.
    Column,
    /// As a sort of the resources' JSON: ascending puts missing values last with ties in
    /// insertion order; descending is exactly the reverse.
    Reversible,
}

/// A value ordered one way or the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directed<T> {
    value: T,
    reversed: bool,
}

impl<T: Ord> PartialOrd for Directed<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Directed<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        let order = self.value.cmp(&other.value);
        if self.reversed {
            order.reverse()
        } else {
            order
        }
    }
}

/// Where a match goes in the sorted answer: smaller comes first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    /// Whether the match sorts among the missing values' end.
    last: bool,
    value: Option<Directed<SortScalar>>,
    seq: Directed<i64>,
}

impl Rank {
    fn new(
        value: Option<SortScalar>,
        seq: i64,
        descending: bool,
        semantics: SortSemantics,
    ) -> Rank {
        let missing = value.is_none();
        let value = value.map(|value| Directed {
            value,
            reversed: descending,
        });
        match (semantics, descending) {
            (SortSemantics::Column, _) | (SortSemantics::Reversible, false) => Rank {
                last: missing,
                value,
                seq: Directed {
                    value: seq,
                    reversed: false,
                },
            },
            (SortSemantics::Reversible, true) => Rank {
                last: !missing,
                value,
                seq: Directed {
                    value: seq,
                    reversed: true,
                },
            },
        }
    }
}

/// What a scan keeps of its matches, offered in insertion order.
pub(crate) enum Selection {
    /// No sort: matches are counted, and the seqs of those at the page's positions kept.
    Window {
        skip: u64,
        take: u64,
        seen: u64,
        page: Vec<i64>,
    },
    /// A sort: the best `keep` matches so far, in a max-heap whose top is the worst.
    TopK {
        skip: u64,
        keep: usize,
        seen: u64,
        descending: bool,
        semantics: SortSemantics,
        best: BinaryHeap<Rank>,
    },
}

impl Selection {
    /// The page starting at 1-based `start_index`, `count` long.
    pub(crate) fn window(start_index: u64, count: u64) -> Self {
        Selection::Window {
            skip: start_index.saturating_sub(1),
            take: count,
            seen: 0,
            page: Vec::new(),
        }
    }

    pub(crate) fn top_k(
        start_index: u64,
        count: u64,
        descending: bool,
        semantics: SortSemantics,
    ) -> Self {
        let skip = start_index.saturating_sub(1);
        let keep = if count == 0 {
            0
        } else {
            usize::try_from(skip.saturating_add(count)).unwrap_or(usize::MAX)
        };
        Selection::TopK {
            skip,
            keep,
            seen: 0,
            descending,
            semantics,
            best: BinaryHeap::new(),
        }
    }

    /// One match: its seq and (for a sort) the value it sorts by.
    pub(crate) fn offer(&mut self, seq: i64, value: Option<SortScalar>) {
        match self {
            Selection::Window {
                skip,
                take,
                seen,
                page,
            } => {
                if *seen >= *skip && *seen - *skip < *take {
                    page.push(seq);
                }
                *seen += 1;
            }
            Selection::TopK {
                keep,
                seen,
                descending,
                semantics,
                best,
                ..
            } => {
                *seen += 1;
                if *keep == 0 {
                    return;
                }
                let rank = Rank::new(value, seq, *descending, *semantics);
                if best.len() < *keep {
                    best.push(rank);
                } else if best.peek().is_some_and(|worst| rank < *worst) {
                    best.pop();
                    best.push(rank);
                }
            }
        }
    }

    /// How many entries are kept right now.
    pub(crate) fn kept(&self) -> usize {
        match self {
            Selection::Window { page, .. } => page.len(),
            Selection::TopK { best, .. } => best.len(),
        }
    }

    /// The number of matches and the seqs of the page, in the answer's order.
    pub(crate) fn finish(self) -> (u64, Vec<i64>) {
        match self {
            Selection::Window { seen, page, .. } => (seen, page),
            Selection::TopK {
                skip, seen, best, ..
            } => {
                let skip = usize::try_from(skip).unwrap_or(usize::MAX);
                let page = best
                    .into_sorted_vec()
                    .into_iter()
                    .skip(skip)
                    .map(|rank| rank.seq.value)
                    .collect();
                (seen, page)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<SortScalar> {
        Some(SortScalar::Text(s.into()))
    }

    /// The old way: every match sorted in memory (stable, so ties keep insertion order).
    fn full_sort(
        rows: &[(i64, Option<SortScalar>)],
        descending: bool,
        semantics: SortSemantics,
    ) -> Vec<i64> {
        let mut all = rows.to_vec();
        match semantics {
            SortSemantics::Reversible => {
                all.sort_by(|(_, a), (_, b)| match (a, b) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                });
                if descending {
                    all.reverse();
                }
            }
            SortSemantics::Column => all.sort_by(|(_, a), (_, b)| match (a, b) {
                (Some(x), Some(y)) if descending => y.cmp(x),
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }),
        }
        all.into_iter().map(|(seq, _)| seq).collect()
    }

    #[test]
    fn top_k_gives_the_full_sorts_page_for_every_window() {
        let values = ["b", "a", "c", "a", "", "b"];
        let rows: Vec<(i64, Option<SortScalar>)> = (0..30)
            .map(|i| {
                let v = values[i % values.len()];
                (i as i64 + 1, if v.is_empty() { None } else { text(v) })
            })
            .collect();
        for semantics in [SortSemantics::Column, SortSemantics::Reversible] {
            for descending in [false, true] {
                let expected = full_sort(&rows, descending, semantics);
                for start in [1u64, 2, 5, 17, 29, 30, 31, 40] {
                    for count in [0u64, 1, 3, 10, 100] {
                        let mut s = Selection::top_k(start, count, descending, semantics);
                        for (seq, v) in &rows {
                            s.offer(*seq, v.clone());
                            assert!(s.kept() as u64 <= start - 1 + count);
                        }
                        let (total, page) = s.finish();
                        assert_eq!(total, 30);
                        let want: Vec<i64> = expected
                            .iter()
                            .copied()
                            .skip(start as usize - 1)
                            .take(count as usize)
                            .collect();
                        assert_eq!(
                            page, want,
                            "{semantics:?} desc={descending} {start}/{count}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_window_keeps_only_its_positions() {
        let mut s = Selection::window(3, 2);
        for seq in 10..20 {
            s.offer(seq, None);
            assert!(s.kept() <= 2);
        }
        assert_eq!(s.finish(), (10, vec![12, 13]));
        let mut s = Selection::window(20, 5);
        for seq in 1..=10 {
            s.offer(seq, None);
        }
        assert_eq!(s.finish(), (10, vec![]));
    }

    #[tokio::test]
    async fn the_gate_lets_a_few_scans_per_organization_and_refuses_the_rest() {
        let gate = ScanGate::new(&ScanLimits {
            per_org: 2,
            wait: Duration::from_millis(50),
            ..ScanLimits::default()
        });
        let (a, b) = (OrgId::new_random(), OrgId::new_random());
        let first = gate.enter(a).await.unwrap();
        let second = gate.enter(a).await.unwrap();
        let refused = gate.enter(a).await.err().unwrap();
        assert_eq!(refused.kind, ErrorKind::Busy);
        assert!(
            refused.detail.contains("limit per organization is 2"),
            "{}",
            refused.detail
        );
        // Another organization is not affected.
        let other = gate.enter(b).await.unwrap();
        drop(other);
        drop(first);
        let third = gate.enter(a).await.unwrap();
        drop((second, third));
        // Nothing is kept for organizations that no longer scan.
        assert_eq!(gate.organizations_scanning(), 0);
    }
}
