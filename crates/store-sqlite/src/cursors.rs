//! Where the next page of an import starts.
//!
//! IdPs import an organization by walking `startIndex` pages in insertion order, and SCIM's
//! `startIndex` is a position, not a cursor: with `OFFSET` each page walks every row before
//! it, so a full import of N users costs O(N²). Rows are appended in `seq` order and never
//! move, so the position right after a page that was just served is known exactly: the next
//! page starts after that page's last `seq`. Deleting a user shifts every later position, so
//! a delete invalidates what is remembered: a generation counter moves when a delete starts
//! and when it has committed, and nothing is remembered or used while one is in flight.

use directory::ids::OrgId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Positions remembered at most; an import needs one per organization at a time.
const CAPACITY: usize = 4096;

#[derive(Default)]
pub(crate) struct PageCursors {
    generation: AtomicU64,
    deletes_in_flight: AtomicU64,
    /// (organization, position) → (seq of the row just before that position, generation).
    after: Mutex<HashMap<(OrgId, u64), (i64, u64)>>,
}

impl PageCursors {
    /// The generation to pass to [`Self::remember`] after the read.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn quiet(&self) -> bool {
        self.deletes_in_flight.load(Ordering::Acquire) == 0
    }

    /// The seq after which position `offset` of the organization's users starts, if known.
    pub(crate) fn seq_before(&self, org: OrgId, offset: u64) -> Option<i64> {
        let now = self.generation();
        let after = self.after.lock().ok()?;
        match after.get(&(org, offset)) {
            Some(&(seq, generation)) if generation == now && self.quiet() => Some(seq),
            _ => None,
        }
    }

    /// Remembers that position `offset` starts after `seq`, if no delete ran since
    /// `generation` was read.
    pub(crate) fn remember(&self, org: OrgId, offset: u64, seq: i64, generation: u64) {
        if !self.quiet() || self.generation() != generation {
            return;
        }
        if let Ok(mut after) = self.after.lock() {
            if after.len() >= CAPACITY {
                after.clear();
            }
            after.insert((org, offset), (seq, generation));
        }
    }

    /// Marks a delete of users in flight until the guard is dropped, after the delete has
    /// committed or failed (or its caller went away).
    pub(crate) fn deleting(&self) -> Deleting<'_> {
        self.deletes_in_flight.fetch_add(1, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Deleting(self)
    }
}

pub(crate) struct Deleting<'a>(&'a PageCursors);

impl Drop for Deleting<'_> {
    fn drop(&mut self) {
        self.0.generation.fetch_add(1, Ordering::AcqRel);
        self.0.deletes_in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
