//! The connection's health, sans-IO: how fresh the routes from the API
//! server are, for `wingress status`.
//!
//! Call order: [`HealthTracker::handle_event`] for every watch event,
//! [`HealthTracker::handle_error`] for every watch error,
//! [`HealthTracker::handle_probe`] when a probe of a failing stream
//! answered, [`HealthTracker::handle_snapshot`] when a snapshot was handed
//! out; [`HealthTracker::view`] is what the status shows.
//!
//! A stream is failing from its first error until it delivers an event
//! again or a probe of the same kind (a one-item list) succeeds after the
//! error: the watcher reconnects silently, and in a quiet cluster a healthy
//! watch delivers nothing for hours.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::StreamId;

/// What the status shows of the connection to the API server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KubeHealth {
    /// Whether the first snapshot (every initial list complete) was
    /// handed out.
    pub(crate) synced: bool,
    /// When the last watch event (a change, a list) arrived.
    pub(crate) last_event: Option<SystemTime>,
    /// When the API server last answered: an event or a probe.
    pub(crate) last_contact: Option<SystemTime>,
    /// When the last snapshot was handed out.
    pub(crate) last_snapshot: Option<SystemTime>,
    /// Since when a watch stream has been failing (the routes may be stale
    /// since then); `None` while every stream is healthy.
    pub(crate) broken_since: Option<SystemTime>,
    /// The newest watch error while a stream is failing.
    pub(crate) error: Option<String>,
    /// The newest error writing an Ingress status or an Event, if any;
    /// it does not make the routes stale.
    pub(crate) write_error: Option<String>,
    /// Objects stored: Ingresses, Services, EndpointSlices, TLS Secrets.
    pub(crate) objects: [usize; 4],
}

/// Tracks the streams' errors and builds the [`KubeHealth`] view.
#[derive(Debug, Default)]
pub(crate) struct HealthTracker {
    /// The failing streams and when each first failed.
    failing: BTreeMap<StreamId, SystemTime>,
    /// What the status shows.
    view: KubeHealth,
}

impl HealthTracker {
    /// A tracker with nothing seen yet.
    pub(crate) fn new() -> HealthTracker {
        HealthTracker::default()
    }

    /// `stream` delivered an event at `now`.
    pub(crate) fn handle_event(&mut self, stream: StreamId, now: SystemTime) {
        self.view.last_event = Some(now);
        self.view.last_contact = Some(now);
        self.failing.remove(&stream);
        self.refresh();
    }

    /// `stream` failed at `now` with `error`.
    pub(crate) fn handle_error(&mut self, stream: StreamId, error: String, now: SystemTime) {
        self.failing.entry(stream).or_insert(now);
        self.view.error = Some(error);
        self.refresh();
    }

    /// A probe of `stream`'s kind, sent at `sent`, succeeded at `now`: the
    /// stream recovered unless it failed again after the probe was sent.
    pub(crate) fn handle_probe(&mut self, stream: StreamId, sent: SystemTime, now: SystemTime) {
        self.view.last_contact = Some(now);
        if self
            .failing
            .get(&stream)
            .is_some_and(|since| *since <= sent)
        {
            self.failing.remove(&stream);
        }
        self.refresh();
    }

    /// A snapshot of `objects` (Ingresses, Services, EndpointSlices,
    /// Secrets) was handed out at `now`.
    pub(crate) fn handle_snapshot(&mut self, objects: [usize; 4], now: SystemTime) {
        self.view.synced = true;
        self.view.last_snapshot = Some(now);
        self.view.objects = objects;
    }

    /// A status or Event write failed (`Some`), or succeeded (`None`).
    pub(crate) fn handle_write(&mut self, error: Option<String>) {
        self.view.write_error = error;
    }

    /// The streams failing now, to probe.
    pub(crate) fn failing(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.failing.keys().copied()
    }

    /// What the status shows.
    pub(crate) fn view(&self) -> &KubeHealth {
        &self.view
    }

    /// `broken_since` and `error` from the failing streams.
    fn refresh(&mut self) {
        self.view.broken_since = self.failing.values().min().copied();
        if self.failing.is_empty() {
            self.view.error = None;
        }
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
