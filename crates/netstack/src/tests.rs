//! Two stacks joined back to back in one thread, with a fake clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, TcpPacket};

use super::*;
use crate::packet::shrink_window;

/// The peer every packet in these tests comes from.
const PEER: PeerKey = PeerKey(1);

fn stack(addr: &str, now: Instant) -> Stack {
    Stack::new(
        StackConfig {
            addresses: vec![(addr.parse().unwrap(), 24)],
            tcp_rx_buffer: 256 << 10,
            tcp_tx_buffer: 256 << 10,
            ..StackConfig::default()
        },
        now,
    )
}

/// Moves every packet `from` wants to send into `to`; returns UDP
/// datagrams and how many packets moved.
fn shuttle(from: &mut Stack, to: &mut Stack, now: Instant) -> (Vec<UdpDatagram>, usize) {
    let mut udp = Vec::new();
    let mut n = 0;
    while let Some(pkt) = from.poll_transmit() {
        n += 1;
        let mut buf = to.take_buffer();
        buf.extend_from_slice(&pkt);
        from.recycle(pkt);
        if let Ingress::Udp(d) = to.handle_packet(now, PEER, buf) {
            udp.push(d);
        }
    }
    (udp, n)
}

fn run(a: &mut Stack, b: &mut Stack, now: &mut Instant, rounds: usize) {
    for _ in 0..rounds {
        *now += Duration::from_millis(1);
        a.poll(*now);
        b.poll(*now);
        let (_, x) = shuttle(a, b, *now);
        let (_, y) = shuttle(b, a, *now);
        if x == 0 && y == 0 {
            a.poll(*now);
            b.poll(*now);
            if a.poll_transmit().is_none() && b.poll_transmit().is_none() {
                return;
            }
        }
    }
}

/// A client stack connected to a server stack listening on 5201: the
/// clock, both stacks, the client's connection and the server's accepted
/// one.
fn connected() -> (Instant, Stack, Stack, TcpId, Accepted) {
    let mut now = Instant::now();
    let mut client = stack("100.64.0.1", now);
    let mut server = stack("100.64.0.2", now);
    server.listen_tcp(5201);
    let id = client.connect("100.64.0.2:5201".parse().unwrap()).unwrap();
    run(&mut client, &mut server, &mut now, 10);
    let acc = server.accept().expect("accepted");
    (now, client, server, id, acc)
}

#[test]
fn tcp_connect_accept_and_bulk_transfer() {
    let (mut now, mut client, mut server, id, acc) = connected();
    assert_eq!(acc.local, "100.64.0.2:5201".parse::<SocketAddr>().unwrap());
    assert_eq!(
        acc.remote.ip(),
        "100.64.0.1".parse::<std::net::IpAddr>().unwrap()
    );

    // 3 MB in both directions, more than either buffer holds.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    for _ in 0..20_000 {
        if sent < data.len() {
            sent += client.tcp(id).unwrap().send_slice(&data[sent..]).unwrap();
        }
        let s = server.tcp(acc.id).unwrap();
        while s.can_recv() {
            s.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        if got.len() == data.len() {
            break;
        }
        run(&mut client, &mut server, &mut now, 1);
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data);

    // Graceful close from the client; both sockets are freed.
    client.release(id);
    run(&mut client, &mut server, &mut now, 10);
    assert!(!server.tcp(acc.id).unwrap().may_recv());
    server.release(acc.id);
    run(&mut client, &mut server, &mut now, 10);
    assert_eq!(server.connections(), 0);
    assert_eq!(client.connections(), 0);
}

#[test]
fn an_aborted_connection_resets_the_remote_and_is_freed() {
    let (mut now, mut client, mut server, id, acc) = connected();
    assert_eq!(server.connections(), 1);

    server.abort(acc.id);
    // Given back: the application cannot reach it any more, and a second
    // abort changes nothing.
    assert!(server.tcp(acc.id).is_none());
    server.abort(acc.id);
    run(&mut client, &mut server, &mut now, 10);
    assert_eq!(client.tcp(id).unwrap().state(), TcpState::Closed);
    assert_eq!(server.connections(), 0);
}

#[test]
fn syn_to_closed_port_gets_rst_and_is_counted() {
    let mut now = Instant::now();
    let mut client = stack("100.64.0.1", now);
    let mut server = stack("100.64.0.2", now);
    let id = client.connect("100.64.0.2:81".parse().unwrap()).unwrap();
    client.poll(now);
    let syn = client.poll_transmit().unwrap();
    let mut buf = server.take_buffer();
    buf.extend_from_slice(&syn);
    assert!(matches!(
        server.handle_packet(now, PEER, buf),
        Ingress::Stack
    ));
    server.poll(now);
    let rst = server.poll_transmit().expect("RST");
    let ip = Ipv4Packet::new_checked(&rst[..]).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(tcp.rst());
    assert_eq!(server.stats().get(NetDrop::TcpClosedPort), 1);
    let mut buf = client.take_buffer();
    buf.extend_from_slice(&rst);
    client.handle_packet(now, PEER, buf);
    now += Duration::from_millis(1);
    client.poll(now);
    assert_eq!(client.tcp(id).unwrap().state(), TcpState::Closed);
    assert_eq!(server.connections(), 0);
}

#[test]
fn ping_is_answered() {
    let now = Instant::now();
    let mut server = stack("100.64.0.2", now);
    let repr = Icmpv4Repr::EchoRequest {
        ident: 1,
        seq_no: 2,
        data: b"ping",
    };
    let ip = Ipv4Repr {
        src_addr: "100.64.0.1".parse().unwrap(),
        dst_addr: "100.64.0.2".parse().unwrap(),
        next_header: IpProtocol::Icmp,
        payload_len: repr.buffer_len(),
        hop_limit: 64,
    };
    let mut buf = server.take_buffer();
    buf.resize(20 + repr.buffer_len(), 0);
    let caps = smoltcp::phy::ChecksumCapabilities::default();
    let mut pkt = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut pkt, &caps);
    repr.emit(&mut Icmpv4Packet::new_unchecked(pkt.payload_mut()), &caps);
    server.handle_packet(now, PEER, buf);
    server.poll(now);
    let reply = server.poll_transmit().expect("echo reply");
    let ip = Ipv4Packet::new_checked(&reply[..]).unwrap();
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    let r = Icmpv4Repr::parse(&icmp, &caps).unwrap();
    assert_eq!(
        r,
        Icmpv4Repr::EchoReply {
            ident: 1,
            seq_no: 2,
            data: b"ping"
        }
    );
}

#[test]
fn udp_bound_ports_bypass_the_stack_and_others_drop() {
    let mut now = Instant::now();
    let mut a = stack("100.64.0.1", now);
    let mut b = stack("100.64.0.2", now);
    b.bind_udp(53);
    let src: SocketAddr = "100.64.0.1:4000".parse().unwrap();
    assert!(a.send_udp(src, "100.64.0.2:53".parse().unwrap(), b"query"));
    assert!(a.send_udp(src, "100.64.0.2:54".parse().unwrap(), b"closed"));
    assert!(a.send_udp(src, "100.64.0.9:53".parse().unwrap(), b"elsewhere"));
    now += Duration::from_millis(1);
    let (udp, n) = shuttle(&mut a, &mut b, now);
    assert_eq!(n, 3);
    assert_eq!(udp.len(), 1);
    assert_eq!(udp[0].payload(), b"query");
    assert_eq!(udp[0].src, src);
    assert_eq!(b.stats().get(NetDrop::UdpClosedPort), 1);
    assert_eq!(b.stats().get(NetDrop::NotLocal), 1);
}

#[test]
fn garbage_is_dropped_and_counted() {
    let now = Instant::now();
    let mut s = stack("100.64.0.2", now);
    let mut buf = s.take_buffer();
    buf.extend_from_slice(&[0x45, 0, 0, 0xff, 1, 2, 3]);
    assert!(matches!(
        s.handle_packet(now, PEER, buf),
        Ingress::Dropped(NetDrop::Malformed)
    ));
    assert_eq!(s.stats().get(NetDrop::Malformed), 1);
}

#[test]
fn stale_listener_is_swept() {
    let mut now = Instant::now();
    let mut client = stack("100.64.0.1", now);
    let mut server = stack("100.64.0.2", now);
    server.listen_tcp(80);
    let _ = client.connect("100.64.0.2:80".parse().unwrap()).unwrap();
    client.poll(now);
    let syn = client.poll_transmit().unwrap();
    let mut buf = server.take_buffer();
    buf.extend_from_slice(&syn);
    server.handle_packet(now, PEER, buf);
    server.poll(now);
    assert_eq!(server.connections(), 1);
    // The client vanishes: the half-open connection times out eventually,
    // but never leaks.
    for _ in 0..400 {
        now += Duration::from_secs(1);
        server.poll(now);
        while let Some(p) = server.poll_transmit() {
            server.recycle(p);
        }
    }
    assert_eq!(server.connections(), 0);
}

/// Sends `len` bytes from a client stack to a server stack, 1 ms of
/// simulated time per round, dropping the first transmission of every data
/// segment for which `lose(offset in the stream, time since the start)` is
/// true. Returns the
/// simulated time the transfer took, the number of segments lost and the
/// client's stack (for its counters).
fn lossy_transfer(len: usize, lose: impl Fn(usize, Duration) -> bool) -> (Duration, usize, Stack) {
    let (mut now, mut client, mut server, id, acc) = connected();

    let data: Vec<u8> = (0..len as u32).map(|i| (i % 253) as u8).collect();
    let (mut sent, mut got) = (0, Vec::new());
    let mut seen = std::collections::HashSet::new();
    let mut first_seq = None;
    let mut lost = 0;
    let start = now;
    for _ in 0..10_000 {
        if sent < data.len() {
            sent += client.tcp(id).unwrap().send_slice(&data[sent..]).unwrap();
        }
        now += Duration::from_millis(1);
        client.poll(now);
        while let Some(pkt) = client.poll_transmit() {
            let ip = Ipv4Packet::new_checked(&pkt[..]).unwrap();
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            let seq = tcp.seq_number().0 as u32;
            if !tcp.payload().is_empty() && seen.insert(seq) {
                let base = *first_seq.get_or_insert(seq);
                if lose(seq.wrapping_sub(base) as usize, now - start) {
                    lost += 1;
                    client.recycle(pkt);
                    continue;
                }
            }
            let mut buf = server.take_buffer();
            buf.extend_from_slice(&pkt);
            client.recycle(pkt);
            server.handle_packet(now, PEER, buf);
        }
        server.poll(now);
        let s = server.tcp(acc.id).unwrap();
        while s.can_recv() {
            s.recv(|b| {
                got.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        server.poll(now);
        shuttle(&mut server, &mut client, now);
        if got.len() == data.len() {
            break;
        }
    }
    assert!(got == data, "{} of {} bytes arrived", got.len(), data.len());
    (now - start, lost, client)
}

/// Three holes in one window (a smoltcp receiver keeps at most four
/// out-of-order ranges) are repaired from the receiver's SACK blocks one
/// round trip each, not after smoltcp's 1 s retransmission timer.
/// Simulated time, not wall-clock time.
#[test]
fn burst_loss_is_repaired_without_waiting_for_the_retransmission_timer() {
    let mss = 1380;
    let (took, lost, client) =
        lossy_transfer(2_000_000, |off, _| [300, 302, 304].contains(&(off / mss)));
    assert_eq!(lost, 3);
    assert!(client.stats().hole_repairs > 0);
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

/// Losing the last segments of a transfer leaves no later data to cause
/// duplicate ACKs: the stall repair retransmits after 200 ms instead of
/// smoltcp's timer (1 s).
#[test]
fn tail_loss_is_repaired_before_the_retransmission_timer() {
    let len = 100_000;
    // The last three segments of the first burst vanish.
    let (took, lost, client) = lossy_transfer(len, |off, t| {
        off + 3 * 1380 >= len && t < Duration::from_millis(100)
    });
    assert!(lost >= 1, "the tail was lost");
    assert!(client.stats().stall_repairs > 0);
    assert!(took < Duration::from_millis(900), "took {took:?}");
}

#[test]
fn shrink_window_keeps_the_checksum_valid() {
    let now = Instant::now();
    let mut client = stack("100.64.0.1", now);
    client.connect("100.64.0.2:80".parse().unwrap()).unwrap();
    client.poll(now);
    let mut syn = client.poll_transmit().unwrap();
    let before = {
        let ip = Ipv4Packet::new_checked(&syn[..]).unwrap();
        TcpPacket::new_checked(ip.payload()).unwrap().window_len()
    };
    assert!(shrink_window(&mut syn));
    let ip = Ipv4Packet::new_checked(&syn[..]).unwrap();
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(tcp.window_len(), before - 1);
    assert!(tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
}

#[test]
fn aborted_connections_reset_only_the_chosen_remotes() {
    let mut now = Instant::now();
    let mut a = stack("100.64.0.1", now);
    let mut c = stack("100.64.0.3", now);
    let mut server = Stack::new(
        StackConfig {
            addresses: vec![("100.64.0.2".parse().unwrap(), 24)],
            ..StackConfig::default()
        },
        now,
    );
    server.listen_tcp(22);
    let ida = a.connect("100.64.0.2:22".parse().unwrap()).unwrap();
    let idc = c.connect("100.64.0.2:22".parse().unwrap()).unwrap();
    run(&mut a, &mut server, &mut now, 10);
    run(&mut c, &mut server, &mut now, 10);
    let mut accepted = [server.accept().unwrap(), server.accept().unwrap()];
    accepted.sort_by_key(|x| x.remote);
    let gone: std::net::IpAddr = "100.64.0.1".parse().unwrap();
    assert_eq!(server.abort_connections(|r| r.ip() == gone), 1);
    run(&mut a, &mut server, &mut now, 10);
    run(&mut c, &mut server, &mut now, 10);
    assert_eq!(
        server.tcp(accepted[0].id).unwrap().state(),
        TcpState::Closed
    );
    assert_eq!(
        a.tcp(ida).unwrap().state(),
        TcpState::Closed,
        "RST reached a"
    );
    assert_eq!(
        server.tcp(accepted[1].id).unwrap().state(),
        TcpState::Established
    );
    assert_eq!(c.tcp(idc).unwrap().state(), TcpState::Established);
    // Aborting again finds nothing left to reset.
    assert_eq!(server.abort_connections(|r| r.ip() == gone), 0);
}
