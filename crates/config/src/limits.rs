//! `[limits]`: what one authenticated peer may hold in the daemon, and the
//! budget all peers share, so that one peer cannot starve the others.
//!
//! ```toml
//! [limits]
//! peer_tcp_half_open = 64        # TCP connections in their handshake, per peer
//! peer_tcp_connections = 1024    # TCP connections in any state, per peer
//! peer_udp_flows = 256           # forwarded UDP flows, per peer
//! peer_dns_forwards = 32         # DNS queries waiting for an upstream, per peer
//! peer_dns_tcp = 8               # DNS-over-TCP connections, per peer
//! peer_buffer = "32MiB"          # bytes queued in one peer's TCP connections
//! buffer_total = "256MiB"        # bytes queued in all tunnel TCP connections
//! tcp_handshake_timeout = "15s"  # a half-open connection is forgotten after this
//! send_stall_timeout = "60s"     # bytes waiting, nothing acknowledged: reset
//! ```
//!
//! Every key applies on reload. The daemon-wide caps that stay fixed (TCP
//! handshakes 1,024, UDP flows 4,096, DNS forwards 256, DNS-over-TCP
//! connections 64) are the ceilings the per-peer caps must stay under.

use std::time::Duration;

use crate::cursor::Table;
use crate::error::{Diagnostics, Spanned};
use crate::ingress_values::{duration_unit_hint, parse_duration};

/// The daemon-wide ceilings the per-peer counts may not exceed: a per-peer
/// cap above its ceiling would let one peer fill the shared table.
pub const MAX_TCP_HALF_OPEN: u32 = 1024;
pub const MAX_UDP_FLOWS: u32 = 4096;
pub const MAX_DNS_FORWARDS: u32 = 256;
pub const MAX_DNS_TCP: u32 = 64;

/// The smallest buffer budget accepted: below this one connection cannot
/// keep a useful window open.
const MIN_BUFFER: u64 = 64 << 10;
/// Timeouts are kept between these (a handshake on a slow mobile link takes
/// a few seconds; anything above an hour is no limit at all).
const MIN_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// `[limits]`, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// TCP connections of one peer still in their handshake.
    pub peer_tcp_half_open: u32,
    /// TCP connections of one peer, in any state.
    pub peer_tcp_connections: u32,
    /// Forwarded (`[[udp]]`) flows of one peer.
    pub peer_udp_flows: u32,
    /// Forwarded DNS queries of one peer waiting for an upstream answer.
    pub peer_dns_forwards: u32,
    /// DNS-over-TCP connections of one peer.
    pub peer_dns_tcp: u32,
    /// Bytes queued in one peer's TCP connections (received and not yet
    /// read by the daemon, plus written and not yet acknowledged).
    pub peer_buffer: u64,
    /// Bytes queued in every tunnel TCP connection together.
    pub buffer_total: u64,
    /// How long a TCP connection may stay in its handshake.
    pub tcp_handshake_timeout: Duration,
    /// How long a TCP connection with bytes waiting to go out may go
    /// without the peer acknowledging any (a zero window, or a peer that
    /// never reads): then it is reset.
    pub send_stall_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            peer_tcp_half_open: 64,
            peer_tcp_connections: 1024,
            peer_udp_flows: 256,
            peer_dns_forwards: 32,
            peer_dns_tcp: 8,
            peer_buffer: 32 << 20,
            buffer_total: 256 << 20,
            tcp_handshake_timeout: Duration::from_secs(15),
            send_stall_timeout: Duration::from_secs(60),
        }
    }
}

pub(crate) fn parse_limits(root: &mut Table<'_>, d: &mut Diagnostics<'_>) -> LimitsConfig {
    let mut c = LimitsConfig::default();
    let Some(mut t) = root.optional_table(d, "limits") else {
        return c;
    };
    let mut count = |t: &mut Table<'_>, key: &'static str, max: u32, out: &mut u32| {
        if let Some(v) = t.optional_int::<u32>(d, key, 1..=max) {
            *out = v.value;
        }
    };
    count(
        &mut t,
        "peer_tcp_half_open",
        MAX_TCP_HALF_OPEN,
        &mut c.peer_tcp_half_open,
    );
    // No daemon-wide cap: each connection costs about 10 KiB plus its
    // buffers, which the buffer budget bounds.
    count(
        &mut t,
        "peer_tcp_connections",
        1_000_000,
        &mut c.peer_tcp_connections,
    );
    count(
        &mut t,
        "peer_udp_flows",
        MAX_UDP_FLOWS,
        &mut c.peer_udp_flows,
    );
    count(
        &mut t,
        "peer_dns_forwards",
        MAX_DNS_FORWARDS,
        &mut c.peer_dns_forwards,
    );
    count(&mut t, "peer_dns_tcp", MAX_DNS_TCP, &mut c.peer_dns_tcp);
    let peer_buffer = size(&mut t, d, "peer_buffer");
    let total = size(&mut t, d, "buffer_total");
    if let Some(v) = &peer_buffer {
        c.peer_buffer = v.value;
    }
    if let Some(v) = &total {
        c.buffer_total = v.value;
    }
    if c.peer_buffer > c.buffer_total {
        // Reported at whichever of the two was written (the peer's, if both).
        if let Some(at) = peer_buffer.as_ref().or(total.as_ref()) {
            d.error(
                &at.span,
                format!(
                    "peer_buffer ({}) is larger than buffer_total ({}): one peer could take \
                     every buffer",
                    show_size(c.peer_buffer),
                    show_size(c.buffer_total)
                ),
            );
        }
    }
    if let Some(v) = timeout(&mut t, d, "tcp_handshake_timeout") {
        c.tcp_handshake_timeout = v;
    }
    if let Some(v) = timeout(&mut t, d, "send_stall_timeout") {
        c.send_stall_timeout = v;
    }
    t.finish(d);
    c
}

fn size(t: &mut Table<'_>, d: &mut Diagnostics<'_>, key: &'static str) -> Option<Spanned<u64>> {
    let v = t.optional_with_hint(d, key, parse_size, size_unit_hint)?;
    if v.value < MIN_BUFFER {
        d.error(
            &v.span,
            format!(
                "{key}: {} is too small (at least 64KiB)",
                show_size(v.value)
            ),
        );
        return None;
    }
    Some(v)
}

fn timeout(t: &mut Table<'_>, d: &mut Diagnostics<'_>, key: &'static str) -> Option<Duration> {
    let v = t.optional_with_hint(d, key, parse_duration, duration_unit_hint)?;
    if v.value < MIN_TIMEOUT || v.value > MAX_TIMEOUT {
        d.error(
            &v.span,
            format!("{key}: {:?} is out of range (between 1s and 1h)", v.value),
        );
        return None;
    }
    Some(v.value)
}

/// The message for a size written as a bare number.
fn size_unit_hint(n: i64) -> String {
    format!("`{n}` has no unit; write e.g. \"{n}MiB\" (units: B, KiB, MiB, GiB)")
}

/// A size such as `"512KiB"`, `"32MiB"` or `"1GiB"`: a whole number and a
/// binary unit (`B`, `KiB`, `MiB`, `GiB`).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    if number.is_empty() {
        return Err(format!("`{s}` is not a size (write e.g. \"32MiB\")"));
    }
    let shift = match unit.trim() {
        "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "" => return Err(format!("`{s}` has no unit (use B, KiB, MiB or GiB)")),
        other => {
            let hint = match other.to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => " (did you mean KiB?)",
                "m" | "mb" | "mib" => " (did you mean MiB?)",
                "g" | "gb" | "gib" => " (did you mean GiB?)",
                _ => "",
            };
            return Err(format!(
                "`{s}`: unknown unit `{other}` (use B, KiB, MiB or GiB){hint}"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// A byte count in the largest binary unit that divides it.
fn show_size(n: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
