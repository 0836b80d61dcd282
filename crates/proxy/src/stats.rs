//! Request counters per route, cheap enough for every request: a few
//! relaxed atomic adds, no lock. The caller keeps one [`ProxyStats`] for
//! the life of the process and passes it to every [`crate::Proxy`] it
//! builds, so a route's counters survive reloads (keyed by host and path
//! prefix) and scrapers never see them reset.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use wingress_sync::lock;

use crate::limits::Limit;

/// Upper bounds of the latency histogram, in seconds (Prometheus `le`).
pub const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// [`LATENCY_BUCKETS`] in microseconds, for the per-request comparison.
const BUCKET_MICROS: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Status classes counted: 1xx to 5xx.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// One route's counters.
#[derive(Debug, Default)]
pub struct RouteStats {
    by_class: [AtomicU64; 5],
    /// Observations per bucket, not cumulative; the last is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

/// A consistent-enough copy of a [`RouteStats`] for exposition.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteStatsSnapshot {
    /// Responses by status class, in [`STATUS_CLASSES`] order.
    pub requests: [u64; 5],
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS`], then `+Inf`
    /// (which is the total count).
    pub latency_buckets: Vec<u64>,
    pub latency_sum_secs: f64,
}

impl RouteStats {
    /// Counts one finished request: its status and how long it took from
    /// the request head to the end of the response.
    pub fn record(&self, status: u16, took: Duration) {
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKET_MICROS
            .iter()
            .position(|&b| micros <= b)
            .unwrap_or(BUCKET_MICROS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> RouteStatsSnapshot {
        let mut cumulative = 0;
        let latency_buckets = self
            .buckets
            .iter()
            .map(|b| {
                cumulative += b.load(Ordering::Relaxed);
                cumulative
            })
            .collect();
        RouteStatsSnapshot {
            requests: std::array::from_fn(|i| self.by_class[i].load(Ordering::Relaxed)),
            latency_buckets,
            latency_sum_secs: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// Every route's counters, by `(host, path prefix)`, plus the requests no
/// route took (404s, refused methods, clients gone before routing), the
/// limits hit by entrypoint, and the upgraded connections open now.
#[derive(Debug, Default)]
pub struct ProxyStats {
    routes: Mutex<HashMap<(String, String), Arc<RouteStats>>>,
    unrouted: Arc<RouteStats>,
    /// Hits are rare (a misbehaving client): a lock per hit is fine.
    limit_hits: Mutex<BTreeMap<(String, Limit), u64>>,
    open_upgrades: AtomicI64,
}

impl ProxyStats {
    pub fn new() -> Arc<ProxyStats> {
        Arc::default()
    }

    /// The counters of the route for `host` (as displayed: `*.home.arpa`)
    /// and `path_prefix`; created on first use. Called when a proxy is
    /// built, never per request.
    pub fn route(&self, host: &str, path_prefix: &str) -> Arc<RouteStats> {
        let mut routes = lock(&self.routes);
        routes
            .entry((host.to_owned(), path_prefix.to_owned()))
            .or_default()
            .clone()
    }

    /// Forgets the counters of routes that no table holds any more (a
    /// reload or a Kubernetes snapshot removed them), so the map follows
    /// the routes in use rather than every host ever configured. Called
    /// once per table built, before its routes ask for theirs: a route
    /// still in the table being replaced keeps its counters.
    pub fn forget_unused(&self) {
        lock(&self.routes).retain(|_, stats| Arc::strong_count(stats) > 1);
    }

    /// How many routes' counters are kept.
    pub fn routes_kept(&self) -> usize {
        lock(&self.routes).len()
    }

    pub fn unrouted(&self) -> &Arc<RouteStats> {
        &self.unrouted
    }

    /// Counts one hit of `limit` on `entrypoint`.
    pub fn limit_hit(&self, entrypoint: &str, limit: Limit) {
        let mut hits = lock(&self.limit_hits);
        match hits.get_mut(&(entrypoint.to_owned(), limit)) {
            Some(n) => *n += 1,
            None => {
                hits.insert((entrypoint.to_owned(), limit), 1);
            }
        }
    }

    /// `(entrypoint, limit, hits)` for every limit hit so far, sorted.
    pub fn limit_hits(&self) -> Vec<(String, Limit, u64)> {
        let hits = lock(&self.limit_hits);
        hits.iter().map(|((e, l), n)| (e.clone(), *l, *n)).collect()
    }

    /// Upgraded connections (WebSocket tunnels) open now.
    pub fn open_upgrades(&self) -> i64 {
        self.open_upgrades.load(Ordering::Relaxed)
    }

    /// Counts an upgraded connection until the guard is dropped.
    pub(crate) fn upgrade_opened(self: &Arc<Self>) -> UpgradeGuard {
        self.open_upgrades.fetch_add(1, Ordering::Relaxed);
        UpgradeGuard(self.clone())
    }
}

/// One open upgraded connection, for [`ProxyStats::open_upgrades`].
pub(crate) struct UpgradeGuard(Arc<ProxyStats>);

impl Drop for UpgradeGuard {
    fn drop(&mut self) {
        self.0.open_upgrades.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
