//! The userspace TCP/IP stack on the daemon's tunnel address.
//!
//! smoltcp has no listen backlog: a listening socket *becomes* the
//! connection. So the stack looks at every packet before smoltcp does, and
//! creates a fresh listening socket when a SYN arrives for a configured port.
//! UDP never enters smoltcp: datagrams for bound ports are handed straight to
//! the caller, and replies are written as packets directly.
//!
//! Call order, per event-loop turn:
//! 1. [`Stack::handle_packet`] for each decrypted packet (buffers from
//!    [`Stack::take_buffer`]); [`Ingress::Udp`] datagrams go to the caller;
//! 2. [`Stack::poll`]; then [`Stack::accept`] until `None`;
//! 3. [`Stack::poll_transmit`] until `None`, encrypting each packet and
//!    giving the buffer back with [`Stack::recycle`];
//! 4. sleep at most [`Stack::poll_delay`], or until application I/O on a
//!    socket (through [`Stack::tcp`]) asks for another poll.
//!
//! Every packet comes with the [`PeerKey`] of its sender, and the stack
//! keeps each peer within its [`TcpLimits`] (see [`crate::limits`]): the
//! application asks [`Stack::send_room`] how much it may write.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::task::Waker;
use std::time::{Duration, Instant};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, CongestionControl, State};
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};

use crate::conn::{Conn, Owner};
use crate::device::QueueDevice;
use crate::limits::{PeerKey, PeerUsage, TcpLimits, Usage};
use crate::packet::{classify, emit_rst, emit_udp, strip_payload, Header};
use crate::stats::{NetDrop, NetStats};

mod upkeep;

/// Stack settings.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The stack's own addresses with their prefix lengths.
    pub addresses: Vec<(IpAddr, u8)>,
    /// IP MTU of the tunnel.
    pub mtu: usize,
    /// Per-connection receive buffer: the largest TCP window offered.
    pub tcp_rx_buffer: usize,
    /// Per-connection send buffer: unacknowledged plus unsent bytes.
    pub tcp_tx_buffer: usize,
    /// Connections still in the handshake, at most, of all peers together:
    /// a backstop far above any one peer's cap.
    pub max_half_open: usize,
    /// What each peer may hold, and the shared buffer budget.
    pub limits: TcpLimits,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            mtu: 1420,
            // Large buffers cost address space, not memory: they are
            // allocated zeroed, so untouched pages are never committed.
            tcp_rx_buffer: 4 << 20,
            tcp_tx_buffer: 4 << 20,
            max_half_open: 1024,
            limits: TcpLimits::default(),
        }
    }
}

/// A TCP connection in the stack. Valid until [`Stack::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpId(SocketHandle);

/// A connection that completed its handshake on a listened port.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub id: TcpId,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// A UDP datagram for a bound port. The payload lives in a pooled buffer:
/// give it back with [`Stack::recycle`] via [`UdpDatagram::into_buffer`].
#[derive(Debug)]
pub struct UdpDatagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    buf: Vec<u8>,
    range: (usize, usize),
}

impl UdpDatagram {
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.range.0..self.range.1]
    }

    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

/// What happened to a packet handed to [`Stack::handle_packet`].
#[derive(Debug)]
pub enum Ingress {
    /// Queued for the TCP/IP stack; run [`Stack::poll`].
    Stack,
    /// A datagram for a bound UDP port.
    Udp(UdpDatagram),
    /// Dropped and counted; the buffer went back to the pool.
    Dropped(NetDrop),
}

/// Why the connect failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    NoLocalAddress,
    NoFreePort,
    Unaddressable,
}

/// How often connections are checked for stalls while any has data in flight.
const STALL_CHECK_EVERY: Duration = Duration::from_millis(50);

/// Duplicate ACKs that make smoltcp fast-retransmit: the copies of an ACK
/// that `Conn::take_hole` and [`Stack::repair_stalls`] replay.
const DUP_ACKS: usize = 3;

/// Packets one [`Stack::poll`] sends at most (and one more per socket):
/// 11 MiB of 1,420-byte packets, more than every window of a few
/// connections in flight at once, so it bounds a runaway socket without
/// slowing real ones.
pub const EGRESS_BUDGET: usize = 8192;

/// Bare ACKs one connection sends within one poll that hit the budget
/// before it is taken for a runaway and reset (see `Stack::end_runaways`):
/// a working connection sends one when it has a new acknowledgement or
/// window to announce, and nothing arrives while a poll sends.
const RUNAWAY_ACKS: usize = 64;

/// Keep-alive probes on idle connections, and how long an unanswered
/// connection lives: detects peers that vanished without a FIN.
const KEEP_ALIVE: Duration = Duration::from_secs(60);
const DEAD_PEER_TIMEOUT: Duration = Duration::from_secs(300);
const EPHEMERAL: std::ops::RangeInclusive<u16> = 49152..=65535;

/// The stack. See the module documentation for the call order.
pub struct Stack {
    iface: Interface,
    device: QueueDevice,
    sockets: SocketSet<'static>,
    config: StackConfig,
    epoch: Instant,
    local: Vec<IpAddr>,
    tcp_ports: HashSet<u16>,
    udp_ports: HashSet<u16>,
    conns: HashMap<SocketHandle, Conn>,
    by_key: HashMap<(u16, SocketAddr), SocketHandle>,
    pending: Vec<SocketHandle>,
    released: Vec<SocketHandle>,
    accepted: Vec<Accepted>,
    next_port: u16,
    ident: u16,
    stats: NetStats,
    next_stall_check: Instant,
    /// Whether the last stall scan found a connection with bytes in flight.
    in_flight: bool,
    /// Per-peer usage and limits.
    usage: Usage,
    /// Connections whose queues may have changed since the last poll.
    dirty: Vec<SocketHandle>,
    /// Connections given send room since they were last counted.
    granted: Vec<SocketHandle>,
    /// The peer of each SYN a listener was made for since the last poll,
    /// by (local port, remote): smoltcp may hand a SYN to another listener
    /// on the port, and the connection is then charged to the right peer
    /// when it is rekeyed.
    syn_peers: HashMap<(u16, SocketAddr), PeerKey>,
}

impl Stack {
    pub fn new(config: StackConfig, now: Instant) -> Self {
        let mut device = QueueDevice::new(config.mtu);
        let mut seed = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
        let mut iface_config = Config::new(HardwareAddress::Ip);
        iface_config.random_seed = u64::from_le_bytes(seed);
        let mut iface = Interface::new(iface_config, &mut device, SmolInstant::from_micros(0));
        iface.update_ip_addrs(|addrs| {
            for (a, len) in &config.addresses {
                // The interface holds at most a handful of addresses; extra
                // ones are ignored rather than failing start-up.
                let _ = addrs.push(IpCidr::new(IpAddress::from(*a), *len));
            }
        });
        // Peers live behind the tunnel, not on the local prefix: route every
        // destination out of the single (IP-medium) interface.
        for (a, _) in &config.addresses {
            match a {
                IpAddr::V4(v4) => {
                    let _ = iface.routes_mut().add_default_ipv4_route(*v4);
                }
                IpAddr::V6(v6) => {
                    let _ = iface.routes_mut().add_default_ipv6_route(*v6);
                }
            }
        }
        let local = config.addresses.iter().map(|(a, _)| *a).collect();
        let port_seed = u16::from_le_bytes([seed[0], seed[1]]);
        Self {
            iface,
            device,
            sockets: SocketSet::new(Vec::new()),
            epoch: now,
            local,
            tcp_ports: HashSet::new(),
            udp_ports: HashSet::new(),
            conns: HashMap::new(),
            by_key: HashMap::new(),
            pending: Vec::new(),
            released: Vec::new(),
            accepted: Vec::new(),
            next_port: EPHEMERAL.start() + port_seed % (EPHEMERAL.end() - EPHEMERAL.start()),
            ident: port_seed,
            stats: NetStats::default(),
            next_stall_check: now,
            in_flight: false,
            usage: Usage::new(config.limits.clone()),
            dirty: Vec::new(),
            granted: Vec::new(),
            syn_peers: HashMap::new(),
            config,
        }
    }

    fn smol_now(&self, now: Instant) -> SmolInstant {
        SmolInstant::from_micros(now.saturating_duration_since(self.epoch).as_micros() as i64)
    }

    /// Accept TCP connections to `port` on the stack's addresses.
    pub fn listen_tcp(&mut self, port: u16) {
        self.tcp_ports.insert(port);
    }

    pub fn unlisten_tcp(&mut self, port: u16) {
        self.tcp_ports.remove(&port);
    }

    /// Deliver UDP datagrams for `port` through [`Ingress::Udp`].
    pub fn bind_udp(&mut self, port: u16) {
        self.udp_ports.insert(port);
    }

    pub fn unbind_udp(&mut self, port: u16) {
        self.udp_ports.remove(&port);
    }

    /// Binds a free ephemeral UDP port (for flows the daemon originates).
    pub fn bind_udp_ephemeral(&mut self) -> Option<u16> {
        let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        for _ in 0..span {
            let p = self.advance_port();
            if self.udp_ports.insert(p) {
                return Some(p);
            }
        }
        None
    }

    fn advance_port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p == *EPHEMERAL.end() {
            *EPHEMERAL.start()
        } else {
            p + 1
        };
        p
    }

    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.local.contains(&addr)
    }

    /// The first local address of the given family.
    pub fn local_addr(&self, v6: bool) -> Option<IpAddr> {
        self.local.iter().copied().find(|a| a.is_ipv6() == v6)
    }

    pub fn stats(&self) -> &NetStats {
        &self.stats
    }

    /// A buffer for one incoming packet.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.device.pool.take()
    }

    /// Returns a buffer from [`Stack::poll_transmit`] or a UDP datagram.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.device.pool.put(buf);
    }

    fn dropped(&mut self, buf: Vec<u8>, why: NetDrop) -> Ingress {
        self.stats.count(why);
        self.device.pool.put(buf);
        tracing::trace!(?why, "packet dropped");
        Ingress::Dropped(why)
    }

    /// Takes one decrypted IP packet from the tunnel, sent by `peer`.
    pub fn handle_packet(&mut self, now: Instant, peer: PeerKey, mut buf: Vec<u8>) -> Ingress {
        let Some(header) = classify(&buf) else {
            return self.dropped(buf, NetDrop::Malformed);
        };
        match header {
            Header::Fragment => self.dropped(buf, NetDrop::Fragment),
            Header::Other { dst } => {
                if !self.is_local(dst) {
                    return self.dropped(buf, NetDrop::NotLocal);
                }
                self.device.rx.push_back(buf);
                Ingress::Stack
            }
            Header::Udp { src, dst, payload } => {
                if !self.is_local(dst.ip()) {
                    return self.dropped(buf, NetDrop::NotLocal);
                }
                if !self.udp_ports.contains(&dst.port()) {
                    return self.dropped(buf, NetDrop::UdpClosedPort);
                }
                Ingress::Udp(UdpDatagram {
                    src,
                    dst,
                    buf,
                    range: payload,
                })
            }
            Header::Tcp {
                src,
                dst,
                syn_only,
                hole_at,
                ack,
                pure_ack,
                data,
            } => {
                if !self.is_local(dst.ip()) {
                    return self.dropped(buf, NetDrop::NotLocal);
                }
                if syn_only && !self.by_key.contains_key(&(dst.port(), src)) {
                    if !self.tcp_ports.contains(&dst.port()) {
                        // smoltcp answers with RST, which is what a client
                        // expects from a closed port.
                        self.stats.count(NetDrop::TcpClosedPort);
                    } else if self.usage.admit(peer).is_err() {
                        // Answered here, not by smoltcp: smoltcp would give
                        // the SYN to any listener waiting on the port,
                        // another peer's included.
                        self.refuse_syn(&buf);
                        return self.dropped(buf, NetDrop::PeerLimit);
                    } else if self.pending.len() >= self.config.max_half_open {
                        return self.dropped(buf, NetDrop::Backlog);
                    } else {
                        self.add_listener(now, src, dst, peer);
                    }
                }
                let conn = self
                    .by_key
                    .get(&(dst.port(), src))
                    .and_then(|h| self.conns.get_mut(h).map(|c| (*h, c)));
                if let Some((h, conn)) = conn {
                    if !conn.dirty {
                        conn.dirty = true;
                        self.dirty.push(h);
                    }
                    if data > 0 {
                        if self.usage.refuse_payload(conn.peer).is_some() {
                            strip_payload(&mut buf);
                        } else {
                            // Charged now rather than at the next poll, so a
                            // burst within one turn cannot pass the budget;
                            // the poll counts the queue exactly again.
                            let queued = conn.buffered + data;
                            self.usage.charge(conn.peer, conn.buffered, queued);
                            conn.buffered = queued;
                        }
                    }
                    if let Some(ack) = ack {
                        conn.note_ack(now, ack, pure_ack.then_some(&buf[..]));
                    }
                    if hole_at.is_some_and(|hole| conn.take_hole(hole)) {
                        self.stats.hole_repairs += 1;
                        self.device.receive_copies(&buf, DUP_ACKS);
                    }
                }
                self.device.rx.push_back(buf);
                Ingress::Stack
            }
        }
    }

    /// Answers a SYN over its peer's caps with RST.
    fn refuse_syn(&mut self, syn: &[u8]) {
        let mut rst = self.device.pool.take();
        self.ident = self.ident.wrapping_add(1);
        if emit_rst(syn, self.ident, &mut rst).is_some() {
            self.device.tx.push_back(rst);
        } else {
            self.device.pool.put(rst);
        }
    }

    fn new_socket(rx: usize, tx: usize) -> tcp::Socket<'static> {
        // `vec![0; n]` comes from calloc: large zeroed blocks are fresh
        // mappings whose pages are committed only when written.
        let rx = tcp::SocketBuffer::new(vec![0u8; rx]);
        let tx = tcp::SocketBuffer::new(vec![0u8; tx]);
        let mut s = tcp::Socket::new(rx, tx);
        s.set_nagle_enabled(false);
        s.set_congestion_control(CongestionControl::Cubic);
        s.set_keep_alive(Some(SmolDuration::from_secs(KEEP_ALIVE.as_secs())));
        s.set_timeout(Some(SmolDuration::from_secs(DEAD_PEER_TIMEOUT.as_secs())));
        s
    }

    fn add_listener(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr, peer: PeerKey) {
        let (rx, tx) =
            self.usage
                .ring_sizes(peer, self.config.tcp_rx_buffer, self.config.tcp_tx_buffer);
        let mut s = Self::new_socket(rx, tx);
        let ep = IpListenEndpoint {
            addr: Some(IpAddress::from(dst.ip())),
            port: dst.port(),
        };
        if s.listen(ep).is_err() {
            return;
        }
        let h = self.sockets.add(s);
        let key = (dst.port(), src);
        self.by_key.insert(key, h);
        let mut conn = Conn::new(key, Owner::Pending { since: now }, Some(peer), now);
        conn.rings = rx + tx;
        self.conns.insert(h, conn);
        self.usage.opened(Some(peer), rx + tx);
        self.syn_peers.insert(key, peer);
        self.pending.push(h);
    }

    /// Opens a TCP connection to `remote` from an ephemeral port.
    pub fn connect(&mut self, remote: SocketAddr) -> Result<TcpId, ConnectError> {
        let local_ip = self
            .local_addr(remote.is_ipv6())
            .ok_or(ConnectError::NoLocalAddress)?;
        let port = self
            .ephemeral_port(remote)
            .ok_or(ConnectError::NoFreePort)?;
        let mut s = Self::new_socket(self.config.tcp_rx_buffer, self.config.tcp_tx_buffer);
        let local = IpListenEndpoint {
            addr: Some(IpAddress::from(local_ip)),
            port,
        };
        s.connect(self.iface.context(), to_endpoint(remote), local)
            .map_err(|_| ConnectError::Unaddressable)?;
        let h = self.sockets.add(s);
        let key = (port, remote);
        self.by_key.insert(key, h);
        self.conns
            .insert(h, Conn::new(key, Owner::App, None, Instant::now()));
        Ok(TcpId(h))
    }

    fn ephemeral_port(&mut self, remote: SocketAddr) -> Option<u16> {
        let span = u32::from(EPHEMERAL.end() - EPHEMERAL.start()) + 1;
        for _ in 0..span {
            let p = self.next_port;
            self.next_port = if p == *EPHEMERAL.end() {
                *EPHEMERAL.start()
            } else {
                p + 1
            };
            if !self.by_key.contains_key(&(p, remote)) && !self.tcp_ports.contains(&p) {
                return Some(p);
            }
        }
        None
    }

    /// The smoltcp socket behind a connection, for reads, writes, wakers
    /// and state. `None` once released.
    pub fn tcp(&mut self, id: TcpId) -> Option<&mut tcp::Socket<'static>> {
        let conn = self.conns.get_mut(&id.0)?;
        if conn.owner != Owner::App {
            return None;
        }
        // The application may read or write: count the queues again.
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(id.0);
        }
        Some(self.sockets.get_mut::<tcp::Socket<'static>>(id.0))
    }

    /// How many bytes the application may write to `id` now: the socket's
    /// free send space, within what its peer's and the stack's buffer
    /// budgets have left. Zero: wait, `waker` is woken when space or budget
    /// frees. Every writer asks right before writing, so no peer makes the
    /// daemon queue more than its budget for it: what the writers given
    /// room before have written is counted first.
    pub fn send_room(&mut self, id: TcpId, waker: &Waker) -> usize {
        match self.conns.get(&id.0) {
            Some(conn) if conn.owner == Owner::App => {}
            _ => return 0,
        }
        while let Some(h) = self.granted.pop() {
            self.recount(h);
        }
        let peer = self.recount(id.0);
        let s = self.sockets.get_mut::<tcp::Socket<'static>>(id.0);
        let free = s.send_capacity() - s.send_queue();
        if free == 0 {
            s.register_send_waker(waker);
            return 0;
        }
        let room = self.usage.send_room(peer, free);
        if room == 0 {
            self.usage.wait(id.0, waker);
        } else {
            self.granted.push(id.0);
        }
        room
    }

    /// The application is done with a connection: it is closed gracefully
    /// (unless already aborted) and freed once the close completes.
    pub fn release(&mut self, id: TcpId) {
        let Some(conn) = self.conns.get_mut(&id.0) else {
            return;
        };
        if conn.owner != Owner::App {
            return;
        }
        conn.owner = Owner::Released;
        self.sockets.get_mut::<tcp::Socket<'static>>(id.0).close();
        self.released.push(id.0);
    }

    /// The application will not serve a connection: it is reset (RST to
    /// the remote, nothing more sent) and given back to the stack, which
    /// frees it. Does nothing to a connection the application no longer
    /// owns.
    pub fn abort(&mut self, id: TcpId) {
        if let Some(s) = self.tcp(id) {
            s.abort();
        }
        self.release(id);
    }

    /// Writes a UDP datagram into the tunnel, bypassing the TCP/IP stack.
    pub fn send_udp(&mut self, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> bool {
        let mut buf = self.device.pool.take();
        self.ident = self.ident.wrapping_add(1);
        if emit_udp(src, dst, payload, self.ident, &mut buf).is_none() {
            self.device.pool.put(buf);
            return false;
        }
        self.device.tx.push_back(buf);
        true
    }

    /// Runs the TCP/IP stack: processes queued packets, timers and socket
    /// output. Returns whether any socket changed state.
    ///
    /// Sends at most [`EGRESS_BUDGET`] packets (plus one per socket) per
    /// call: the rest waits for the next poll, which [`Stack::poll_delay`]
    /// asks for at once. smoltcp's own `Interface::poll` sends until no
    /// socket has anything left, and a TCP socket that a peer's segments
    /// have put in a state where it emits the same pure ACK on every pass
    /// never stops (see `Stack::end_runaways`): the device queue grew
    /// without bound (found by the `netstack` fuzz target; its input is in
    /// the corpus). With the budget such a socket costs one budget of
    /// packets, and is then reset.
    pub fn poll(&mut self, now: Instant) -> bool {
        use smoltcp::iface::{PollIngressSingleResult, PollResult};
        self.repair_stalls(now);
        let t = self.smol_now(now);
        let (iface, device, sockets) = (&mut self.iface, &mut self.device, &mut self.sockets);
        iface.poll_maintenance(t);
        let mut changed = false;
        loop {
            match iface.poll_ingress_single(t, device, sockets) {
                PollIngressSingleResult::None => break,
                PollIngressSingleResult::PacketProcessed => {}
                PollIngressSingleResult::SocketStateChanged => changed = true,
            }
        }
        let queued = device.tx.len();
        while iface.poll_egress(t, device, sockets) == PollResult::SocketStateChanged {
            changed = true;
            if device.tx.len() - queued >= EGRESS_BUDGET {
                self.stats.egress_budget_hits += 1;
                self.end_runaways(queued);
                break;
            }
        }
        self.device.recycle();
        if !self.pending.is_empty() || !self.released.is_empty() {
            self.sweep(now);
        }
        self.account();
        changed
    }

    /// A connection accepted on a listened port.
    pub fn accept(&mut self) -> Option<Accepted> {
        self.accepted.pop()
    }

    /// The next IP packet to encrypt and send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.device.tx.pop_front()
    }

    /// How long until the stack needs [`Stack::poll`] again, if nothing else
    /// happens; `Some(ZERO)` means now.
    #[must_use]
    pub fn poll_delay(&mut self, now: Instant) -> Option<Duration> {
        let t = self.smol_now(now);
        let d = self
            .iface
            .poll_delay(t, &self.sockets)
            .map(|d| Duration::from_micros(d.total_micros()));
        let d = if self.in_flight {
            // Watch connections with bytes in flight for stalls.
            Some(d.map_or(STALL_CHECK_EVERY, |d| d.min(STALL_CHECK_EVERY)))
        } else {
            d
        };
        if self.pending.is_empty() && self.released.is_empty() {
            d
        } else {
            // Sweep stale listeners and finished connections at least once a second.
            Some(d.map_or(Duration::from_secs(1), |d| d.min(Duration::from_secs(1))))
        }
    }

    /// Resets every open or opening TCP connection whose remote address
    /// `drop_remote` picks (a peer removed or narrowed by a reload): each
    /// sends an RST and its owner's reads and writes fail. Returns how many.
    pub fn abort_connections(&mut self, mut drop_remote: impl FnMut(SocketAddr) -> bool) -> usize {
        let mut n = 0;
        for (h, conn) in &self.conns {
            if conn.owner == Owner::Released || !drop_remote(conn.key.1) {
                continue;
            }
            let s = self.sockets.get_mut::<tcp::Socket<'static>>(*h);
            if s.state() != State::Closed {
                s.abort();
                n += 1;
            }
        }
        n
    }

    /// Connections currently held by the stack (any state).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Replaces the limits (a reload). Connections over a lowered cap stay;
    /// their peer opens no more until it is under the cap again.
    pub fn set_limits(&mut self, limits: TcpLimits) {
        self.config.limits = limits.clone();
        self.usage.set_limits(limits);
    }

    /// What `peer` holds, and the limits it hit.
    pub fn peer_usage(&self, peer: PeerKey) -> Option<&PeerUsage> {
        self.usage.peer(peer)
    }

    /// Every peer the stack has seen, with its usage.
    pub fn peers(&self) -> impl Iterator<Item = (PeerKey, &PeerUsage)> + '_ {
        self.usage.peers()
    }

    /// Bytes queued in all connections, as of the last poll.
    pub fn buffered(&self) -> usize {
        self.usage.buffered()
    }

    /// The ring sizes of every connection charged to a peer, both
    /// directions: the most their buffers can commit to memory.
    pub fn rings(&self) -> usize {
        self.usage.rings()
    }

    /// The capacities smoltcp really holds for `peer`'s connections, rx
    /// plus tx: what the accounting above must match.
    #[cfg(test)]
    pub(crate) fn ring_capacity_of(&self, peer: PeerKey) -> usize {
        self.conns
            .iter()
            .filter(|(_, c)| c.peer == Some(peer))
            .map(|(h, _)| {
                let s = self.sockets.get::<tcp::Socket<'static>>(*h);
                s.recv_capacity() + s.send_capacity()
            })
            .sum()
    }
}

fn to_endpoint(a: SocketAddr) -> IpEndpoint {
    IpEndpoint::new(IpAddress::from(a.ip()), a.port())
}

fn from_endpoint(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(e.addr), e.port)
}
