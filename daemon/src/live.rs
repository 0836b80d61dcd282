//! [`Live`]: a value a reload replaces while other threads keep reading it.
//!
//! Readers hold a [`LiveReader`], which caches the value with its version:
//! a read is one atomic load, and the lock is taken only after a reload.
//! Whoever already holds the old `Arc` (a connection being served) keeps it
//! until done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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

    pub fn store(&self, value: Arc<T>) {
        let mut slot = self.lock();
        *slot = value;
        // Bumped under the lock: a reader that sees the new version finds
        // the new value.
        self.version.fetch_add(1, Ordering::Release);
    }

    pub fn load(&self) -> Arc<T> {
        self.lock().clone()
    }

    pub fn reader(self: &Arc<Self>) -> LiveReader<T> {
        let version = self.version.load(Ordering::Acquire);
        LiveReader {
            cached: self.load(),
            version,
            live: self.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Arc<T>> {
        // Each critical section is one pointer clone or store.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One thread's cached view of a [`Live`].
#[derive(Debug)]
pub struct LiveReader<T> {
    live: Arc<Live<T>>,
    version: u64,
    cached: Arc<T>,
}

impl<T> LiveReader<T> {
    /// The current value.
    pub fn get(&mut self) -> &Arc<T> {
        let version = self.live.version.load(Ordering::Acquire);
        if version != self.version {
            self.cached = self.live.load();
            self.version = version;
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
}
