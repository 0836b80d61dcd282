//! Two cores, a server and a client, joined by an in-memory link and
//! stepped on a fake clock: WireGuard and the TCP/IP stack together, with
//! no socket, no task and no sleep.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use wingress_netstack::{StackConfig, TcpId, TcpState};
use wingress_wg::{PeerSpec, Prefix, PrivateKey, TIMER_TICK};

use super::*;
use crate::dataplane::shed::CALM_FOR;

const SERVER_UDP: &str = "192.0.2.1:51820";
const CLIENT_UDP: &str = "192.0.2.2:40000";

/// One end of the link: its core, the UDP address it sends from, and the
/// events it produced that the test has not looked at yet.
struct End {
    core: Core,
    addr: SocketAddr,
    events: Vec<Event>,
}

/// The server (100.64.0.1, listening on TCP 8080 and UDP 53) and the client
/// (100.64.0.2), each the other's only peer; only the client knows the
/// other's endpoint. Returns the ends and the server's id for the client.
fn pair(now: Instant) -> (End, End, PeerId) {
    let (ks, kc) = (PrivateKey::generate(), PrivateKey::generate());
    let prefix = |a: &str, len| Prefix::new(a.parse::<IpAddr>().unwrap(), len).unwrap();
    let mut wg_server = Device::new(ks.clone());
    let client_id = wg_server.add_peer(PeerSpec {
        public_key: kc.public_key(),
        preshared_key: None,
        allowed_ips: vec![prefix("100.64.0.2", 32)],
        endpoint: None,
        persistent_keepalive: None,
    });
    let mut wg_client = Device::new(kc);
    wg_client.add_peer(PeerSpec {
        public_key: ks.public_key(),
        preshared_key: None,
        allowed_ips: vec![prefix("100.64.0.0", 24)],
        endpoint: Some(SERVER_UDP.parse().unwrap()),
        persistent_keepalive: None,
    });
    let stack = |addr: &str| {
        let config = StackConfig {
            addresses: vec![(addr.parse().unwrap(), 24)],
            tcp_rx_buffer: 64 << 10,
            tcp_tx_buffer: 64 << 10,
            ..StackConfig::default()
        };
        Stack::new(config, now)
    };
    let mut server = Core::new(wg_server, stack("100.64.0.1"), now);
    server.stack_mut().listen_tcp(8080);
    server.stack_mut().bind_udp(53);
    let client = Core::new(wg_client, stack("100.64.0.2"), now);
    let end = |core, addr: &str| End {
        core,
        addr: addr.parse().unwrap(),
        events: Vec::new(),
    };
    (end(server, SERVER_UDP), end(client, CLIENT_UDP), client_id)
}

/// Everything `from` has to send, as the driver would send it.
fn transmit(from: &mut End) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; TRANSMIT_ROOM];
    while let Some((to, n)) = from.core.poll_transmit(&mut buf) {
        out.push((to, buf[..n].to_vec()));
    }
    out
}

/// One turn of both ends at `now`, as the driver does it: timeouts, events,
/// then every datagram across the link. `drop` may lose datagrams (it sees
/// the sender's address and the bytes). Returns how many crossed.
fn turn(
    a: &mut End,
    b: &mut End,
    now: Instant,
    drop: &mut dyn FnMut(SocketAddr, &[u8]) -> bool,
) -> usize {
    half_turn(a, b, now, drop) + half_turn(b, a, now, drop)
}

/// `from`'s half of a turn: its timeouts and events, then its datagrams
/// across the link into `to`.
fn half_turn(
    from: &mut End,
    to: &mut End,
    now: Instant,
    drop: &mut dyn FnMut(SocketAddr, &[u8]) -> bool,
) -> usize {
    let mut moved = 0;
    from.core.handle_timeout(now);
    while let Some(e) = from.core.poll_event() {
        from.events.push(e);
    }
    for (dst, bytes) in transmit(from) {
        assert_eq!(dst, to.addr, "sent to the peer's endpoint");
        if drop(from.addr, &bytes) {
            continue;
        }
        to.core.handle_datagram(now, from.addr, &bytes);
        moved += 1;
    }
    moved
}

/// Turns both ends, a millisecond of fake time apart, until nothing
/// crosses the link.
fn settle(a: &mut End, b: &mut End, now: &mut Instant) {
    for _ in 0..100 {
        *now += Duration::from_millis(1);
        if turn(a, b, *now, &mut |_, _| false) == 0 {
            return;
        }
    }
    panic!("the link never went quiet");
}

/// Reads what `id` received.
fn read(end: &mut End, id: TcpId) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let s = end.core.stack_mut().tcp(id).expect("socket");
    let n = s.recv_slice(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

fn accepted(end: &mut End) -> Option<(Accepted, Option<PeerId>)> {
    let i = end
        .events
        .iter()
        .position(|e| matches!(e, Event::Accepted { .. }))?;
    match end.events.remove(i) {
        Event::Accepted { conn, peer } => Some((conn, peer)),
        Event::Datagram { .. } => None,
    }
}

fn datagram(end: &mut End) -> Option<(UdpDatagram, PeerId)> {
    let i = end
        .events
        .iter()
        .position(|e| matches!(e, Event::Datagram { .. }))?;
    match end.events.remove(i) {
        Event::Datagram { datagram, peer } => Some((datagram, peer)),
        Event::Accepted { .. } => None,
    }
}

/// The client connects: WireGuard's handshake (initiation, response, the
/// SYN that waited for it), TCP's handshake, bytes there and back again,
/// the server echoing what it reads. Returns both ends, the clock, the
/// client's connection and the server's.
fn echo_connection() -> (End, End, Instant, TcpId, TcpId, PeerId) {
    let mut now = Instant::now();
    let (mut server, mut client, client_id) = pair(now);
    let id = client
        .core
        .stack_mut()
        .connect("100.64.0.1:8080".parse().unwrap())
        .unwrap();
    settle(&mut client, &mut server, &mut now);
    let (conn, peer) = accepted(&mut server).expect("the server accepted the connection");
    assert_eq!(peer, Some(client_id), "the connection is the client's");
    assert_eq!(conn.local, "100.64.0.1:8080".parse().unwrap());
    assert_eq!(
        client.core.stack_mut().tcp(id).map(|s| s.state()),
        Some(TcpState::Established)
    );
    client
        .core
        .stack_mut()
        .tcp(id)
        .unwrap()
        .send_slice(b"hello through the tunnel")
        .unwrap();
    settle(&mut client, &mut server, &mut now);
    let got = read(&mut server, conn.id);
    assert_eq!(got, b"hello through the tunnel");
    server
        .core
        .stack_mut()
        .tcp(conn.id)
        .unwrap()
        .send_slice(&got)
        .unwrap();
    settle(&mut client, &mut server, &mut now);
    assert_eq!(read(&mut client, id), b"hello through the tunnel");
    (server, client, now, id, conn.id, client_id)
}

#[test]
fn two_cores_handshake_then_carry_a_tcp_echo() {
    let (server, client, ..) = echo_connection();
    assert_eq!(
        server
            .core
            .wg()
            .peer_endpoint(server.core.wg().peer_ids().next().unwrap()),
        Some(CLIENT_UDP.parse().unwrap()),
        "the server learnt the client's endpoint from the handshake"
    );
    assert!(server.events.is_empty() && client.events.is_empty());
}

/// A datagram for a bound port reaches the application as an event, with
/// the peer it came from; the answer, sent through the core while the event
/// is handled, reaches the client's bound port.
#[test]
fn udp_datagrams_are_events_and_answers_go_out_at_once() {
    let (mut server, mut client, mut now, _, _, client_id) = echo_connection();
    client.core.stack_mut().bind_udp(5353);
    let (src, dst) = (
        "100.64.0.2:5353".parse().unwrap(),
        "100.64.0.1:53".parse().unwrap(),
    );
    assert!(client.core.stack_mut().send_udp(src, dst, b"query"));
    now += Duration::from_millis(1);
    turn(&mut client, &mut server, now, &mut |_, _| false);
    // The server has seen the datagram (`handle_datagram`); the event is
    // queued for its next poll.
    while let Some(e) = server.core.poll_event() {
        server.events.push(e);
    }
    let (d, peer) = datagram(&mut server).expect("the server got the datagram");
    assert_eq!((d.src, d.dst, peer), (src, dst, client_id));
    assert_eq!(d.payload(), b"query");
    // Answered in hand: one transmit later it is on the wire.
    assert!(server.core.stack_mut().send_udp(d.dst, d.src, b"answer"));
    server.core.recycle(d.into_buffer());
    let sent = transmit(&mut server);
    assert_eq!(sent.len(), 1, "the answer left on the same turn");
    for (_, bytes) in sent {
        client.core.handle_datagram(now, server.addr, &bytes);
    }
    let (d, _) = {
        while let Some(e) = client.core.poll_event() {
            client.events.push(e);
        }
        datagram(&mut client).expect("the client got the answer")
    };
    assert_eq!((d.src, d.dst), (dst, src));
    assert_eq!(d.payload(), b"answer");
}

/// Time moves only when the test moves it: a lost segment is resent when
/// the fake clock passes the retransmission timeout that `poll_timeout`
/// announced, by `handle_timeout` alone; and `poll_timeout` is never
/// later than WireGuard's next timer tick.
#[test]
fn timeouts_are_driven_by_handle_timeout_on_the_fake_clock() {
    let (mut server, mut client, mut now, id, conn, _) = echo_connection();
    client
        .core
        .stack_mut()
        .tcp(id)
        .unwrap()
        .send_slice(b"lost once")
        .unwrap();
    now += Duration::from_millis(1);
    let mut lost = 0;
    let client_addr = client.addr;
    turn(&mut client, &mut server, now, &mut |from, bytes| {
        // The data segment (a data message longer than a keepalive) dies.
        let data = from == client_addr && bytes.first() == Some(&4) && bytes.len() > 32;
        if data && lost == 0 {
            lost += 1;
            return true;
        }
        false
    });
    assert_eq!(lost, 1, "the segment was sent, and lost");
    assert!(read(&mut server, conn).is_empty());
    // Nothing is due now: the core asks to be woken later, no later than
    // WireGuard's next tick.
    client.core.handle_timeout(now);
    let wake = client.core.poll_timeout(now);
    assert!(wake > now, "nothing is due yet");
    assert!(wake <= now + TIMER_TICK);
    assert!(
        transmit(&mut client).is_empty(),
        "no retransmission before the timeout"
    );
    // Follow the core's own deadlines until the segment arrives.
    for _ in 0..200 {
        now = client
            .core
            .poll_timeout(now)
            .max(now + Duration::from_millis(1));
        turn(&mut client, &mut server, now, &mut |_, _| false);
        let got = read(&mut server, conn);
        if !got.is_empty() {
            assert_eq!(got, b"lost once");
            return;
        }
    }
    panic!("the lost segment was never resent");
}

/// The deadline is WireGuard's next tick when the stack has nothing to do,
/// and moves on by a tick once `handle_timeout` runs the timers.
#[test]
fn poll_timeout_follows_the_wireguard_tick() {
    let now = Instant::now();
    let (mut server, ..) = pair(now);
    assert_eq!(
        server.core.poll_timeout(now),
        now,
        "new input: poll at once"
    );
    server.core.handle_timeout(now);
    assert_eq!(server.core.poll_timeout(now), now + TIMER_TICK);
    let later = now + TIMER_TICK / 2;
    server.core.handle_timeout(later);
    assert_eq!(
        server.core.poll_timeout(later),
        now + TIMER_TICK,
        "not due yet"
    );
    let due = now + TIMER_TICK;
    server.core.handle_timeout(due);
    assert_eq!(server.core.poll_timeout(due), due + TIMER_TICK);
}

#[test]
fn a_handshake_flood_asks_for_the_kernel_filter_with_the_peers_endpoint_allowed() {
    // A session, so the server knows the client's endpoint.
    let (mut server, client, mut now, ..) = echo_connection();
    assert!(server.core.poll_filter().is_none());

    // 20,000 forged initiations (mac1 does not verify) in one second from
    // an address that is no peer's endpoint.
    let attacker: SocketAddr = "198.51.100.7:1234".parse().unwrap();
    let mut forged = vec![0u8; 148];
    forged[0] = 1;
    for _ in 0..20_000 {
        server.core.handle_datagram(now, attacker, &forged);
    }
    now += Duration::from_secs(1);
    server.core.handle_timeout(now);
    let Some(Some(filter)) = server.core.poll_filter() else {
        panic!("no filter asked for");
    };
    // The client's endpoint passes; the attacker is sampled.
    assert_eq!(filter.allow, [client.addr.ip()]);
    assert!(filter.one_in >= 4, "{filter:?}");
    // The flood is over: the filter comes off after the calm period, with
    // no datagram to wake the core (poll_timeout schedules the ticks).
    let mut changes = Vec::new();
    let end = now + CALM_FOR + Duration::from_secs(5);
    while now < end {
        now = server
            .core
            .poll_timeout(now)
            .max(now + Duration::from_millis(10));
        server.core.handle_timeout(now);
        changes.extend(server.core.poll_filter());
    }
    assert_eq!(changes, [None]);
}
