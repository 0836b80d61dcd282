//! Per-peer limits on a fake clock: client stacks (the peers) and a raw
//! SYN source against one server stack, every packet tagged with the key
//! of the peer it comes from.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use smoltcp::wire::{Ipv4Packet, TcpControl, TcpPacket};

use crate::*;

const A: PeerKey = PeerKey(1);
const B: PeerKey = PeerKey(2);
const SERVER_IP: &str = "100.64.0.2";
/// The raw SYN source's address (peer A, no stack behind it).
const FLOODER: &str = "100.64.0.10";

fn server_addr() -> SocketAddr {
    format!("{SERVER_IP}:80").parse().unwrap()
}

fn stack(addr: &str, rx_buffer: usize, limits: TcpLimits, now: Instant) -> Stack {
    Stack::new(
        StackConfig {
            addresses: vec![(addr.parse().unwrap(), 24)],
            tcp_rx_buffer: rx_buffer,
            tcp_tx_buffer: 256 << 10,
            limits,
            ..StackConfig::default()
        },
        now,
    )
}

/// A server on port 80 and the peers' client stacks. Packets from a client
/// reach the server tagged with its key; the server's packets go to the
/// client with their destination address, or to `to_flooder`.
struct Net {
    now: Instant,
    server: Stack,
    clients: Vec<(PeerKey, Stack)>,
    to_flooder: Vec<Vec<u8>>,
}

impl Net {
    fn new(limits: TcpLimits) -> Net {
        let now = Instant::now();
        let mut server = stack(SERVER_IP, 256 << 10, limits, now);
        server.listen_tcp(80);
        Net {
            now,
            server,
            clients: Vec::new(),
            to_flooder: Vec::new(),
        }
    }

    /// Adds a peer's client stack; returns its index.
    fn client(&mut self, key: PeerKey, addr: &str, rx_buffer: usize) -> usize {
        let limits = TcpLimits::default();
        self.clients
            .push((key, stack(addr, rx_buffer, limits, self.now)));
        self.clients.len() - 1
    }

    fn deliver(&mut self, key: PeerKey, pkt: &[u8]) -> Ingress {
        let mut buf = self.server.take_buffer();
        buf.extend_from_slice(pkt);
        self.server.handle_packet(self.now, key, buf)
    }

    /// One round: every client's output to the server, the server's output
    /// to the clients, then `step` of simulated time.
    fn round(&mut self, step: Duration) {
        let mut out = Vec::new();
        for (key, c) in &mut self.clients {
            c.poll(self.now);
            while let Some(p) = c.poll_transmit() {
                out.push((*key, p));
            }
        }
        for (key, p) in out {
            self.deliver(key, &p);
        }
        self.server.poll(self.now);
        while let Some(p) = self.server.poll_transmit() {
            let dst = IpAddr::from(Ipv4Packet::new_checked(&p[..]).unwrap().dst_addr());
            match self.clients.iter_mut().find(|(_, c)| c.is_local(dst)) {
                Some((_, c)) => {
                    let mut buf = c.take_buffer();
                    buf.extend_from_slice(&p);
                    c.handle_packet(self.now, PeerKey(0), buf);
                }
                None => self.to_flooder.push(p),
            }
        }
        for (_, c) in &mut self.clients {
            c.poll(self.now);
        }
        self.now += step;
    }

    fn rounds(&mut self, n: usize, step: Duration) {
        for _ in 0..n {
            self.round(step);
        }
    }

    fn usage(&self, key: PeerKey) -> PeerUsage {
        self.server.peer_usage(key).cloned().unwrap_or_default()
    }
}

/// A bare SYN, as a raw-socket flooder sends it.
fn syn(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
        panic!("IPv4 only");
    };
    packet::tcp_segment(s, d, TcpControl::Syn, seq, None, &[])
}

/// (SYN-ACKs, RSTs) among `pkts`.
fn answers(pkts: &[Vec<u8>]) -> (usize, usize) {
    let mut n = (0, 0);
    for p in pkts {
        let ip = Ipv4Packet::new_checked(&p[..]).unwrap();
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        if tcp.syn() && tcp.ack() {
            n.0 += 1;
        }
        if tcp.rst() {
            n.1 += 1;
        }
    }
    n
}

fn flood(net: &mut Net, from_port: u16, count: u16) {
    for port in from_port..from_port + count {
        let src = SocketAddr::new(FLOODER.parse().unwrap(), port);
        net.deliver(A, &syn(src, server_addr(), u32::from(port) * 7919));
    }
}

/// Counts wake-ups.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes to `id` what `send_room` allows, until it says zero; returns
/// how much was written.
fn fill(s: &mut Stack, id: TcpId, waker: &Waker) -> usize {
    let data = vec![7u8; 1 << 20];
    let mut total = 0;
    loop {
        let room = s.send_room(id, waker);
        if room == 0 {
            return total;
        }
        let n = s
            .tcp(id)
            .unwrap()
            .send_slice(&data[..room.min(data.len())])
            .unwrap();
        total += n;
    }
}

/// More SYNs from one peer than the stack has handshake slots in all
/// (1,024): the peer gets 64 (its cap) and RSTs for the rest, and another
/// peer's connection is accepted and served.
#[test]
fn a_peer_flooding_syns_does_not_block_another_peers_accept() {
    let mut net = Net::new(TcpLimits::default());
    flood(&mut net, 1000, 2000);
    net.round(Duration::from_millis(1));
    let (syn_acks, rsts) = answers(&net.to_flooder);
    assert_eq!((syn_acks, rsts), (64, 1936));
    let a = net.usage(A);
    assert_eq!((a.half_open, a.connections), (64, 64));
    assert_eq!(a.hits(LimitHit::HalfOpen), 1936);
    assert_eq!(net.server.stats().get(NetDrop::PeerLimit), 1936);

    let b = net.client(B, "100.64.0.20", 256 << 10);
    let id = net.clients[b].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    let acc = net.server.accept().expect("peer B's connection accepted");
    assert_eq!(acc.remote.ip(), "100.64.0.20".parse::<IpAddr>().unwrap());
    net.clients[b]
        .1
        .tcp(id)
        .unwrap()
        .send_slice(b"hello")
        .unwrap();
    net.rounds(3, Duration::from_millis(1));
    let mut got = [0u8; 5];
    assert_eq!(net.server.tcp(acc.id).unwrap().recv_slice(&mut got), Ok(5));
    assert_eq!(&got, b"hello");
    let b = net.usage(B);
    assert_eq!((b.half_open, b.connections), (0, 1));
}

/// Half-open connections are forgotten after the handshake timeout (not
/// smoltcp's minutes), and the peer may open new ones.
#[test]
fn half_open_connections_expire_after_the_handshake_timeout() {
    let limits = TcpLimits {
        peer_half_open: 4,
        ..TcpLimits::default()
    };
    let mut net = Net::new(limits);
    flood(&mut net, 1000, 6);
    net.round(Duration::from_secs(1));
    assert_eq!(answers(&net.to_flooder), (4, 2));
    assert_eq!(net.usage(A).half_open, 4);
    net.rounds(16, Duration::from_secs(1));
    let a = net.usage(A);
    assert_eq!((a.half_open, a.connections), (0, 0));
    assert_eq!(a.hits(LimitHit::HandshakeTimeout), 4);
    assert_eq!(net.server.connections(), 0);
    net.to_flooder.clear();
    flood(&mut net, 2000, 1);
    net.round(Duration::from_secs(1));
    assert_eq!(answers(&net.to_flooder).1, 0, "admitted again, no RST");
    assert_eq!(net.usage(A).half_open, 1);
}

/// A peer at its connection cap gets RST for the next SYN; another peer
/// still connects, and the first may connect again once one closes.
#[test]
fn connections_over_the_peer_cap_are_reset() {
    let limits = TcpLimits {
        peer_connections: 3,
        ..TcpLimits::default()
    };
    let mut net = Net::new(limits);
    let a = net.client(A, "100.64.0.10", 256 << 10);
    let ids: Vec<TcpId> = (0..4)
        .map(|_| net.clients[a].1.connect(server_addr()).unwrap())
        .collect();
    net.rounds(5, Duration::from_millis(1));
    let accepted: Vec<Accepted> = std::iter::from_fn(|| net.server.accept()).collect();
    assert_eq!(accepted.len(), 3);
    let states: Vec<TcpState> = ids
        .iter()
        .map(|id| net.clients[a].1.tcp(*id).unwrap().state())
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == TcpState::Closed).count(),
        1,
        "{states:?}"
    );
    assert_eq!(net.usage(A).hits(LimitHit::Connections), 1);

    let b = net.client(B, "100.64.0.20", 256 << 10);
    net.clients[b].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    assert!(net.server.accept().is_some(), "peer B accepted");

    // One of A's connections closes both ways; A may connect again.
    let open = ids
        .iter()
        .zip(&states)
        .find(|(_, s)| **s == TcpState::Established)
        .map(|(id, _)| *id)
        .unwrap();
    net.clients[a].1.release(open);
    net.rounds(5, Duration::from_millis(1));
    for acc in &accepted {
        if net.server.tcp(acc.id).is_some_and(|s| !s.may_recv()) {
            net.server.release(acc.id);
        }
    }
    net.rounds(5, Duration::from_millis(1));
    assert_eq!(net.usage(A).connections, 2);
    net.clients[a].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    assert!(net.server.accept().is_some(), "peer A accepted again");
}

/// A receiver that never reads keeps a zero window: smoltcp would probe it
/// forever with our bytes queued. After the send-stall timeout the
/// connection is reset and its buffers are freed.
#[test]
fn a_zero_window_peer_is_reset_after_the_send_stall_timeout() {
    let mut net = Net::new(TcpLimits::default());
    let a = net.client(A, "100.64.0.10", 4096);
    let id = net.clients[a].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    let acc = net.server.accept().unwrap();
    let waker = Waker::noop();
    let mut written = 0;
    let step = Duration::from_millis(500);
    for i in 0..200 {
        written += fill(&mut net.server, acc.id, waker);
        net.round(step);
        let state = net.server.tcp(acc.id).unwrap().state();
        if i < 100 {
            // 50 s of zero window: still waiting.
            assert_eq!(state, TcpState::Established, "round {i}");
        }
    }
    assert!(written > 8192, "the server had bytes to send ({written})");
    assert_eq!(net.server.tcp(acc.id).unwrap().state(), TcpState::Closed);
    assert_eq!(net.usage(A).hits(LimitHit::SendStalled), 1);
    assert_eq!(
        net.clients[a].1.tcp(id).unwrap().state(),
        TcpState::Closed,
        "the RST reached the peer"
    );
    net.server.release(acc.id);
    net.round(step);
    assert_eq!(net.server.connections(), 0);
    let u = net.usage(A);
    assert_eq!((u.connections, u.buffered), (0, 0));
    assert_eq!(net.server.buffered(), 0);
}

/// A peer that keeps sending to a connection the application does not read
/// fills its own budget, not more; a second peer then fills what is left of
/// the total budget, not more. Nothing refused is lost.
#[test]
fn received_bytes_stay_within_the_peer_and_total_budgets() {
    let limits = TcpLimits {
        peer_buffer: 96 << 10,
        total_buffer: 160 << 10,
        ..TcpLimits::default()
    };
    let mut net = Net::new(limits);
    let data = vec![1u8; 1 << 20];
    let mss = 1380;
    let mut ids = Vec::new();
    for (key, addr) in [(A, "100.64.0.10"), (B, "100.64.0.20")] {
        let c = net.client(key, addr, 256 << 10);
        let id = net.clients[c].1.connect(server_addr()).unwrap();
        net.rounds(5, Duration::from_millis(1));
        ids.push((c, id));
        for _ in 0..300 {
            for (c, id) in &ids {
                let s = net.clients[*c].1.tcp(*id).unwrap();
                let _ = s.send_slice(&data[..s.send_capacity() - s.send_queue()]);
            }
            net.round(Duration::from_millis(5));
            // Checked every round: the budgets hold at all times, not only
            // in the end. One segment may cross them.
            assert!(net.usage(A).buffered <= (96 << 10) + mss);
            assert!(net.server.buffered() <= (160 << 10) + mss);
        }
    }
    let (a, b) = (net.usage(A), net.usage(B));
    assert!(
        a.buffered >= 90 << 10,
        "A filled its budget: {}",
        a.buffered
    );
    assert!(a.hits(LimitHit::PeerBuffer) > 0);
    assert!(b.buffered >= 56 << 10, "B filled the rest: {}", b.buffered);
    assert!(b.hits(LimitHit::TotalBuffer) > 0);
    let acc: Vec<Accepted> = std::iter::from_fn(|| net.server.accept()).collect();
    let mut got = 0;
    for _ in 0..2000 {
        for x in &acc {
            let s = net.server.tcp(x.id).unwrap();
            while let Ok(n) = s.recv(|b| (b.len(), b.len())) {
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        for (c, id) in &ids {
            let s = net.clients[*c].1.tcp(*id).unwrap();
            let _ = s.send_slice(&data[..s.send_capacity() - s.send_queue()]);
        }
        net.round(Duration::from_millis(5));
    }
    assert!(got > 2 << 20, "{got} bytes read");
}

/// The application gets send room within its peer's budget and what is
/// left of the total; a writer told to wait is woken once bytes drain.
#[test]
fn send_room_stays_within_the_budgets_and_wakes_writers() {
    let limits = TcpLimits {
        peer_buffer: 96 << 10,
        total_buffer: 160 << 10,
        ..TcpLimits::default()
    };
    let mut net = Net::new(limits);
    let a = net.client(A, "100.64.0.10", 256 << 10);
    let b = net.client(B, "100.64.0.20", 256 << 10);
    let ida = net.clients[a].1.connect(server_addr()).unwrap();
    net.clients[b].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    let mut acc: Vec<Accepted> = std::iter::from_fn(|| net.server.accept()).collect();
    acc.sort_by_key(|x| x.remote);
    let (sa, sb) = (acc[0].id, acc[1].id);
    let woken = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(woken.clone());

    assert_eq!(fill(&mut net.server, sa, &waker), 96 << 10);
    assert_eq!(net.usage(A).hits(LimitHit::PeerBuffer), 1);
    // A's bytes count as soon as they are handed out, before any poll.
    assert_eq!(fill(&mut net.server, sb, &waker), 64 << 10);
    assert_eq!(net.usage(B).hits(LimitHit::TotalBuffer), 1);
    net.round(Duration::from_millis(1));
    assert_eq!(net.usage(A).buffered, 96 << 10);
    assert!(net.server.buffered() <= 160 << 10);

    // A's client reads (its window was large enough to take it all): the
    // acknowledgements free the budget and the waiting writers are woken.
    let mut got = 0;
    for _ in 0..50 {
        let s = net.clients[a].1.tcp(ida).unwrap();
        while let Ok(n) = s.recv(|x| (x.len(), x.len())) {
            if n == 0 {
                break;
            }
            got += n;
        }
        net.round(Duration::from_millis(1));
    }
    assert_eq!(got, 96 << 10);
    assert_eq!(net.usage(A).buffered, 0);
    assert!(woken.0.load(Ordering::Relaxed) > 0, "writers woken");
    assert!(fill(&mut net.server, sa, &waker) > 0);
}

/// smoltcp gives a SYN to whichever listener on the port comes first, so a
/// connection can land in a listener made for another peer's SYN (here A's,
/// back to listening after A's RST). It is charged to the peer whose SYN
/// it holds.
#[test]
fn a_connection_in_another_peers_listener_is_charged_to_its_own_peer() {
    let mut net = Net::new(TcpLimits::default());
    let a = net.client(A, "100.64.0.10", 256 << 10);
    let b = net.client(B, "100.64.0.20", 256 << 10);
    let ida = net.clients[a].1.connect(server_addr()).unwrap();
    net.clients[a].1.poll(net.now);
    let syn_a = net.clients[a].1.poll_transmit().unwrap();
    net.deliver(A, &syn_a);
    net.server.poll(net.now);
    let syn_ack = net.server.poll_transmit().unwrap();
    assert_eq!(net.usage(A).half_open, 1);
    // A gives up; the SYN-ACK then draws an RST from A's stack.
    net.clients[a].1.tcp(ida).unwrap().abort();
    net.clients[a].1.poll(net.now);
    while net.clients[a].1.poll_transmit().is_some() {}
    let mut buf = net.clients[a].1.take_buffer();
    buf.extend_from_slice(&syn_ack);
    net.clients[a].1.handle_packet(net.now, PeerKey(0), buf);
    net.clients[a].1.poll(net.now);
    let rst_a = net.clients[a].1.poll_transmit().expect("RST from A");
    // A's RST and B's SYN in one batch: A's listener listens again and
    // takes B's SYN.
    net.clients[b].1.connect(server_addr()).unwrap();
    net.clients[b].1.poll(net.now);
    let syn_b = net.clients[b].1.poll_transmit().unwrap();
    net.deliver(A, &rst_a);
    net.deliver(B, &syn_b);
    net.round(Duration::from_millis(1));
    let (ua, ub) = (net.usage(A), net.usage(B));
    assert_eq!((ua.half_open, ua.connections), (0, 0));
    assert_eq!((ub.half_open, ub.connections), (1, 1));
    net.rounds(5, Duration::from_millis(1));
    let acc = net.server.accept().expect("B accepted");
    assert_eq!(acc.remote.ip(), "100.64.0.20".parse::<IpAddr>().unwrap());
    let ub = net.usage(B);
    assert_eq!((ub.half_open, ub.connections), (0, 1));
}

/// A peer's connections get full-size rings while their rings are under
/// its ring budget; the others get `SMALL_RING` each way, so what its
/// connections can commit is bounded however many it opens. Another peer
/// still gets full rings, and the budget comes back when the connections
/// go.
#[test]
fn a_peers_rings_stay_within_its_ring_budget() {
    // Rings of 256 KiB each way: 512 KiB a connection, 4 in 2 MiB.
    let limits = TcpLimits {
        peer_rings: 2 << 20,
        ..TcpLimits::default()
    };
    let mut net = Net::new(limits);
    flood(&mut net, 1000, 20);
    net.round(Duration::from_millis(1));
    let full = 512 << 10;
    let small = 2 * SMALL_RING;
    let rings = 4 * full + 16 * small;
    assert_eq!(net.server.ring_capacity_of(A), rings);
    assert_eq!(net.usage(A).rings, rings);
    assert_eq!(net.usage(A).hits(LimitHit::SmallBuffers), 16);
    assert_eq!(net.server.rings(), rings);

    let b = net.client(B, "100.64.0.20", 256 << 10);
    net.clients[b].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    net.server.accept().expect("B accepted");
    assert_eq!(net.server.ring_capacity_of(B), full);
    assert_eq!(net.usage(B).hits(LimitHit::SmallBuffers), 0);

    // A's half-open connections time out; its budget is whole again.
    net.rounds(2, Duration::from_secs(16));
    assert_eq!(net.usage(A).connections, 0);
    assert_eq!(net.usage(A).rings, 0);
    assert_eq!(net.server.rings(), full);
    flood(&mut net, 3000, 1);
    net.round(Duration::from_millis(1));
    assert_eq!(net.server.ring_capacity_of(A), full);
}

/// The total ring budget applies across peers.
#[test]
fn all_rings_stay_within_the_total_ring_budget() {
    let limits = TcpLimits {
        total_rings: 2 << 20,
        ..TcpLimits::default()
    };
    let mut net = Net::new(limits);
    flood(&mut net, 1000, 3);
    net.round(Duration::from_millis(1));
    let b = net.client(B, "100.64.0.20", 256 << 10);
    net.clients[b].1.connect(server_addr()).unwrap();
    net.clients[b].1.connect(server_addr()).unwrap();
    net.rounds(5, Duration::from_millis(1));
    let (full, small) = (512 << 10, 2 * SMALL_RING);
    assert_eq!(net.server.ring_capacity_of(A), 3 * full);
    assert_eq!(net.server.ring_capacity_of(B), full + small);
    assert_eq!(net.usage(B).hits(LimitHit::SmallBuffers), 1);
}
