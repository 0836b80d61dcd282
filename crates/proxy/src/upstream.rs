//! A route's backend set: health state and smooth weighted round robin.
//!
//! Selection is nginx's smooth weighted round robin over the backends that
//! are currently up: each pick adds every candidate's weight to its running
//! score, takes the highest score, and subtracts the candidates' total weight
//! from the winner. Over any window the picks follow the weights, and a heavy
//! backend's picks are spread out rather than bunched.
//!
//! A backend goes down when an active health check fails, or passively when
//! connecting to it fails. A passively ejected backend comes back with the
//! next successful health check, or after [`PASSIVE_EJECTION`] on routes
//! without health checks. Time is passed in, so this module owns no clock.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use wingress_sync::lock;

use crate::spec::BackendAddr;

/// How long a backend that refused a connection stays out of rotation when
/// its route has no active health check.
pub(crate) const PASSIVE_EJECTION: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) addr: BackendAddr,
    /// `addr` as text, for logs (formatted once, not per request).
    pub(crate) name: Arc<str>,
    pub(crate) requests: AtomicU64,
    weight: i64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Running score of the smooth WRR.
    current: i64,
    /// Set by active checks and by passive ejection on checked routes.
    healthy: bool,
    /// Passive ejection on routes without checks.
    down_until: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) backends: Vec<Backend>,
    slots: Mutex<Vec<Slot>>,
    actively_checked: bool,
}

impl Upstream {
    pub(crate) fn new(addrs: &[BackendAddr], weights: &[u32], actively_checked: bool) -> Self {
        let backends: Vec<Backend> = addrs
            .iter()
            .enumerate()
            .map(|(i, addr)| Backend {
                addr: addr.clone(),
                name: addr.to_string().into(),
                requests: AtomicU64::new(0),
                weight: i64::from(weights.get(i).copied().unwrap_or(1)),
            })
            .collect();
        let slots = vec![
            Slot {
                current: 0,
                healthy: true,
                down_until: None
            };
            backends.len()
        ];
        Upstream {
            backends,
            slots: Mutex::new(slots),
            actively_checked,
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        // A panic while holding this lock cannot leave the slots inconsistent
        // (every update is a single field store), so poisoning is ignored.
        lock(&self.slots)
    }

    /// Picks the next backend among those up, skipping `exclude`.
    pub(crate) fn pick(&self, now: Instant, exclude: Option<usize>) -> Option<usize> {
        let mut slots = self.slots();
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for (i, backend) in self.backends.iter().enumerate() {
            if Some(i) == exclude || backend.weight == 0 || !slot_up(&slots[i], now) {
                continue;
            }
            slots[i].current += backend.weight;
            total += backend.weight;
            if best.is_none_or(|b| slots[i].current > slots[b].current) {
                best = Some(i);
            }
        }
        let best = best?;
        slots[best].current -= total;
        Some(best)
    }

    pub(crate) fn is_up(&self, index: usize, now: Instant) -> bool {
        self.slots()
            .get(index)
            .is_some_and(|slot| slot_up(slot, now))
    }

    /// A connection to the backend failed. Returns whether it was up before.
    pub(crate) fn eject(&self, index: usize, now: Instant) -> bool {
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(index) else {
            return false;
        };
        let was_up = slot_up(slot, now);
        if self.actively_checked {
            slot.healthy = false;
        } else {
            slot.down_until = Some(now + PASSIVE_EJECTION);
        }
        was_up
    }

    /// Records a health check result. Returns whether the state changed.
    pub(crate) fn set_healthy(&self, index: usize, healthy: bool) -> bool {
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(index) else {
            return false;
        };
        let changed = slot.healthy != healthy;
        slot.healthy = healthy;
        if healthy {
            slot.down_until = None;
        }
        changed
    }
}

fn slot_up(slot: &Slot, now: Instant) -> bool {
    slot.healthy && slot.down_until.is_none_or(|until| now >= until)
}

#[cfg(test)]
#[path = "upstream_tests.rs"]
mod tests;
