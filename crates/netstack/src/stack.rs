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

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, CongestionControl, State};
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint};

use crate::device::QueueDevice;
use crate::packet::{classify, emit_udp, shrink_window, Header};
use crate::stats::{NetDrop, NetStats};

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
    /// Connections still in the handshake, at most (SYN-flood bound).
    pub max_half_open: usize,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Created by the stack for a SYN; not yet handed out by `accept`.
    Pending { since: Instant },
    /// The application holds the id.
    App,
    /// The application is done; freed once closed.
    Released,
}

#[derive(Debug)]
struct Conn {
    key: (u16, SocketAddr),
    owner: Owner,
    /// The last hole (ACK number) [`Conn::take_hole`] acted on.
    repaired_hole: Option<u32>,
    /// The peer's latest acknowledgement number and when it last moved.
    acked: Option<u32>,
    progress_at: Instant,
    /// The peer's latest pure ACK, if it carries `acked`: what
    /// [`Stack::repair_stalls`] replays.
    last_ack: Vec<u8>,
    /// Stall repairs since the acknowledgement last moved.
    stall_repairs: u32,
}

impl Conn {
    fn new(key: (u16, SocketAddr), owner: Owner, now: Instant) -> Self {
        Self {
            key,
            owner,
            repaired_hole: None,
            acked: None,
            progress_at: now,
            last_ack: Vec::new(),
            stall_repairs: 0,
        }
    }

    /// Tracks acknowledgement progress, and keeps the latest pure ACK.
    fn note_ack(&mut self, now: Instant, ack: u32, pure: Option<&[u8]>) {
        if self.acked != Some(ack) {
            self.acked = Some(ack);
            self.progress_at = now;
            self.stall_repairs = 0;
            self.last_ack.clear();
        }
        if let Some(pkt) = pure {
            self.last_ack.clear();
            self.last_ack.extend_from_slice(pkt);
        }
    }

    /// Whether to make smoltcp retransmit the segment at `hole` now.
    ///
    /// smoltcp (0.14) retransmits one segment after three duplicate ACKs
    /// and otherwise waits for its retransmission timer (at least 1 s). When
    /// a burst of segments is lost, as when a receiver's UDP socket
    /// overflows, the ACK for the first retransmission acknowledges up to
    /// the next hole; no further duplicates come because the window is full,
    /// so every burst cost a second's stall. The receiver's SACK blocks say
    /// exactly where the holes are: for each new hole, the hole-reporting ACK
    /// is delivered [`DUP_ACKS`] more times, which is smoltcp's fast-retransmit
    /// trigger (NewReno's partial-ACK retransmission, RFC 6582). Once per
    /// hole, so a stream of duplicate ACKs for the same hole repairs it once.
    fn take_hole(&mut self, hole: u32) -> bool {
        if self.repaired_hole == Some(hole) {
            return false;
        }
        self.repaired_hole = Some(hole);
        true
    }
}

/// A connection with bytes to deliver whose acknowledgement has not moved
/// for this long (doubling per attempt) gets its first unacknowledged
/// segment retransmitted, instead of waiting for smoltcp's timer (1 s at
/// least, doubling): tail losses and lost retransmissions otherwise cost
/// seconds each on a lossy link.
const STALL_AFTER: Duration = Duration::from_millis(200);
/// Attempts before leaving it to smoltcp's own timer (200, 400, 800 ms).
const STALL_REPAIRS_MAX: u32 = 3;
/// How often connections are checked for stalls while any has data in flight.
const STALL_CHECK_EVERY: Duration = Duration::from_millis(50);

/// Duplicate ACKs that make smoltcp fast-retransmit: the copies of an ACK
/// that [`Conn::take_hole`] and [`Stack::repair_stalls`] replay.
const DUP_ACKS: usize = 3;

/// How long a listening socket may wait for the SYN it was made for.
const STALE_LISTENER: Duration = Duration::from_secs(5);
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

    /// Takes one decrypted IP packet from the tunnel.
    pub fn handle_packet(&mut self, now: Instant, buf: Vec<u8>) -> Ingress {
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
            } => {
                if !self.is_local(dst.ip()) {
                    return self.dropped(buf, NetDrop::NotLocal);
                }
                if syn_only && !self.by_key.contains_key(&(dst.port(), src)) {
                    if !self.tcp_ports.contains(&dst.port()) {
                        // smoltcp answers with RST, which is what a client
                        // expects from a closed port.
                        self.stats.count(NetDrop::TcpClosedPort);
                    } else if self.pending.len() >= self.config.max_half_open {
                        return self.dropped(buf, NetDrop::Backlog);
                    } else {
                        self.add_listener(now, src, dst);
                    }
                }
                let conn = self
                    .by_key
                    .get(&(dst.port(), src))
                    .and_then(|h| self.conns.get_mut(h));
                if let Some(conn) = conn {
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

    /// Retransmits the first unacknowledged segment of connections whose
    /// peer has stopped acknowledging while bytes are outstanding.
    ///
    /// smoltcp retransmits on three duplicate ACKs, or on its timer. The
    /// peer's latest ACK is replayed four times: once with its window one
    /// unit smaller, which smoltcp takes as a window update and which
    /// restarts its duplicate count (an earlier fast retransmit may have
    /// left it above three), then three duplicates of that. The peer's
    /// real window returns with its next ACK. Called before each poll;
    /// scans at most every [`STALL_CHECK_EVERY`].
    fn repair_stalls(&mut self, now: Instant) {
        if now < self.next_stall_check {
            return;
        }
        self.next_stall_check = now + STALL_CHECK_EVERY;
        self.in_flight = false;
        for (h, conn) in self.conns.iter_mut() {
            if matches!(conn.owner, Owner::Pending { .. }) {
                continue;
            }
            let s = self.sockets.get::<tcp::Socket<'static>>(*h);
            let sending = matches!(
                s.state(),
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::Closing
                    | State::LastAck
            ) && s.send_queue() > 0;
            if !sending {
                continue;
            }
            self.in_flight = true;
            let wait = STALL_AFTER * (1 << conn.stall_repairs.min(STALL_REPAIRS_MAX));
            if conn.last_ack.is_empty()
                || conn.stall_repairs >= STALL_REPAIRS_MAX
                || now.saturating_duration_since(conn.progress_at) < wait
            {
                continue;
            }
            let mut update = self.device.pool.take();
            update.extend_from_slice(&conn.last_ack);
            if !shrink_window(&mut update) {
                self.device.pool.put(update);
                continue;
            }
            self.device.receive_copies(&update, DUP_ACKS);
            self.device.rx.push_front(update);
            conn.progress_at = now;
            conn.stall_repairs += 1;
            self.stats.stall_repairs += 1;
        }
    }

    fn new_socket(&self) -> tcp::Socket<'static> {
        // `vec![0; n]` comes from calloc: large zeroed blocks are fresh
        // mappings whose pages are committed only when written.
        let rx = tcp::SocketBuffer::new(vec![0u8; self.config.tcp_rx_buffer]);
        let tx = tcp::SocketBuffer::new(vec![0u8; self.config.tcp_tx_buffer]);
        let mut s = tcp::Socket::new(rx, tx);
        s.set_nagle_enabled(false);
        s.set_congestion_control(CongestionControl::Cubic);
        s.set_keep_alive(Some(SmolDuration::from_secs(KEEP_ALIVE.as_secs())));
        s.set_timeout(Some(SmolDuration::from_secs(DEAD_PEER_TIMEOUT.as_secs())));
        s
    }

    fn add_listener(&mut self, now: Instant, src: SocketAddr, dst: SocketAddr) {
        let mut s = self.new_socket();
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
        self.conns
            .insert(h, Conn::new(key, Owner::Pending { since: now }, now));
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
        let mut s = self.new_socket();
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
            .insert(h, Conn::new(key, Owner::App, Instant::now()));
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
        match self.conns.get(&id.0)?.owner {
            Owner::App => Some(self.sockets.get_mut::<tcp::Socket<'static>>(id.0)),
            _ => None,
        }
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
    pub fn poll(&mut self, now: Instant) -> bool {
        self.repair_stalls(now);
        let t = self.smol_now(now);
        let changed = self.iface.poll(t, &mut self.device, &mut self.sockets)
            == smoltcp::iface::PollResult::SocketStateChanged;
        self.device.recycle();
        if !self.pending.is_empty() || !self.released.is_empty() {
            self.sweep(now);
        }
        changed
    }

    /// Moves handshaken connections to the accept queue and frees closed ones.
    fn sweep(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.pending.len() {
            let h = self.pending[i];
            let s = self.sockets.get::<tcp::Socket<'static>>(h);
            let state = s.state();
            let tuple = s.local_endpoint().zip(s.remote_endpoint());
            let since = match self.conns.get(&h).map(|c| c.owner) {
                Some(Owner::Pending { since }) => since,
                _ => now,
            };
            match state {
                State::Established | State::CloseWait => {
                    self.pending.swap_remove(i);
                    if let Some((local, remote)) = tuple {
                        let (local, remote) = (from_endpoint(local), from_endpoint(remote));
                        self.rekey(h, (local.port(), remote));
                        if let Some(c) = self.conns.get_mut(&h) {
                            c.owner = Owner::App;
                        }
                        self.accepted.push(Accepted {
                            id: TcpId(h),
                            local,
                            remote,
                        });
                    }
                }
                State::Closed | State::TimeWait => {
                    self.pending.swap_remove(i);
                    self.remove(h);
                }
                State::Listen if now.saturating_duration_since(since) > STALE_LISTENER => {
                    self.pending.swap_remove(i);
                    self.remove(h);
                }
                _ => {
                    if let Some((local, remote)) = tuple {
                        self.rekey(h, (local.port, from_endpoint(remote)));
                    }
                    i += 1;
                }
            }
        }
        let mut i = 0;
        while i < self.released.len() {
            let h = self.released[i];
            let state = self.sockets.get::<tcp::Socket<'static>>(h).state();
            if matches!(state, State::Closed | State::TimeWait) {
                self.released.swap_remove(i);
                self.remove(h);
            } else {
                i += 1;
            }
        }
    }

    /// When two SYNs arrive in one batch, smoltcp may give each to the other's
    /// listener; keep the lookup keyed by what the socket really holds.
    fn rekey(&mut self, h: SocketHandle, key: (u16, SocketAddr)) {
        let Some(conn) = self.conns.get_mut(&h) else {
            return;
        };
        if conn.key == key {
            return;
        }
        let old = std::mem::replace(&mut conn.key, key);
        if self.by_key.get(&old) == Some(&h) {
            self.by_key.remove(&old);
        }
        self.by_key.insert(key, h);
    }

    fn remove(&mut self, h: SocketHandle) {
        if let Some(conn) = self.conns.remove(&h) {
            if self.by_key.get(&conn.key) == Some(&h) {
                self.by_key.remove(&conn.key);
            }
            self.sockets.remove(h);
        }
    }

    /// A connection accepted on a listened port.
    pub fn accept(&mut self) -> Option<Accepted> {
        self.accepted.pop()
    }

    /// The next IP packet to encrypt and send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.device.tx.pop_front()
    }

    /// How long until the stack needs [`Stack::poll`] again, if nothing else
    /// happens; `Some(ZERO)` means now.
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
}

fn to_endpoint(a: SocketAddr) -> IpEndpoint {
    IpEndpoint::new(IpAddress::from(a.ip()), a.port())
}

fn from_endpoint(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(IpAddr::from(e.addr), e.port)
}
