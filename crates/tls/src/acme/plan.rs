//! `RenewalPlan`: when each ACME certificate is ordered, renewed or retried.
//! Sans-IO and deterministic: every input carries `now` (Unix seconds) and
//! the caller supplies the randomness ARI asks for, so tests run years of
//! renewals in microseconds.
//!
//! Call order, per turn of the driver:
//! 1. [`RenewalPlan::set_names`] when the wanted names change;
//!    [`RenewalPlan::handle_loaded`] for certificates read from disk;
//! 2. [`RenewalPlan::poll_due`] for the next name to order (it is marked in
//!    flight), then [`RenewalPlan::handle_issued`] or
//!    [`RenewalPlan::handle_failed`] with the outcome;
//! 3. [`RenewalPlan::poll_ari`] / [`RenewalPlan::handle_window`] for the
//!    CA's renewal window (RFC 9773), where it offers one;
//! 4. sleep until [`RenewalPlan::poll_timeout`] or until an input arrives.

use std::collections::BTreeMap;

/// The first retry after a failure waits this long, doubling per failure...
pub(crate) const BACKOFF_FIRST: u64 = 60;
/// ...up to this.
pub(crate) const BACKOFF_MAX: u64 = 6 * 60 * 60;
/// A CA's renewal window is fetched again after this long, unless it says
/// otherwise (Retry-After), within [ARI_MIN, ARI_MAX].
const ARI_DEFAULT: u64 = 6 * 60 * 60;
const ARI_MIN: u64 = 60 * 60;
const ARI_MAX: u64 = 24 * 60 * 60;

/// A certificate's validity, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub(crate) not_before: u64,
    pub(crate) not_after: u64,
}

impl Validity {
    /// When a third of the lifetime remains.
    pub(crate) fn third_left(&self) -> u64 {
        let lifetime = self.not_after.saturating_sub(self.not_before);
        self.not_after.saturating_sub(lifetime / 3)
    }
}

/// What a name's certificate is doing, as status reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No certificate yet; handshakes for the name fail.
    Pending,
    /// Served, renewal not due.
    Valid,
    /// Served, renewal due or under way (or failing: see the last error).
    Renewing,
    /// The certificate on hand has expired and no new one came yet.
    Expired,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    cert: Option<Validity>,
    /// The time picked inside the CA's suggested window.
    window_pick: Option<u64>,
    ari_check_at: Option<u64>,
    failures: u32,
    retry_at: Option<u64>,
    last_error: Option<String>,
    in_flight: bool,
}

/// The per-name schedule; see the module docs for the call order.
#[derive(Debug, Default)]
pub(crate) struct RenewalPlan {
    entries: BTreeMap<String, Entry>,
    /// Off once the CA has shown it has no renewal-info endpoint.
    ari: bool,
}

/// One name's schedule, for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) name: String,
    pub(crate) phase: Phase,
    pub(crate) cert: Option<Validity>,
    /// When the next order is due (a retry after a failure included).
    pub(crate) next_order: u64,
    pub(crate) last_error: Option<String>,
    pub(crate) failures: u32,
}

impl RenewalPlan {
    pub(crate) fn new() -> Self {
        RenewalPlan {
            entries: BTreeMap::new(),
            ari: true,
        }
    }

    /// Makes `names` the managed set; returns (added, removed). Names kept
    /// keep their schedule.
    pub(crate) fn set_names(&mut self, names: &[String]) -> (Vec<String>, Vec<String>) {
        let removed: Vec<String> = self
            .entries
            .keys()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect();
        for n in &removed {
            self.entries.remove(n);
        }
        let mut added = Vec::new();
        for n in names {
            if !self.entries.contains_key(n) {
                self.entries.insert(n.clone(), Entry::default());
                added.push(n.clone());
            }
        }
        (added, removed)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// A certificate found on disk at start-up: served until renewal is due.
    pub(crate) fn handle_loaded(&mut self, name: &str, cert: Validity, now: u64) {
        if let Some(e) = self.entries.get_mut(name) {
            e.cert = Some(cert);
            e.ari_check_at = self.ari.then_some(now);
        }
    }

    /// The next name whose order is due at `now`, marked in flight; the
    /// earliest due first.
    pub(crate) fn poll_due(&mut self, now: u64) -> Option<String> {
        let name = self
            .entries
            .iter()
            .filter(|(_, e)| !e.in_flight)
            .map(|(n, e)| (due_at(e), n))
            .filter(|(due, _)| *due <= now)
            .min()
            .map(|(_, n)| n.clone())?;
        if let Some(e) = self.entries.get_mut(&name) {
            e.in_flight = true;
        }
        Some(name)
    }

    /// A new certificate for `name` is being served.
    pub(crate) fn handle_issued(&mut self, name: &str, cert: Validity, now: u64) {
        let ari = self.ari;
        if let Some(e) = self.entries.get_mut(name) {
            *e = Entry {
                cert: Some(cert),
                ari_check_at: ari.then_some(now),
                ..Entry::default()
            };
        }
    }

    /// The order for `name` failed with `error`; the next try waits the
    /// backoff (1 min doubling to 6 h), or until `retry_after` (Unix
    /// seconds, from the CA) if that is later. Returns the retry time.
    pub(crate) fn handle_failed(
        &mut self,
        name: &str,
        error: String,
        retry_after: Option<u64>,
        now: u64,
    ) -> Option<u64> {
        let e = self.entries.get_mut(name)?;
        e.in_flight = false;
        e.failures = e.failures.saturating_add(1);
        let backoff = BACKOFF_FIRST
            .saturating_mul(1u64 << (e.failures - 1).min(20))
            .min(BACKOFF_MAX);
        let at = now.saturating_add(backoff).max(retry_after.unwrap_or(0));
        e.retry_at = Some(at);
        e.last_error = Some(error);
        Some(at)
    }

    /// The next name whose renewal window should be fetched, if ARI is on.
    pub(crate) fn poll_ari(&mut self, now: u64) -> Option<String> {
        if !self.ari {
            return None;
        }
        let (name, e) = self
            .entries
            .iter_mut()
            .filter(|(_, e)| !e.in_flight && e.cert.is_some())
            .find(|(_, e)| e.ari_check_at.is_some_and(|t| t <= now))?;
        // Until an answer comes, not again for a while.
        e.ari_check_at = Some(now.saturating_add(ARI_DEFAULT));
        Some(name.clone())
    }

    /// The CA suggests renewing `name` between `start` and `end`; `random`
    /// (any u64) picks the moment uniformly, as RFC 9773 asks, so a fleet
    /// does not renew at once. `recheck_in` is the CA's Retry-After.
    pub(crate) fn handle_window(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        random: u64,
        recheck_in: Option<u64>,
        now: u64,
    ) {
        let Some(e) = self.entries.get_mut(name) else {
            return;
        };
        let span = end.saturating_sub(start);
        let pick = if span == 0 {
            start
        } else {
            start + random % span
        };
        e.window_pick = Some(pick);
        let recheck = recheck_in.unwrap_or(ARI_DEFAULT).clamp(ARI_MIN, ARI_MAX);
        e.ari_check_at = Some(now.saturating_add(recheck));
    }

    pub(crate) fn ari_enabled(&self) -> bool {
        self.ari
    }

    /// The CA has no renewal-info endpoint: plan by lifetime only.
    pub(crate) fn disable_ari(&mut self) {
        self.ari = false;
        for e in self.entries.values_mut() {
            e.ari_check_at = None;
            e.window_pick = None;
        }
    }

    /// When something is next due (an order or an ARI fetch).
    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        self.entries
            .values()
            .filter(|e| !e.in_flight)
            .flat_map(|e| {
                [
                    Some(due_at(e)),
                    if self.ari { e.ari_check_at } else { None },
                ]
            })
            .flatten()
            .min()
    }

    pub(crate) fn snapshot(&self, now: u64) -> Vec<Snapshot> {
        self.entries
            .iter()
            .map(|(name, e)| {
                let due = due_at(e);
                let phase = match e.cert {
                    None => Phase::Pending,
                    Some(c) if c.not_after <= now => Phase::Expired,
                    Some(_) if due <= now || e.in_flight || e.failures > 0 => Phase::Renewing,
                    Some(_) => Phase::Valid,
                };
                Snapshot {
                    name: name.clone(),
                    phase,
                    cert: e.cert,
                    next_order: due,
                    last_error: e.last_error.clone(),
                    failures: e.failures,
                }
            })
            .collect()
    }
}

/// When `e` should next be ordered: a pending retry first; with no
/// certificate at once; else the CA's window pick when it gave one, else a
/// third of the lifetime before expiry.
fn due_at(e: &Entry) -> u64 {
    if let Some(retry) = e.retry_at {
        return retry;
    }
    match e.cert {
        None => 0,
        Some(c) => e.window_pick.unwrap_or_else(|| c.third_left()),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
