//! [`Health`]: what `/healthz` and `/readyz` answer from, readable on any
//! thread. The data plane sets readiness and draining, and beats a heart
//! every second; the admin thread reads them without asking the data
//! plane, so probes answer while it is busy, and `/healthz` fails only
//! when it has stopped beating for [`STALL_AFTER`] (a data plane stuck
//! that long should be restarted, which is what a liveness probe is for).
//! [`status_line`] is the one-line readiness systemd shows. A leaf: it
//! imports nothing of the daemon.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the data plane beats.
pub(crate) const BEAT_EVERY: Duration = Duration::from_secs(1);
/// A data plane silent this long is stalled: `/healthz` and `/readyz`
/// answer 503.
pub(crate) const STALL_AFTER: Duration = Duration::from_secs(30);

/// Readiness, draining and the data plane's heartbeat.
#[derive(Debug)]
pub(crate) struct Health {
    origin: Instant,
    ready: AtomicBool,
    draining: AtomicBool,
    /// Milliseconds since `origin` at the last beat.
    beat_ms: AtomicU64,
}

/// What a probe says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probe {
    Ok,
    Starting,
    Draining,
    Stalled,
}

impl Health {
    pub(crate) fn new(now: Instant) -> Health {
        Health {
            origin: now,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            beat_ms: AtomicU64::new(0),
        }
    }

    /// Listeners are up (start-up finished) and the daemon is not draining.
    pub(crate) fn ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Draining for shutdown: no longer ready, for good.
    pub(crate) fn start_draining(&self) {
        self.ready.store(false, Ordering::Relaxed);
        self.draining.store(true, Ordering::Relaxed);
    }

    /// The data plane is alive at `now`.
    pub(crate) fn beat(&self, now: Instant) {
        self.beat_ms.store(self.ms(now), Ordering::Relaxed);
    }

    fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.origin).as_millis()).unwrap_or(u64::MAX)
    }

    fn stalled(&self, now: Instant) -> bool {
        let silent = self
            .ms(now)
            .saturating_sub(self.beat_ms.load(Ordering::Relaxed));
        Duration::from_millis(silent) >= STALL_AFTER
    }

    /// `/healthz`: the process serves (draining included) and its data
    /// plane is not stuck.
    pub(crate) fn live(&self, now: Instant) -> Probe {
        if self.stalled(now) {
            Probe::Stalled
        } else {
            Probe::Ok
        }
    }

    /// `/readyz`: ready, and not stuck.
    pub(crate) fn readiness(&self, now: Instant) -> Probe {
        if self.draining() {
            Probe::Draining
        } else if !self.ready() {
            Probe::Starting
        } else if self.stalled(now) {
            Probe::Stalled
        } else {
            Probe::Ok
        }
    }
}

/// The one-line `STATUS=` systemd shows once the daemon is ready (and
/// after each reload).
pub(crate) fn status_line(peers: usize, port: u16) -> String {
    format!("serving {peers} peer(s) on UDP port {port}")
}

#[cfg(test)]
#[path = "ready_tests.rs"]
mod tests;
