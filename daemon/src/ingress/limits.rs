//! `[limits]` in the daemon: what one peer may hold, so that it cannot
//! starve the others.
//!
//! The TCP limits (connections, handshakes, buffered bytes, timeouts) are
//! the netstack's ([`tcp_limits`] converts the section). The daemon keeps
//! three caps of its own, each a [`PeerSlots`]: forwarded UDP flows, DNS
//! queries waiting for an upstream, and DNS-over-TCP connections. Each has
//! a per-peer cap from `[limits]` and a daemon-wide ceiling; a slot is held
//! by a [`Slot`] guard and freed when the guard drops. Every refusal is
//! counted by peer and reason, and `/metrics` (`control::metrics`) reports
//! the counts and the current usage:
//!
//! | name | type | labels |
//! |---|---|---|
//! | `wingress_limit_hits_total` | counter | peer, reason |
//! | `wingress_peer_tcp_connections`, `wingress_peer_tcp_half_open` | gauge | peer |
//! | `wingress_peer_buffered_bytes` | gauge | peer |
//! | `wingress_peer_udp_flows` | gauge | peer |
//! | `wingress_tcp_buffered_bytes` | gauge | |

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use wingress_config::{LimitsConfig, MAX_DNS_FORWARDS, MAX_DNS_TCP, MAX_UDP_FLOWS};
use wingress_netstack::TcpLimits;
use wingress_wg::PeerId;

/// The netstack's limits from `[limits]`.
pub(crate) fn tcp_limits(c: &LimitsConfig) -> TcpLimits {
    let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    TcpLimits {
        peer_half_open: c.peer_tcp_half_open as usize,
        peer_connections: c.peer_tcp_connections as usize,
        peer_buffer: size(c.peer_buffer),
        total_buffer: size(c.buffer_total),
        // Ring memory: the buffer budgets once for each direction.
        peer_rings: size(c.peer_buffer).saturating_mul(2),
        total_rings: size(c.buffer_total).saturating_mul(2),
        handshake_timeout: c.tcp_handshake_timeout,
        send_stall_timeout: c.send_stall_timeout,
    }
}

/// A count per peer under a per-peer cap and a daemon-wide ceiling.
#[derive(Clone)]
pub(crate) struct PeerSlots(Rc<SlotsInner>);

struct SlotsInner {
    /// The reason a refusal is counted under (`udp_flows`); over the
    /// ceiling it gets `_total` appended.
    reason: &'static str,
    reason_total: &'static str,
    per_peer: Cell<usize>,
    ceiling: usize,
    in_use: Cell<usize>,
    by_peer: RefCell<HashMap<Option<PeerId>, usize>>,
    /// Refusals by peer: (over the peer's cap, over the ceiling).
    refused: RefCell<HashMap<Option<PeerId>, (u64, u64)>>,
}

/// One slot, given back when dropped.
pub(crate) struct Slot {
    slots: Rc<SlotsInner>,
    peer: Option<PeerId>,
}

impl PeerSlots {
    fn new(reason: &'static str, reason_total: &'static str, per_peer: u32, ceiling: u32) -> Self {
        PeerSlots(Rc::new(SlotsInner {
            reason,
            reason_total,
            per_peer: Cell::new(per_peer as usize),
            ceiling: ceiling as usize,
            in_use: Cell::new(0),
            by_peer: RefCell::default(),
            refused: RefCell::default(),
        }))
    }

    /// A slot for `peer`, or `None` (counted) when the peer is at its cap
    /// or every slot is taken.
    pub(crate) fn take(&self, peer: Option<PeerId>) -> Option<Slot> {
        let s = &self.0;
        let mut by_peer = s.by_peer.borrow_mut();
        let held = by_peer.get(&peer).copied().unwrap_or(0);
        let over_peer = held >= s.per_peer.get();
        if over_peer || s.in_use.get() >= s.ceiling {
            let mut refused = s.refused.borrow_mut();
            let r = refused.entry(peer).or_default();
            if over_peer {
                r.0 += 1;
            } else {
                r.1 += 1;
            }
            tracing::debug!(
                ?peer,
                reason = if over_peer { s.reason } else { s.reason_total },
                "limit hit"
            );
            return None;
        }
        by_peer.insert(peer, held + 1);
        s.in_use.set(s.in_use.get() + 1);
        Some(Slot {
            slots: s.clone(),
            peer,
        })
    }

    /// Slots `peer` holds.
    pub(crate) fn held(&self, peer: Option<PeerId>) -> usize {
        self.0.by_peer.borrow().get(&peer).copied().unwrap_or(0)
    }

    /// `(reason, refusals)` for `peer`.
    fn refusals(&self, peer: Option<PeerId>) -> [(&'static str, u64); 2] {
        let (p, t) = self
            .0
            .refused
            .borrow()
            .get(&peer)
            .copied()
            .unwrap_or_default();
        [(self.0.reason, p), (self.0.reason_total, t)]
    }

    fn set_per_peer(&self, n: u32) {
        self.0.per_peer.set(n as usize);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let s = &self.slots;
        s.in_use.set(s.in_use.get().saturating_sub(1));
        let mut by_peer = s.by_peer.borrow_mut();
        if let Some(n) = by_peer.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                by_peer.remove(&self.peer);
            }
        }
    }
}

/// The daemon's own per-peer caps.
pub(crate) struct PeerCaps {
    pub(crate) udp_flows: PeerSlots,
    pub(crate) dns_forwards: PeerSlots,
    pub(crate) dns_tcp: PeerSlots,
}

impl PeerCaps {
    pub(crate) fn new(c: &LimitsConfig) -> Rc<PeerCaps> {
        Rc::new(PeerCaps {
            udp_flows: PeerSlots::new(
                "udp_flows",
                "udp_flows_total",
                c.peer_udp_flows,
                MAX_UDP_FLOWS,
            ),
            dns_forwards: PeerSlots::new(
                "dns_forwards",
                "dns_forwards_total",
                c.peer_dns_forwards,
                MAX_DNS_FORWARDS,
            ),
            dns_tcp: PeerSlots::new("dns_tcp", "dns_tcp_total", c.peer_dns_tcp, MAX_DNS_TCP),
        })
    }

    /// A reload's caps. Slots already held stay; a peer over a lowered cap
    /// gets no new ones until it is under it.
    pub(crate) fn apply(&self, c: &LimitsConfig) {
        self.udp_flows.set_per_peer(c.peer_udp_flows);
        self.dns_forwards.set_per_peer(c.peer_dns_forwards);
        self.dns_tcp.set_per_peer(c.peer_dns_tcp);
    }

    /// Refusals of `peer` (or of everyone, `None`) by reason.
    pub(crate) fn refusals(
        &self,
        peer: Option<PeerId>,
    ) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        [&self.udp_flows, &self.dns_forwards, &self.dns_tcp]
            .into_iter()
            .flat_map(move |s| s.refusals(peer))
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
