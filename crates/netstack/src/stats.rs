//! Why the stack dropped packets.

/// Why a packet from the tunnel was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetDrop {
    /// Truncated or inconsistent IP/TCP/UDP headers.
    Malformed,
    /// An IP fragment (the stack does not reassemble).
    Fragment,
    /// Addressed to something other than the stack's own addresses: the
    /// daemon is never a router or an open proxy.
    NotLocal,
    /// UDP to a port with no service.
    UdpClosedPort,
    /// TCP SYN to a port with no service (answered with RST).
    TcpClosedPort,
    /// Too many connections in the handshake, of all peers together.
    Backlog,
    /// A SYN over its peer's caps (answered with RST; see
    /// [`crate::LimitHit`] for which cap).
    PeerLimit,
}

impl NetDrop {
    pub const ALL: [NetDrop; 7] = [
        NetDrop::Malformed,
        NetDrop::Fragment,
        NetDrop::NotLocal,
        NetDrop::UdpClosedPort,
        NetDrop::TcpClosedPort,
        NetDrop::Backlog,
        NetDrop::PeerLimit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NetDrop::Malformed => "malformed",
            NetDrop::Fragment => "fragment",
            NetDrop::NotLocal => "not_local",
            NetDrop::UdpClosedPort => "udp_closed_port",
            NetDrop::TcpClosedPort => "tcp_closed_port",
            NetDrop::Backlog => "backlog",
            NetDrop::PeerLimit => "peer_limit",
        }
    }
}

/// Drop counters by reason.
#[derive(Debug, Clone, Default)]
pub struct NetStats {
    counts: [u64; NetDrop::ALL.len()],
    /// Losses repaired at once from the receiver's SACK blocks (see
    /// `Conn::take_hole` in the stack), instead of after a retransmission timeout.
    pub hole_repairs: u64,
    /// Stalled connections made to retransmit (see `Stack::repair_stalls`).
    pub stall_repairs: u64,
    /// Polls that stopped sending at [`crate::EGRESS_BUDGET`] packets.
    pub egress_budget_hits: u64,
    /// Connections reset because smoltcp kept sending bare ACKs on them
    /// (see `Stack::poll`).
    pub runaway_resets: u64,
}

impl NetStats {
    pub fn count(&mut self, why: NetDrop) {
        self.counts[why as usize] += 1;
    }

    pub fn get(&self, why: NetDrop) -> u64 {
        self.counts[why as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = (NetDrop, u64)> + '_ {
        NetDrop::ALL.iter().map(|r| (*r, self.get(*r)))
    }
}
