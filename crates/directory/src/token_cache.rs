//! A short-lived cache of authenticated SCIM tokens.
//!
//! Looking the token up costs a database round trip on every request, as much as the
//! request's own work. Entries live for [`TOKEN_CACHE_TTL`]; every change made through this
//! process (revoke, new domains) empties the cache at once, so such a change is seen on the
//! next request. A change made by another process (the command line, another node) is seen
//! within the TTL.

use crate::model::ScimTokenRecord;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(1);
/// Bound on memory: past this many live tokens the cache starts over.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (ScimTokenRecord, Instant)>>,
}

impl TokenCache {
    pub fn get(&self, hash: &str) -> Option<ScimTokenRecord> {
        let entries = self.entries.read().ok()?;
        let (record, at) = entries.get(hash)?;
        (at.elapsed() < TOKEN_CACHE_TTL).then(|| record.clone())
    }

    pub fn put(&self, record: ScimTokenRecord) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(record.hash.clone(), (record, Instant::now()));
        }
    }

    /// Forget every token: called on every token change made through this process.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
