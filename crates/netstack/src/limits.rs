//! Per-peer fairness: what each peer holds in the stack, the caps on it,
//! and the count of every time a cap was hit.
//!
//! The caller names the peer behind every packet ([`PeerKey`]; the daemon
//! passes its WireGuard peer id, which WireGuard has authenticated and
//! checked against the peer's allowed IPs). A connection the stack creates
//! for a SYN is charged to that peer. Per peer, the stack caps:
//!
//! - connections in their handshake, and connections in any state: a SYN
//!   over either cap is answered with RST and never reaches smoltcp;
//! - bytes queued in the peer's connections: received and not yet read by
//!   the application, plus written and not yet acknowledged (what the 4 MiB
//!   smoltcp buffers hold, committed to memory only when written).
//!
//! A total budget caps the bytes queued in every connection together.
//!
//! Ring budgets bound the memory a peer's connections can commit:
//! smoltcp's rings never give a page back while the connection lives, so a
//! connection that streams through its whole ring commits all of it,
//! however little it queues at once. A connection gets full-size rings
//! while the rings of its peer's connections are under `peer_rings` and
//! those of every connection under `total_rings` (the daemon sets twice the
//! buffer budgets: one for each direction); past that it gets [`SMALL_RING`] each way (a
//! smaller window, so a slower single stream; never a refusal), counted as
//! [`LimitHit::SmallBuffers`].
//! Over a budget, the stack takes no more from the peer: the payload of its
//! TCP segments is cut before smoltcp sees it (their acknowledgements and
//! windows still count, so data we sent keeps draining), and the
//! application gets no send room on its connections
//! ([`crate::Stack::send_room`]) until bytes drain.
//!
//! The table here has one entry per key the caller ever passed (kept for
//! the hit counters); keys come from the caller's own peer table, which
//! only its configuration grows, never a packet.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::task::Waker;
use std::time::Duration;

use smoltcp::iface::SocketHandle;

/// The ring size, each way, of a connection over its peer's or the total
/// ring budget: a 64 KiB window, enough for an interactive connection or a
/// few Mbit/s at internet round-trip times.
pub const SMALL_RING: usize = 64 << 10;

/// Who sent a packet, as the caller knows it. Opaque to the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey(pub u32);

/// The limits the stack enforces. The defaults are those of the daemon's
/// `[limits]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections of one peer still in their handshake.
    pub peer_half_open: usize,
    /// Connections of one peer in any state (handshake and closing included).
    pub peer_connections: usize,
    /// Bytes queued in one peer's connections.
    pub peer_buffer: usize,
    /// Bytes queued in all connections.
    pub total_buffer: usize,
    /// Ring memory (both directions) of one peer's connections past which a
    /// new connection gets [`SMALL_RING`]s. The daemon sets twice
    /// `peer_buffer`.
    pub peer_rings: usize,
    /// The same for all connections together; the daemon sets twice
    /// `total_buffer`.
    pub total_rings: usize,
    /// A connection still in its handshake after this is forgotten.
    pub handshake_timeout: Duration,
    /// A connection with bytes to send whose peer acknowledges nothing for
    /// this long (a zero window, or a peer that stopped reading) is reset.
    pub send_stall_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            peer_half_open: 64,
            peer_connections: 1024,
            peer_buffer: 32 << 20,
            total_buffer: 256 << 20,
            peer_rings: 64 << 20,
            total_rings: 512 << 20,
            handshake_timeout: Duration::from_secs(15),
            send_stall_timeout: Duration::from_secs(60),
        }
    }
}

/// Why the stack refused a peer something, or ended one of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitHit {
    /// A SYN over the peer's cap on connections in their handshake (RST).
    HalfOpen,
    /// A SYN over the peer's cap on connections (RST).
    Connections,
    /// The peer's buffer budget was full: a segment's payload was refused,
    /// or the application had to wait to write.
    PeerBuffer,
    /// The same for the total budget.
    TotalBuffer,
    /// A connection whose peer acknowledged nothing for the send-stall
    /// timeout while we had bytes for it was reset.
    SendStalled,
    /// A connection did not finish its handshake in time and was forgotten.
    HandshakeTimeout,
    /// The rings of the peer's connections (or of all connections) were at
    /// their budget: a new connection got [`SMALL_RING`] buffers.
    SmallBuffers,
}

impl LimitHit {
    pub const ALL: [LimitHit; 7] = [
        LimitHit::HalfOpen,
        LimitHit::Connections,
        LimitHit::PeerBuffer,
        LimitHit::TotalBuffer,
        LimitHit::SendStalled,
        LimitHit::HandshakeTimeout,
        LimitHit::SmallBuffers,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LimitHit::HalfOpen => "tcp_half_open",
            LimitHit::Connections => "tcp_connections",
            LimitHit::PeerBuffer => "peer_buffer",
            LimitHit::TotalBuffer => "buffer_total",
            LimitHit::SendStalled => "send_stalled",
            LimitHit::HandshakeTimeout => "tcp_handshake_timeout",
            LimitHit::SmallBuffers => "small_buffers",
        }
    }
}

/// What one peer holds in the stack, and how often it hit a limit.
#[derive(Debug, Clone, Default)]
pub struct PeerUsage {
    /// Connections in their handshake.
    pub half_open: usize,
    /// Connections in any state.
    pub connections: usize,
    /// Bytes queued in its connections.
    pub buffered: usize,
    /// The sizes of its connections' rings, both directions: what they may
    /// commit to memory.
    pub rings: usize,
    hits: [u64; LimitHit::ALL.len()],
}

impl PeerUsage {
    pub fn hits(&self, why: LimitHit) -> u64 {
        self.hits[why as usize]
    }
}

/// Hashes a [`PeerKey`] with one multiplication. The per-peer table is
/// looked up for every data segment; its keys are the caller's small
/// integers, never chosen by a packet, so they need no keyed hash.
#[derive(Default)]
pub(crate) struct PeerKeyHasher(u64);

impl Hasher for PeerKeyHasher {
    fn finish(&self) -> u64 {
        // Fibonacci hashing: spreads consecutive keys over the high bits,
        // which the table's probing uses.
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

type PeerMap<V> = HashMap<PeerKey, V, BuildHasherDefault<PeerKeyHasher>>;

/// The stack's accounting: per-peer usage, the totals, and the tasks
/// waiting for buffer budget.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    pub(crate) limits: TcpLimits,
    peers: PeerMap<PeerUsage>,
    buffered: usize,
    /// The rings of every peer's connections, both directions.
    rings: usize,
    /// Whether some peer, or the total, may be at its budget: the
    /// per-segment check is one branch while nobody is.
    over: bool,
    /// Whether budget was freed since the last [`Usage::settle`].
    freed: bool,
    /// Connections whose application waits for budget to write.
    waiters: HashMap<SocketHandle, Waker>,
}

impl Usage {
    pub(crate) fn new(limits: TcpLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub(crate) fn peer(&self, key: PeerKey) -> Option<&PeerUsage> {
        self.peers.get(&key)
    }

    pub(crate) fn peers(&self) -> impl Iterator<Item = (PeerKey, &PeerUsage)> + '_ {
        self.peers.iter().map(|(k, u)| (*k, u))
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    pub(crate) fn count(&mut self, peer: Option<PeerKey>, why: LimitHit) {
        if let Some(p) = peer {
            self.peers.entry(p).or_default().hits[why as usize] += 1;
        }
        tracing::trace!(?peer, ?why, "limit hit");
    }

    /// Whether `peer` may open another connection; the refusal is counted.
    pub(crate) fn admit(&mut self, peer: PeerKey) -> Result<(), LimitHit> {
        let u = self.peers.entry(peer).or_default();
        let refused = if u.half_open >= self.limits.peer_half_open {
            LimitHit::HalfOpen
        } else if u.connections >= self.limits.peer_connections {
            LimitHit::Connections
        } else {
            return Ok(());
        };
        u.hits[refused as usize] += 1;
        Err(refused)
    }

    /// The ring sizes `(rx, tx)` for a new connection of `peer`, given the
    /// full sizes: full while the peer's rings and all rings are under their
    /// budgets (so a budget smaller than one connection's rings still lets
    /// the first have full ones), else [`SMALL_RING`] (or the full size if smaller); the
    /// downgrade is counted. Charge them with [`Usage::opened`].
    pub(crate) fn ring_sizes(&mut self, peer: PeerKey, rx: usize, tx: usize) -> (usize, usize) {
        let peer_rings = self.peers.get(&peer).map_or(0, |u| u.rings);
        if peer_rings < self.limits.peer_rings && self.rings < self.limits.total_rings {
            return (rx, tx);
        }
        self.count(Some(peer), LimitHit::SmallBuffers);
        (rx.min(SMALL_RING), tx.min(SMALL_RING))
    }

    /// A connection in its handshake, with rings of `rings` bytes in all,
    /// was created for `peer`.
    pub(crate) fn opened(&mut self, peer: Option<PeerKey>, rings: usize) {
        if let Some(p) = peer {
            let u = self.peers.entry(p).or_default();
            u.half_open += 1;
            u.connections += 1;
            u.rings += rings;
            self.rings += rings;
        }
    }

    /// The rings of every connection charged to a peer, both directions.
    pub(crate) fn rings(&self) -> usize {
        self.rings
    }

    /// `peer`'s connection finished its handshake.
    pub(crate) fn established(&mut self, peer: Option<PeerKey>) {
        if let Some(u) = peer.and_then(|p| self.peers.get_mut(&p)) {
            u.half_open = u.half_open.saturating_sub(1);
        }
    }

    /// A connection, with the bytes charged for it, moves from one peer's
    /// account to another's (see `Stack::rekey`).
    pub(crate) fn transfer(
        &mut self,
        from: Option<PeerKey>,
        to: Option<PeerKey>,
        pending: bool,
        buffered: usize,
        rings: usize,
    ) {
        if from == to {
            return;
        }
        if let Some(u) = from.and_then(|p| self.peers.get_mut(&p)) {
            u.connections = u.connections.saturating_sub(1);
            u.buffered = u.buffered.saturating_sub(buffered);
            u.rings = u.rings.saturating_sub(rings);
            if pending {
                u.half_open = u.half_open.saturating_sub(1);
            }
        }
        match (from.is_some(), to.is_some()) {
            (true, false) => self.rings = self.rings.saturating_sub(rings),
            (false, true) => self.rings += rings,
            _ => {}
        }
        if let Some(p) = to {
            let u = self.peers.entry(p).or_default();
            u.connections += 1;
            u.buffered += buffered;
            u.rings += rings;
            if pending {
                u.half_open += 1;
            }
        }
        self.over = true;
    }

    /// A connection is gone, with the bytes and the rings it was charged.
    pub(crate) fn closed(
        &mut self,
        h: SocketHandle,
        peer: Option<PeerKey>,
        pending: bool,
        buffered: usize,
        rings: usize,
    ) {
        self.charge(peer, buffered, 0);
        if let Some(u) = peer.and_then(|p| self.peers.get_mut(&p)) {
            u.connections = u.connections.saturating_sub(1);
            u.rings = u.rings.saturating_sub(rings);
            self.rings = self.rings.saturating_sub(rings);
            if pending {
                u.half_open = u.half_open.saturating_sub(1);
            }
        }
        self.waiters.remove(&h);
    }

    /// A connection's queued bytes went from `old` to `new`.
    pub(crate) fn charge(&mut self, peer: Option<PeerKey>, old: usize, new: usize) {
        if old == new {
            return;
        }
        self.buffered = (self.buffered + new).saturating_sub(old);
        let peer_over = match peer.map(|p| self.peers.entry(p).or_default()) {
            Some(u) => {
                u.buffered = (u.buffered + new).saturating_sub(old);
                u.buffered >= self.limits.peer_buffer
            }
            None => false,
        };
        if new < old {
            self.freed = true;
        }
        if peer_over || self.buffered >= self.limits.total_buffer {
            self.over = true;
        }
    }

    /// Whether a segment's payload from `peer` must be refused because a
    /// budget is full; the refusal is counted.
    pub(crate) fn refuse_payload(&mut self, peer: Option<PeerKey>) -> Option<LimitHit> {
        if !self.over {
            return None;
        }
        let why = if peer
            .and_then(|p| self.peers.get(&p))
            .is_some_and(|u| u.buffered >= self.limits.peer_buffer)
        {
            LimitHit::PeerBuffer
        } else if self.buffered >= self.limits.total_buffer {
            LimitHit::TotalBuffer
        } else {
            return None;
        };
        self.count(peer, why);
        Some(why)
    }

    /// How many of `free` bytes of send space the application may fill on
    /// a connection of `peer`, given what is charged now. When it is zero
    /// the caller waits (see [`Usage::wait`]).
    pub(crate) fn send_room(&mut self, peer: Option<PeerKey>, free: usize) -> usize {
        let mut room = free.min(self.limits.total_buffer.saturating_sub(self.buffered));
        let mut why = LimitHit::TotalBuffer;
        if let Some(u) = peer.and_then(|p| self.peers.get(&p)) {
            let left = self.limits.peer_buffer.saturating_sub(u.buffered);
            if left < room {
                room = left;
                why = LimitHit::PeerBuffer;
            }
        }
        if room == 0 {
            self.count(peer, why);
        }
        room
    }

    /// The application of connection `h` waits for budget.
    pub(crate) fn wait(&mut self, h: SocketHandle, waker: &Waker) {
        match self.waiters.get_mut(&h) {
            Some(w) if w.will_wake(waker) => {}
            Some(w) => w.clone_from(waker),
            None => {
                self.waiters.insert(h, waker.clone());
            }
        }
    }

    /// After a poll has recounted the queues: recomputes whether anyone is
    /// at a budget, and wakes the writers waiting for budget if any was
    /// freed.
    pub(crate) fn settle(&mut self) {
        if self.over {
            let limit = self.limits.peer_buffer;
            self.over = self.buffered >= self.limits.total_buffer
                || self.peers.values().any(|u| u.buffered >= limit);
        }
        if std::mem::take(&mut self.freed) && !self.waiters.is_empty() {
            for (_, w) in self.waiters.drain() {
                w.wake();
            }
        }
    }

    pub(crate) fn set_limits(&mut self, limits: TcpLimits) {
        self.limits = limits;
        // Re-evaluated at the next settle; a raised budget frees writers.
        self.over = true;
        self.freed = true;
    }
}
