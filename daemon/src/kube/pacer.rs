//! When to build a snapshot, sans-IO: the barrier and the debounce.
//!
//! Call order: [`Pacer::handle_change`] whenever a store reports a change
//! (with whether every initial list has completed), then sleep until
//! [`Pacer::poll_timeout`] and call [`Pacer::handle_timeout`]; when it
//! returns `true`, build and hand out a snapshot.
//!
//! Nothing is built before the barrier opens. The first snapshot is built
//! as soon as it does; after that, the first change opens a window of
//! `debounce` and one snapshot covers every change within it. The window
//! is not pushed back by later changes, so a steady stream of
//! EndpointSlice updates still gets a snapshot every window instead of
//! none.

use std::time::{Duration, Instant};

/// The barrier and debounce state.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// The debounce window.
    window: Duration,
    /// When the pending snapshot is due; `None`: nothing pending.
    due: Option<Instant>,
    /// Whether the first snapshot has been built.
    first_built: bool,
}

impl Pacer {
    /// A pacer with the debounce window `window`.
    pub(crate) fn new(window: Duration) -> Pacer {
        Pacer {
            window,
            due: None,
            first_built: false,
        }
    }

    /// Something the mapping reads changed at `now`; `all_listed`: every
    /// watch stream's initial list has completed.
    pub(crate) fn handle_change(&mut self, now: Instant, all_listed: bool) {
        if !all_listed {
            return;
        }
        if !self.first_built {
            self.due = Some(now);
        } else if self.due.is_none() {
            self.due = Some(now + self.window);
        }
    }

    /// When the next snapshot is due, if one is pending.
    #[must_use]
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// Whether a snapshot should be built at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.due {
            Some(due) if due <= now => {
                self.due = None;
                self.first_built = true;
                true
            }
            _ => false,
        }
    }

    /// Whether the first snapshot has been built.
    pub(crate) fn first_built(&self) -> bool {
        self.first_built
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
