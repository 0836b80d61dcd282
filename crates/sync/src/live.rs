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
mod tests {
    use super::*;

    #[test]
    fn readers_see_stores_and_holders_keep_the_old_value() {
        let live = Live::new(Arc::new(1));
        let mut reader = live.reader();
        let held = reader.get().clone();
        live.store(Arc::new(2));
        assert_eq!(**reader.get(), 2);
        assert_eq!(*held, 1);
        let other = std::thread::spawn({
            let live = live.clone();
            move || {
                let mut r = live.reader();
                live.store(Arc::new(3));
                **r.get()
            }
        });
        assert_eq!(other.join().unwrap(), 3);
        assert_eq!(**reader.get(), 3);
    }

    #[test]
    fn a_reader_never_keeps_a_stale_value_under_a_new_version() {
        // A reader racing a writer ends on the last value: it never pairs
        // an old value with the newest version (which would hide the
        // store for good).
        let live = Live::new(Arc::new(0u64));
        let writer = std::thread::spawn({
            let live = live.clone();
            move || {
                for i in 1..=20_000 {
                    live.store(Arc::new(i));
                }
            }
        });
        let mut reader = live.reader();
        while !writer.is_finished() {
            reader.get();
        }
        writer.join().unwrap();
        assert_eq!(**reader.get(), 20_000);
    }
}
