//! The data plane's protocol core: the WireGuard [`Device`], the TCP/IP
//! [`Stack`] and the STUN [`SideChannel`] behind one sans-IO type. It owns
//! no socket, spawns nothing and reads no clock: every call that depends on
//! time takes `now`, so a test can step two cores on a fake clock and shuttle
//! their datagrams in memory (see `core_tests.rs`).
//!
//! Call order, per turn of the driver (`super::Driver`, or a test):
//! 1. [`Core::handle_datagram`] for every datagram received on the
//!    WireGuard socket;
//! 2. [`Core::handle_timeout`] once the datagrams are in, and whenever
//!    [`Core::poll_timeout`] has passed: it runs the stack (packets handed to
//!    it, timers, data the application wrote), STUN requests, accepts and
//!    WireGuard's timers when due. Calling it more often is harmless;
//! 3. [`Core::poll_event`] until `None`: connections accepted and datagrams
//!    for bound UDP ports, handled while the core is *not* borrowed, so the
//!    application can answer through it at once; give a datagram's buffer
//!    back with [`Core::recycle`]; and [`Core::poll_filter`]: a change of
//!    the kernel's load-shedding filter for the WireGuard socket (see
//!    `shed.rs`);
//! 4. [`Core::poll_transmit`] until `None`, each into a buffer of at least
//!    [`TRANSMIT_ROOM`] bytes: handshake initiations, replies and timer
//!    output, STUN, packets that waited for a handshake, then the stack's
//!    packets, encrypted straight into the caller's buffer;
//! 5. sleep until [`Core::poll_timeout`], a datagram arrives, or the
//!    application changed the stack (see `super::Net::kick`).
//!
//! Time and WireGuard: the handshake gate (budgets, cookies) and the stack
//! run on the `now` given here. boringtun's `Tunn` keeps its session timers
//! (keepalive, rekey, handshake retry, expiry) on its own monotonic clock
//! and takes no time from its caller; the core only decides when to ask it
//! ([`wingress_wg::TIMER_TICK`] after the last time, on the caller's clock).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use wingress_netstack::{Accepted, Ingress, PeerKey, Stack, UdpDatagram};
use wingress_wg::{Device, Incoming, Outgoing, PeerId, MIN_OUT, OVERHEAD, TIMER_TICK};

use crate::dataplane::shed::{Filter, Shed};
use crate::dataplane::SideChannel;

/// Room [`Core::poll_transmit`] needs in the caller's buffer: the largest
/// MTU the configuration allows (9000) plus WireGuard's overhead, and never
/// less than a handshake message.
pub(crate) const TRANSMIT_ROOM: usize = 9000 + OVERHEAD + MIN_OUT;

/// Datagrams written by the core itself (replies, timer output, STUN) kept
/// for reuse; beyond this a burst's buffers are freed.
const SPARE_BUFFERS: usize = 64;

/// What the core hands to the application.
#[derive(Debug)]
pub(crate) enum Event {
    /// A TCP connection completed its handshake on a listened port; `peer`
    /// is the WireGuard peer whose allowed IPs hold its remote address.
    Accepted {
        conn: Accepted,
        peer: Option<PeerId>,
    },
    /// A UDP datagram for a bound port, from `peer`. Its buffer is the
    /// stack's: give it back with [`Core::recycle`] via
    /// [`UdpDatagram::into_buffer`].
    Datagram { datagram: UdpDatagram, peer: PeerId },
}

/// The data plane's state. See the module documentation for the call order.
pub(crate) struct Core {
    wg: Device,
    stack: Stack,
    side: SideChannel,
    /// Peers to start a handshake with (a reload added them, or the daemon
    /// started); sent first by [`Core::poll_transmit`].
    initiate: VecDeque<PeerId>,
    /// Datagrams the core wrote itself, in order: handshake replies,
    /// WireGuard timer output, STUN requests.
    queued: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Buffers of sent `queued` datagrams, for the next ones.
    spare: Vec<Vec<u8>>,
    /// Peers whose handshake just completed: the packets they held while it
    /// was in flight go out before any new ones.
    flush_peers: VecDeque<PeerId>,
    events: VecDeque<Event>,
    /// When WireGuard's timers run next.
    next_timers: Instant,
    /// The stack has work a [`Core::handle_timeout`] must do now: packets
    /// handed to it, or the application changed a socket.
    dirty: bool,
    /// Scratch for WireGuard timer output and handshake initiations.
    scratch: Vec<u8>,
    /// When to have the kernel drop most of a flood (see `shed.rs`).
    shed: Shed,
}

impl Core {
    /// A core over `wg` and `stack`; WireGuard's timers first run at `now`.
    pub(crate) fn new(wg: Device, stack: Stack, now: Instant) -> Self {
        Self {
            wg,
            stack,
            side: SideChannel::default(),
            initiate: VecDeque::new(),
            queued: VecDeque::new(),
            spare: Vec::new(),
            flush_peers: VecDeque::new(),
            events: VecDeque::new(),
            next_timers: now,
            dirty: true,
            scratch: vec![0u8; MIN_OUT.max(256)],
            shed: Shed::new(now),
        }
    }

    // === inputs ===

    /// One datagram received on the WireGuard socket from `from`: STUN
    /// answers go to the side channel, WireGuard messages to the device;
    /// what they decrypt to goes to the stack, or becomes an
    /// [`Event::Datagram`] for a bound UDP port. Replies are queued for
    /// [`Core::poll_transmit`].
    pub(crate) fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if datagram.first() != Some(&4) {
            // Not a data message: what a flood is made of. Counted so the
            // kernel can be told to shed it (data is not counted: no cost
            // on the hot path).
            self.shed.count();
        }
        if datagram.len() > self.wg.max_datagram() {
            // Junk: refused before it takes (and grows) a pooled buffer.
            self.wg.refuse_oversized();
            return;
        }
        // Data messages (type 4) are nearly all traffic: one compare, then
        // straight to WireGuard.
        if datagram.first() != Some(&4) && wingress_nat::stun::looks_like_stun(datagram) {
            self.side.deliver(now, from, datagram);
            return;
        }
        let mut out = self.stack.take_buffer();
        out.resize(datagram.len().max(MIN_OUT), 0);
        let (flush_peer, packet) = match self.wg.handle_datagram(now, from, datagram, &mut out) {
            Incoming::Packet { peer, packet } => (None, Some((peer, packet.len()))),
            Incoming::Reply { peer, bytes } => {
                let mut reply = self.spare.pop().unwrap_or_default();
                reply.clear();
                reply.extend_from_slice(bytes);
                self.queued.push_back((from, reply));
                (peer, None)
            }
            Incoming::Handled { peer } => (Some(peer), None),
            Incoming::CookieStored { .. } | Incoming::Dropped(_) => (None, None),
        };
        if let Some(peer) = flush_peer {
            if !self.flush_peers.contains(&peer) {
                self.flush_peers.push_back(peer);
            }
        }
        let Some((peer, n)) = packet else {
            self.stack.recycle(out);
            return;
        };
        out.truncate(n);
        self.dirty = true;
        if let Ingress::Udp(datagram) = self.stack.handle_packet(now, peer_key(peer), out) {
            self.events.push_back(Event::Datagram { datagram, peer });
        }
    }

    /// Does what time and earlier inputs call for: queues STUN requests,
    /// runs the stack (ingress, its timers, egress), turns accepted
    /// connections into events, and runs WireGuard's timers when due.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        while let Some(d) = self.side.poll_transmit(now) {
            self.queued.push_back(d);
        }
        self.dirty = false;
        self.stack.poll(now);
        while let Some(conn) = self.stack.accept() {
            let peer = self.wg.peer_for_addr(conn.remote.ip());
            self.events.push_back(Event::Accepted { conn, peer });
        }
        let wg = &self.wg;
        self.shed.tick(now, || {
            wg.peer_ids()
                .filter_map(|id| wg.peer_endpoint(id))
                .map(|e| e.ip())
                .collect()
        });
        if now >= self.next_timers {
            self.next_timers = now + TIMER_TICK;
            let (queued, spare) = (&mut self.queued, &mut self.spare);
            self.wg.poll_timers(now, &mut self.scratch, |t| {
                let mut d = spare.pop().unwrap_or_default();
                d.clear();
                d.extend_from_slice(t.bytes);
                queued.push_back((t.to, d));
            });
        }
    }

    // === outputs ===

    /// When [`Core::handle_timeout`] (then [`Core::poll_transmit`]) must
    /// run next: at once if the stack has work or anything waits to be
    /// sent, else the earlier of the stack's next timer and WireGuard's
    /// next tick.
    #[must_use]
    pub(crate) fn poll_timeout(&mut self, now: Instant) -> Instant {
        if self.dirty
            || self.side.has_outgoing()
            || !self.initiate.is_empty()
            || !self.queued.is_empty()
            || !self.flush_peers.is_empty()
        {
            return now;
        }
        let next = match self.stack.poll_delay(now) {
            Some(d) => (now + d).min(self.next_timers),
            None => self.next_timers,
        };
        self.shed.poll_timeout().map_or(next, |t| t.min(next))
    }

    /// Writes the next datagram to send into `buf` (at least
    /// [`TRANSMIT_ROOM`] bytes) and returns its destination and length;
    /// `None` once nothing is left. Data packets are encrypted straight
    /// into `buf`, with no copy in between.
    #[must_use]
    pub(crate) fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        while let Some(id) = self.initiate.pop_front() {
            if let Some(t) = self.wg.initiate(id, buf) {
                return Some((t.to, t.bytes.len()));
            }
        }
        while let Some((to, d)) = self.queued.pop_front() {
            let sent = buf.get_mut(..d.len()).map(|dst| {
                dst.copy_from_slice(&d);
                (to, d.len())
            });
            if self.spare.len() < SPARE_BUFFERS {
                self.spare.push(d);
            }
            if sent.is_some() {
                return sent;
            }
        }
        while let Some(&peer) = self.flush_peers.front() {
            // Packets that waited for this handshake can go now.
            if let Some(t) = self.wg.poll_queued(peer, buf) {
                return Some((t.to, t.bytes.len()));
            }
            self.flush_peers.pop_front();
        }
        while let Some(pkt) = self.stack.poll_transmit() {
            let sent = if pkt.len() + OVERHEAD + MIN_OUT > buf.len() {
                None
            } else {
                match self.wg.encapsulate(&pkt, buf) {
                    Outgoing::Send(t) => Some((t.to, t.bytes.len())),
                    Outgoing::Queued | Outgoing::Dropped(_) => None,
                }
            };
            self.stack.recycle(pkt);
            if sent.is_some() {
                return sent;
            }
        }
        None
    }

    /// A change to the socket's load-shedding filter: `Some(Some(f))`
    /// attach `f`, `Some(None)` detach it.
    #[must_use]
    pub(crate) fn poll_filter(&mut self) -> Option<Option<Filter>> {
        self.shed.poll_filter()
    }

    /// The next thing for the application; see [`Event`].
    #[must_use]
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Gives a datagram's buffer (from [`Event::Datagram`]) back to the
    /// stack's pool.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        self.stack.recycle(buf);
    }

    // === for the application, status and reloads ===

    /// The WireGuard device, to read (status, metrics).
    pub(crate) fn wg(&self) -> &Device {
        &self.wg
    }

    /// The WireGuard device, to change its peers (reloads).
    pub(crate) fn wg_mut(&mut self) -> &mut Device {
        &mut self.wg
    }

    /// The TCP/IP stack, to read (status, metrics).
    pub(crate) fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The TCP/IP stack, to open, use and close sockets. The core then
    /// polls the stack on its next [`Core::handle_timeout`]
    /// ([`Core::poll_timeout`] returns at once); wake the driver too.
    pub(crate) fn stack_mut(&mut self) -> &mut Stack {
        self.dirty = true;
        &mut self.stack
    }

    /// Resets every tunnel connection whose remote address `drop` picks,
    /// given the device to look its peer up in (a reload removed or
    /// narrowed peers). Returns how many.
    pub(crate) fn abort_connections(
        &mut self,
        mut drop: impl FnMut(&Device, SocketAddr) -> bool,
    ) -> usize {
        self.dirty = true;
        let wg = &self.wg;
        self.stack.abort_connections(|remote| drop(wg, remote))
    }

    /// The load-shedding policy, for metrics.
    pub(crate) fn shed(&self) -> &Shed {
        &self.shed
    }

    /// The STUN side channel (the NAT driver's), and its counters.
    pub(crate) fn side(&self) -> &SideChannel {
        &self.side
    }

    /// The STUN side channel, to send requests and read answers.
    pub(crate) fn side_mut(&mut self) -> &mut SideChannel {
        &mut self.side
    }

    /// Starts a handshake with `peer` on the next [`Core::poll_transmit`],
    /// rather than on its first packet (if its endpoint is known).
    pub(crate) fn initiate(&mut self, peer: PeerId) {
        self.initiate.push_back(peer);
    }

    /// Starts a handshake with every peer (see [`Core::initiate`]), so the
    /// first connection does not wait for one and each peer learns where we
    /// are.
    pub(crate) fn initiate_all(&mut self) {
        let ids: Vec<PeerId> = self.wg.peer_ids().collect();
        self.initiate.extend(ids);
    }
}

/// The netstack's name for a WireGuard peer.
pub(crate) fn peer_key(id: PeerId) -> PeerKey {
    PeerKey(id.0)
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
