//! [`Live`]: a value a reload replaces while other threads keep reading it.
//!
//! Readers hold a [`LiveReader`], which caches the value with its version:
//! a read is one atomic load, and the lock is taken only after a store.
//! Whoever already holds the old `Arc` (a connection being served) keeps it
//! until done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::lock;

#[derive(Debug)]
pub struct Live<T> {
    version: AtomicU64,
    slot: Mutex<Arc<T>>,
}

impl<T> Live<T> {
    pub fn new(value: Arc<T>) -> Arc<Self> {
        Arc::new(Live {
            version: AtomicU64::new(0),
            slot: Mutex::new(value),
        })
    }

    /// Makes `value` what every read returns from now on.
    pub fn store(&self, value: Arc<T>) {
        let mut slot = lock(&self.slot);
        *slot = value;
        // Bumped under the lock: a reader that sees the new version finds
        // the new value.
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The current value (takes the lock: keep a [`LiveReader`] where
    /// reads are frequent).
    pub fn load(&self) -> Arc<T> {
        lock(&self.slot).clone()
    }

    /// The current value and its version, read together.
    fn load_versioned(&self) -> (u64, Arc<T>) {
        let slot = lock(&self.slot);
        (self.version.load(Ordering::Acquire), slot.clone())
    }

    pub fn reader(self: &Arc<Self>) -> LiveReader<T> {
        let (version, cached) = self.load_versioned();
        LiveReader {
            cached,
            version,
            live: self.clone(),
        }
    }
}

/// One thread's (or one connection's) cached view of a [`Live`].
#[derive(Debug)]
pub struct LiveReader<T> {
    live: Arc<Live<T>>,
    version: u64,
    cached: Arc<T>,
}

impl<T> LiveReader<T> {
    /// The current value.
    pub fn get(&mut self) -> &Arc<T> {
        if self.live.version.load(Ordering::Acquire) != self.version {
            (self.version, self.cached) = self.live.load_versioned();
        }
        &self.cached
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
