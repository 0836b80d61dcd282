//! A runaway socket: smoltcp 0.14 keeps a zero-window-probe timer armed
//! after the peer acknowledges everything (our data and our FIN) while
//! advertising a zero window. In FIN-WAIT-2 the probe has nothing to carry,
//! so `dispatch` sends a bare ACK without rewinding the timer, which stays
//! expired: every egress pass sends the same ACK again. A peer reaches it
//! with four segments and a wait (found by the `netstack` fuzz target).

use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use smoltcp::wire::{Ipv4Packet, TcpControl, TcpPacket};

use super::*;
use crate::packet::tcp_segment;

const PEER: PeerKey = PeerKey(1);

fn addrs() -> (SocketAddrV4, SocketAddrV4) {
    (
        "100.64.0.2:40000".parse().unwrap(),
        "100.64.0.1:443".parse().unwrap(),
    )
}

/// A segment from the peer advertising a zero window (the stack does not
/// check receive checksums: WireGuard has authenticated every byte).
fn from_peer(control: TcpControl, seq: u32, ack: Option<u32>) -> Vec<u8> {
    let (peer, us) = addrs();
    let mut pkt = tcp_segment(peer, us, control, seq, ack, &[]);
    let start = usize::from(Ipv4Packet::new_checked(&pkt[..]).unwrap().header_len());
    TcpPacket::new_unchecked(&mut pkt[start..]).set_window_len(0);
    pkt
}

fn deliver(s: &mut Stack, now: Instant, pkt: &[u8]) {
    let mut buf = s.take_buffer();
    buf.extend_from_slice(pkt);
    s.handle_packet(now, PEER, buf);
}

/// Polls and drains: the packets sent.
fn poll(s: &mut Stack, now: Instant) -> Vec<Vec<u8>> {
    s.poll(now);
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn seq_of(pkt: &[u8]) -> u32 {
    let ip = Ipv4Packet::new_checked(pkt).unwrap();
    TcpPacket::new_checked(ip.payload()).unwrap().seq_number().0 as u32
}

#[test]
fn a_peer_that_acknowledges_our_fin_with_a_zero_window_gets_no_ack_storm() {
    let mut now = Instant::now();
    let mut s = Stack::new(
        StackConfig {
            addresses: vec![("100.64.0.1".parse().unwrap(), 24)],
            ..StackConfig::default()
        },
        now,
    );
    s.listen_tcp(443);
    let isn = 1000u32;
    deliver(&mut s, now, &from_peer(TcpControl::Syn, isn, None));
    let syn_ack = poll(&mut s, now);
    let ours = seq_of(&syn_ack[0]);
    deliver(
        &mut s,
        now,
        &from_peer(TcpControl::None, isn + 1, Some(ours + 1)),
    );
    poll(&mut s, now);
    let acc = s.accept().expect("accepted");
    assert_eq!(
        acc.remote,
        SocketAddr::V4(addrs().0),
        "the peer's connection"
    );
    // One byte into a zero window (a probe carries it), then our FIN.
    s.tcp(acc.id).unwrap().send_slice(b"x").unwrap();
    poll(&mut s, now);
    s.release(acc.id);
    now += Duration::from_millis(10);
    poll(&mut s, now);
    // The peer acknowledges the byte and the FIN, window still zero.
    deliver(
        &mut s,
        now,
        &from_peer(TcpControl::None, isn + 1, Some(ours + 3)),
    );
    poll(&mut s, now);
    // Past the probe timer: smoltcp alone would send ACKs without end
    // inside one poll. Each poll sends at most the budget, and the stack
    // then ends the runaway connection: after a few polls, silence.
    let mut sent = Vec::new();
    for _ in 0..4 {
        now += Duration::from_secs(5);
        sent.push(poll(&mut s, now).len());
    }
    assert!(
        sent.iter().all(|&n| n <= EGRESS_BUDGET + 1),
        "packets per poll: {sent:?}"
    );
    assert_eq!(sent[3], 0, "still sending: {sent:?}");
    assert_eq!(s.connections(), 0, "the runaway connection is gone");
    assert_eq!(s.stats().egress_budget_hits, 1);
    assert_eq!(s.stats().runaway_resets, 1);
}
