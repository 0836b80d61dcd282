//! The netstack as the tunnel feeds it: packets through the classifier and
//! `Stack::handle_packet`, then `poll`, `accept` and `poll_transmit`, with
//! the clock and the application (write, read, close, abort) driven by the
//! input.
//!
//! Raw packets test the classifier; TCP segments are built from fields
//! with sequence and acknowledgement numbers relative to what each side
//! sent, so the fuzzer steers connections through the handshake, data,
//! SACK, window and close states (the stack's initial sequence numbers
//! are random, which no fuzzer could guess).
//!
//! Input: up to 32 operations, each a kind byte then its fields:
//! - 0: raw packet (length-prefixed);
//! - 1: TCP segment: flow u8, flags u8, seq offset u32, ack offset u32,
//!   window u16, SACK offset u32, payload (length-prefixed);
//! - 2: UDP datagram: flow u8, payload (length-prefixed);
//! - 3: the clock moves by u16 × 10 ms;
//! - 4: the application, on an accepted connection: connection u8, action
//!   u8 (write the bytes, read, release, or abort by remote port), bytes
//!   (length-prefixed).
//!
//! The IPv4 and IPv6 remotes are two peers, under small per-peer limits.
//!
//! Checked: nothing panics, and every packet the stack sends is a
//! well-formed IPv4 or IPv6 packet whose length fields match.
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::input;
use wingress_fuzz::ip::{self, Segment};
use wingress_netstack::{Ingress, PeerKey, Stack, StackConfig, TcpId, TcpLimits};

const LOCAL_V4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 1);
const LOCAL_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// Listened TCP ports, a closed one, and the bound UDP port.
const PORTS: [u16; 3] = [443, 80, 9];
const UDP_PORT: u16 = 53;

/// Flow `n`: one of four remote endpoints (two IPv4, two IPv6) to one of
/// the local ports.
fn flow(n: u8) -> (SocketAddr, SocketAddr) {
    let remote_port = 40000 + u16::from(n % 2);
    let v6 = n & 4 != 0;
    let port = PORTS[usize::from(n / 8) % PORTS.len()];
    if v6 {
        (
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
                remote_port,
            ),
            SocketAddr::new(IpAddr::V6(LOCAL_V6), port),
        )
    } else {
        (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(100, 64, 0, 2)), remote_port),
            SocketAddr::new(IpAddr::V4(LOCAL_V4), port),
        )
    }
}

/// Both ends' next sequence numbers on one flow.
#[derive(Default, Clone, Copy)]
struct Numbers {
    /// The remote's next sequence number (its ISN comes from the input).
    ours: Option<u32>,
    /// What the stack sent up to: the acknowledgement the remote owes.
    theirs: u32,
}

struct Harness {
    stack: Stack,
    now: Instant,
    flows: HashMap<(SocketAddr, u16), Numbers>,
    conns: Vec<TcpId>,
}

impl Harness {
    fn new() -> Harness {
        let now = Instant::now();
        let mut stack = Stack::new(
            StackConfig {
                addresses: vec![(IpAddr::V4(LOCAL_V4), 24), (IpAddr::V6(LOCAL_V6), 64)],
                mtu: 1420,
                tcp_rx_buffer: 16 << 10,
                tcp_tx_buffer: 16 << 10,
                max_half_open: 4,
                // Small per-peer limits, so inputs reach every refusal.
                limits: TcpLimits {
                    peer_half_open: 2,
                    peer_connections: 3,
                    peer_buffer: 24 << 10,
                    total_buffer: 40 << 10,
                    peer_rings: 64 << 10,
                    total_rings: 96 << 10,
                    handshake_timeout: Duration::from_secs(1),
                    send_stall_timeout: Duration::from_secs(3),
                },
            },
            now,
        );
        stack.listen_tcp(PORTS[0]);
        stack.listen_tcp(PORTS[1]);
        stack.bind_udp(UDP_PORT);
        Harness {
            stack,
            now,
            flows: HashMap::new(),
            conns: Vec::new(),
        }
    }

    fn deliver(&mut self, packet: &[u8]) {
        let mut buf = self.stack.take_buffer();
        buf.extend_from_slice(packet);
        // The IPv4 and the IPv6 remotes are two peers, as WireGuard's
        // allowed IPs would make them.
        let peer = PeerKey(u32::from(packet.first().is_some_and(|b| b >> 4 == 6)));
        if let Ingress::Udp(d) = self.stack.handle_packet(self.now, peer, buf) {
            assert!(d.payload().len() <= packet.len());
            self.stack.recycle(d.into_buffer());
        }
    }

    /// Runs the stack and drains what it sends, noting sequence numbers.
    fn settle(&mut self) {
        for _ in 0..4 {
            self.stack.poll(self.now);
            while let Some(a) = self.stack.accept() {
                self.conns.push(a.id);
            }
            let mut any = false;
            while let Some(packet) = self.stack.poll_transmit() {
                any = true;
                match ip::sent(&packet) {
                    Err(why) => panic!("the stack sent a malformed packet ({why}): {packet:02x?}"),
                    Ok(Some(s)) => {
                        let f = self.flows.entry((s.peer, s.local_port)).or_default();
                        let end = s.seq.wrapping_add(s.len);
                        if end.wrapping_sub(f.theirs) as i32 > 0 || f.theirs == 0 {
                            f.theirs = end;
                        }
                    }
                    Ok(None) => {}
                }
                self.stack.recycle(packet);
            }
            if !any {
                break;
            }
        }
    }

    fn segment(&mut self, u: &mut Unstructured<'_>) {
        let which: u8 = u.arbitrary().unwrap_or(0);
        let flags: u8 = u.arbitrary().unwrap_or(0);
        let seq_off: u32 = u.arbitrary().unwrap_or(0);
        let ack_off: u32 = u.arbitrary().unwrap_or(0);
        let window: u16 = u.arbitrary().unwrap_or(0);
        let sack_off: u32 = u.arbitrary().unwrap_or(0);
        let payload = input::bytes(u, 4096);
        let (remote, local) = flow(which);
        let f = self.flows.entry((remote, local.port())).or_default();
        let syn = flags & 1 != 0;
        // A SYN's offset is the remote's ISN; later segments are relative
        // to the remote's next sequence number.
        let seq = match (syn, f.ours) {
            (true, _) | (false, None) => seq_off,
            (false, Some(next)) => next.wrapping_add(seq_off),
        };
        let ack = (flags & 8 != 0).then(|| f.theirs.wrapping_add(ack_off));
        let sack = if flags & 16 != 0 {
            let left = f.theirs.wrapping_add(sack_off);
            [Some((left, left.wrapping_add(1000))), None, None]
        } else {
            [None; 3]
        };
        let s = Segment {
            src: remote,
            dst: local,
            syn,
            fin: flags & 2 != 0,
            rst: flags & 4 != 0,
            seq,
            ack,
            window,
            window_scale: (flags & 32 != 0).then_some(flags >> 6),
            sack_permitted: flags & 64 != 0,
            sack,
            payload,
        };
        let taken = payload.len() as u32 + u32::from(s.syn) + u32::from(s.fin && !s.syn);
        if seq_off == 0 || syn {
            f.ours = Some(seq.wrapping_add(taken));
        }
        if let Some(packet) = ip::tcp(&s) {
            self.deliver(&packet);
        }
    }

    fn app(&mut self, u: &mut Unstructured<'_>) {
        let which: u8 = u.arbitrary().unwrap_or(0);
        let action: u8 = u.arbitrary().unwrap_or(0);
        let bytes = input::bytes(u, 32 << 10);
        if self.conns.is_empty() {
            return;
        }
        let id = self.conns[usize::from(which) % self.conns.len()];
        match action % 4 {
            0 => {
                if let Some(s) = self.stack.tcp(id) {
                    let _ = s.send_slice(bytes);
                }
            }
            1 => {
                if let Some(s) = self.stack.tcp(id) {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.recv_slice(&mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
            2 => self.stack.release(id),
            _ => {
                let port = u16::from(action >> 2);
                self.stack.abort_connections(|a| a.port() % 64 == port % 64);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut h = Harness::new();
    for _ in 0..32 {
        if u.is_empty() {
            break;
        }
        let kind: u8 = u.arbitrary().unwrap_or(0);
        match kind % 5 {
            0 => {
                let raw = input::bytes(&mut u, 2048);
                h.deliver(raw);
            }
            1 => h.segment(&mut u),
            2 => {
                let which: u8 = u.arbitrary().unwrap_or(0);
                let payload = input::bytes(&mut u, 1400);
                let (remote, local) = flow(which);
                let port = if which & 2 != 0 {
                    UDP_PORT
                } else {
                    local.port()
                };
                if let Some(p) = ip::udp(remote, SocketAddr::new(local.ip(), port), payload) {
                    h.deliver(&p);
                }
            }
            3 => {
                let ticks: u16 = u.arbitrary().unwrap_or(0);
                h.now += Duration::from_millis(u64::from(ticks) * 10);
            }
            _ => h.app(&mut u),
        }
        h.settle();
        let _ = h.stack.poll_delay(h.now);
    }
});
