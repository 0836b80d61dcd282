//! `[http]`: the HTTP server's timeouts and per-connection caps, the same
//! on every entrypoint. How many connections an entrypoint takes, in all
//! and per source, are `[[entrypoint]]` keys instead (`ingress.rs`): those
//! differ between a LAN socket and the tunnel.
//!
//! ```toml
//! [http]
//! header_timeout = "10s"          # a request head, from its first byte
//! idle_timeout = "90s"            # a keep-alive connection between requests
//! body_timeout = "60s"            # a request body without a byte from the client: 408
//! send_timeout = "60s"            # a response the client does not take: closed
//! max_streams = 100               # concurrent HTTP/2 streams per connection
//! max_backend_connections = 32    # backend connections one client connection holds
//! upgrade_idle_timeout = "1h"     # a WebSocket with no byte either way: closed
//! ```
//!
//! A reload applies them to connections opened after it.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::cursor::Table;
use crate::error::{Diagnostics, Spanned};
use crate::ingress_values::{duration_unit_hint, parse_duration};

/// `[http]`; see the module documentation for the defaults' reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
    pub send_timeout: Duration,
    pub max_streams: u32,
    pub max_backend_connections: u32,
    pub upgrade_idle_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(90),
            // nginx's client_body_timeout and send_timeout.
            body_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
            // RFC 9113 asks servers for no fewer than 100.
            max_streams: 100,
            max_backend_connections: 32,
            // HAProxy's usual `timeout tunnel`: chat and dashboard sockets
            // ping far more often; a dead peer is let go within the hour.
            upgrade_idle_timeout: Duration::from_secs(3600),
        }
    }
}

/// `max_streams` and `max_backend_connections`.
const COUNT: RangeInclusive<u32> = 1..=10_000;

pub(crate) fn parse_http(root: &mut Table<'_>, d: &mut Diagnostics<'_>) -> HttpConfig {
    let defaults = HttpConfig::default();
    let Some(mut t) = root.optional_table(d, "http") else {
        return defaults;
    };
    let mut duration = |key, default| {
        t.optional_with_hint(d, key, parse_duration, duration_unit_hint)
            .map_or(default, |v: Spanned<Duration>| v.value)
    };
    let header_timeout = duration("header_timeout", defaults.header_timeout);
    let idle_timeout = duration("idle_timeout", defaults.idle_timeout);
    let body_timeout = duration("body_timeout", defaults.body_timeout);
    let send_timeout = duration("send_timeout", defaults.send_timeout);
    let upgrade_idle_timeout = duration("upgrade_idle_timeout", defaults.upgrade_idle_timeout);
    let max_streams = t
        .optional_int(d, "max_streams", COUNT)
        .map_or(defaults.max_streams, |v| v.value);
    let max_backend_connections = t
        .optional_int(d, "max_backend_connections", COUNT)
        .map_or(defaults.max_backend_connections, |v| v.value);
    t.finish(d);
    HttpConfig {
        header_timeout,
        idle_timeout,
        body_timeout,
        send_timeout,
        max_streams,
        max_backend_connections,
        upgrade_idle_timeout,
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
