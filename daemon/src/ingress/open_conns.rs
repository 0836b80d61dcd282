//! Open-connection gauges by listener (an entrypoint's name, `tcp:PORT`),
//! kept for the life of the process so a reload does not reset them. What
//! `/metrics` reports and what shutdown waits on. Beside them, by the same
//! names: each entrypoint's connection limiter (its open connections by
//! source) and the `[[tcp]]` connections closed for idleness.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wingress_proxy::ConnLimiter;
use wingress_sync::lock;

#[derive(Debug, Default)]
pub(crate) struct OpenConns {
    by_listener: Mutex<BTreeMap<String, Arc<AtomicI64>>>,
    limiters: Mutex<BTreeMap<String, Arc<ConnLimiter>>>,
    idle_closed: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
}

impl OpenConns {
    /// The gauge of `listener`, created on first use (at config time, not
    /// per connection).
    pub(crate) fn gauge(&self, listener: &str) -> Gauge {
        let mut map = lock(&self.by_listener);
        Gauge(map.entry(listener.to_owned()).or_default().clone())
    }

    /// `(listener, open connections)`, sorted by listener.
    pub(crate) fn snapshot(&self) -> Vec<(String, i64)> {
        let map = lock(&self.by_listener);
        map.iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    pub(crate) fn total(&self) -> i64 {
        self.snapshot().iter().map(|(_, n)| n).sum()
    }

    /// The connection limiter of entrypoint `name`, created on first use
    /// (at config time) and shared by every generation that has it.
    pub(crate) fn limiter(&self, name: &str) -> Arc<ConnLimiter> {
        let mut map = lock(&self.limiters);
        map.entry(name.to_owned()).or_default().clone()
    }

    /// The counter of connections of `listener` closed for idleness.
    pub(crate) fn idle_counter(&self, listener: &str) -> IdleCounter {
        let mut map = lock(&self.idle_closed);
        IdleCounter(map.entry(listener.to_owned()).or_default().clone())
    }

    /// `(listener, connections closed for idleness)`, sorted by listener.
    pub(crate) fn idle_closed(&self) -> Vec<(String, u64)> {
        let map = lock(&self.idle_closed);
        map.iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }
}

/// One listener's count of connections closed for idleness.
#[derive(Debug, Clone)]
pub(crate) struct IdleCounter(Arc<AtomicU64>);

impl IdleCounter {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// One listener's count.
#[derive(Debug, Clone)]
pub(crate) struct Gauge(Arc<AtomicI64>);

impl Gauge {
    /// Counts a connection until the guard is dropped.
    pub(crate) fn open(&self) -> OpenGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.0.clone())
    }

    pub(crate) fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub(crate) struct OpenGuard(Arc<AtomicI64>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "open_conns_tests.rs"]
mod tests;
