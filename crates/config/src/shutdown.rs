//! `[shutdown]`: what SIGTERM/SIGINT wait for.
//!
//! ```toml
//! [shutdown]
//! drain_timeout = "10s"   # default
//! ```
//!
//! On SIGTERM or SIGINT the daemon stops accepting connections, lets
//! in-flight HTTP requests finish (idle keep-alive connections close at
//! once) and waits for open connections to end, for at most
//! `drain_timeout`; then it runs its shutdown hooks and exits 0.

use std::time::Duration;

use crate::cursor::Table;
use crate::error::Diagnostics;
use crate::ingress_values::{duration_unit_hint, parse_duration};

/// How long shutdown waits for open connections unless set.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// `[shutdown]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownConfig {
    pub drain_timeout: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

pub(crate) fn parse_shutdown(root: &mut Table<'_>, d: &mut Diagnostics<'_>) -> ShutdownConfig {
    let Some(mut t) = root.optional_table(d, "shutdown") else {
        return ShutdownConfig::default();
    };
    let drain = t.optional_with_hint(d, "drain_timeout", parse_duration, duration_unit_hint);
    t.finish(d);
    ShutdownConfig {
        drain_timeout: drain.map_or(DEFAULT_DRAIN_TIMEOUT, |s| s.value),
    }
}

#[cfg(test)]
#[path = "shutdown_tests.rs"]
mod tests;
