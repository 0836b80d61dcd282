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

/// A stack at 100.64.0.1 listening on port 443.
fn listening(now: Instant) -> Stack {
    let mut s = Stack::new(
        StackConfig {
            addresses: vec![("100.64.0.1".parse().unwrap(), 24)],
            ..StackConfig::default()
        },
        now,
    );
    s.listen_tcp(443);
    s
}

#[test]
fn a_peer_that_acknowledges_our_fin_with_a_zero_window_gets_no_ack_storm() {
    let mut now = Instant::now();
    let mut s = listening(now);
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

/// The segments of the fuzz input `regression-egress-loop-2` (in
/// fuzz/corpus/netstack), as the harness built them: IPv4, the peer
/// 100.64.0.2:40000 to 100.64.0.1:443. They were made against a stack
/// whose initial sequence number was `TRACE_ISN`; [`replayed`] moves the
/// acknowledgement and SACK numbers onto this stack's.
const TRACE_ISN: u32 = 0x920d_ad8e;
/// SYN, window 0, MSS 1380, window scale 3, SACK permitted.
const SYN: &str = "45000034000040004006724164400002644000019c4001bb200003e80000000080020000e6000000020405640303030402000000";
/// ACK of our SYN, window 0.
const ACK: &str =
    "45000028000040004006724d64400002644000019c4001bb200003e9920dad8f50100000e5cf0000";
/// A pure ACK for far beyond what we sent (unacceptable: smoltcp answers
/// it), window 0x3230, one SACK block.
const BAD_ACK: &str = "45000034000040004006724164400002644000019c4001bb200003e9c20dad98801032304cdb0000050aa12dddb0a12de1980000";
/// Acknowledges our byte and FIN with a zero window, and carries 256 bytes
/// 187 bytes beyond what we have received, with a SACK block.
const DATA_ACK: &str = "45000134000040004006714164400002644000019c4001bb200004a4920dad9180100000cd040000050a920dad91920db17900000008000000000000000000000000a00800003020323030204f0000010000030000010018000000000800003030320100e1e80300000000000000040000000000000100080023000000000000000000000000000000040000000000000100080000000000000400001300485454502f312e3120323030204f4b2030200f00000000000400020000fddf00010401003030204f00000100000001000800230000000000000000000000000000000400000000000001000800000017171717171717171717171717171717171717171717171717171717000000040000130048540d260d0a01000800000054502f312e3120323030204f4b0d000000000000040000";

/// `hex` with its acknowledgement number, and the SACK block that follows
/// a 20-byte header's two-byte option head, moved from `TRACE_ISN` onto
/// `isn`.
fn replayed(hex: &str, isn: u32) -> Vec<u8> {
    let mut pkt: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let shift = |b: &mut [u8]| {
        let v = u32::from_be_bytes(b[..4].try_into().unwrap());
        b[..4].copy_from_slice(&v.wrapping_sub(TRACE_ISN).wrapping_add(isn).to_be_bytes());
    };
    shift(&mut pkt[28..32]);
    if pkt.len() > 48 && pkt[40] == 5 {
        shift(&mut pkt[42..46]);
        shift(&mut pkt[46..50]);
    }
    pkt
}

/// The second way in (also found by the fuzz target, replayed here as it
/// found it): an unacceptable ACK that opens the window, then the segment
/// that acknowledges our byte and FIN with a zero window carries
/// out-of-order data. The stack judges a runaway by what it sends, not by
/// the state it is in, so this one is reset too, and the ACKs past the
/// first are taken out of the queue before anything encrypts them.
#[test]
fn a_zero_window_acknowledgement_carrying_data_gets_no_ack_storm() {
    let mut now = Instant::now();
    let mut s = listening(now);
    deliver(&mut s, now, &replayed(SYN, 0));
    let ours = seq_of(&poll(&mut s, now)[0]);
    deliver(&mut s, now, &replayed(ACK, ours));
    poll(&mut s, now);
    let acc = s.accept().expect("accepted");
    // Keep-alives while the window stays shut, then one byte (a probe).
    for wait in [128_320, 82_400] {
        now += Duration::from_millis(wait);
        poll(&mut s, now);
    }
    s.tcp(acc.id).unwrap().send_slice(b"x").unwrap();
    poll(&mut s, now);
    deliver(&mut s, now, &replayed(BAD_ACK, ours));
    poll(&mut s, now);
    s.release(acc.id);
    now += Duration::from_millis(2_230);
    poll(&mut s, now);
    deliver(&mut s, now, &replayed(DATA_ACK, ours));
    poll(&mut s, now);
    let mut sent = Vec::new();
    for _ in 0..4 {
        now += Duration::from_millis(25_730);
        sent.push(poll(&mut s, now).len());
    }
    assert!(
        sent.iter().all(|&n| n <= 2),
        "packets per poll (the runaway's first ACK and its RST at most): {sent:?} \
         (budget hits {})",
        s.stats().egress_budget_hits
    );
    assert_eq!(s.connections(), 0, "the runaway connection is gone");
    assert_eq!(s.stats().runaway_resets, 1);
}
