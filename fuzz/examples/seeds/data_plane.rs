//! Seeds for the WireGuard and netstack targets: a handshake from the
//! fixed client key, messages shaped like each WireGuard type, packets the
//! client sends through the tunnel, and TCP exchanges as operations.

use std::net::SocketAddr;

use boringtun::noise::TunnResult;
use wingress_dns::wire::TYPE_A;
use wingress_fuzz::input::Seed;
use wingress_fuzz::ip::{self, Segment};
use wingress_fuzz::wg;

use crate::services::dns_query;
use crate::{join, Corpus};

fn initiation(from_key: [u8; 32]) -> Vec<u8> {
    let server_public =
        boringtun::x25519::PublicKey::from(&boringtun::x25519::StaticSecret::from(wg::SERVER_KEY));
    let mut t = boringtun::noise::Tunn::new(
        boringtun::x25519::StaticSecret::from(from_key),
        server_public,
        None,
        None,
        1,
        None,
    );
    let mut buf = vec![0u8; 256];
    match t.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(b) => b.to_vec(),
        _ => panic!("no initiation"),
    }
}

/// A message of WireGuard type `kind`, `len` bytes, to receiver index 0
/// (peer 0's first session): the index follows the sender's in a
/// handshake response, and comes first in a cookie reply or data packet.
fn shaped(kind: u8, len: usize) -> Vec<u8> {
    let mut m = vec![0x5a; len];
    m[..4].copy_from_slice(&[kind, 0, 0, 0]);
    let receiver = if kind == 2 { 8 } else { 4 };
    m[receiver..receiver + 4].fill(0);
    m
}

pub(crate) fn wg_datagram(c: &mut Corpus) {
    let init = initiation(wg::CLIENT_KEY);
    // The seed must reach the handshake, not just the parser.
    let (mut dev, _) = wg::server();
    let mut out = vec![0u8; 2048];
    let from = wg::CLIENT_ADDR;
    let reply = dev.handle_datagram(std::time::Instant::now(), from, &init, &mut out);
    assert!(
        matches!(reply, wingress_wg::Incoming::Reply { .. }),
        "{reply:?}"
    );
    c.seed("handshake-init", Seed::new().u8(0).bytes(&init));
    c.seed(
        "handshake-init-twice-attacker",
        Seed::new().u8(0).bytes(&init).u8(1).bytes(&init),
    );
    c.seed(
        "stranger-init",
        Seed::new().u8(1).bytes(&initiation([0x33; 32])),
    );
    c.seed(
        "response-valid-mac1",
        Seed::new()
            .u8(3)
            .bytes(&shaped(2, wg::HANDSHAKE_RESPONSE_LEN)),
    );
    c.seed("cookie-reply", Seed::new().u8(1).bytes(&shaped(3, 64)));
    c.seed("data-no-session", Seed::new().u8(1).bytes(&shaped(4, 48)));
    c.seed("junk", Seed::new().u8(1).bytes(b"\x01\x00\x00\x00hello"));
}

fn client_v4_udp(payload: &[u8]) -> Vec<u8> {
    let src = SocketAddr::new(wg::CLIENT_V4.into(), 5353);
    ip::udp(src, "100.64.0.1:53".parse().expect("addr"), payload).expect("same family")
}

fn syn(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    ip::tcp(&Segment {
        src,
        dst,
        syn: true,
        fin: false,
        rst: false,
        seq,
        ack: None,
        window: 64240,
        window_scale: Some(7),
        sack_permitted: true,
        sack: [None; 3],
        payload: &[],
    })
    .expect("same family")
}

pub(crate) fn wg_session(c: &mut Corpus) {
    c.seed("udp-v4", Seed::new().u8(2).bytes(&client_v4_udp(b"dns?")));
    let v6 = syn(
        SocketAddr::new(wg::CLIENT_V6.into(), 40000),
        "[fd00::1]:443".parse().expect("addr"),
        1,
    );
    c.seed("syn-v6", Seed::new().u8(2).bytes(&v6));
    c.seed("keepalive", Seed::new().u8(2).bytes(&[]));
    c.seed(
        "roam",
        Seed::new()
            .u8(3)
            .bytes(&client_v4_udp(b"x"))
            .u8(2)
            .bytes(&[]),
    );
    let spoofed = ip::udp(
        "100.64.0.9:1".parse().expect("addr"),
        "100.64.0.1:53".parse().expect("addr"),
        b"",
    )
    .expect("same family");
    c.seed("spoofed-source", Seed::new().u8(2).bytes(&spoofed));
    c.seed("raw-data", Seed::new().u8(0).bytes(&shaped(4, 64)));
    c.seed(
        "truncated-ip",
        Seed::new().u8(2).bytes(&[0x45, 0, 0, 40, 0]),
    );
}

/// A TCP segment op: flow, flags, seq offset, ack offset, window, SACK
/// offset, payload (see the target's documentation).
fn segment(flow: u8, flags: u8, seq: u32, ack: u32, sack: u32, payload: &[u8]) -> Seed {
    Seed::new()
        .u8(1)
        .u8(flow)
        .u8(flags)
        .u32(seq)
        .u32(ack)
        .u16(1024)
        .u32(sack)
        .bytes(payload)
}

const SYN: u8 = 1 | 32 | 64 | (2 << 6);
const FIN: u8 = 2;
const ACK: u8 = 8;
const SACK: u8 = 16;

pub(crate) fn netstack(c: &mut Corpus) {
    let request = b"GET / HTTP/1.1\r\nHost: app.example\r\n\r\n";
    let app_write = Seed::new()
        .u8(4)
        .u8(0)
        .u8(0)
        .bytes(b"HTTP/1.1 200 OK\r\n\r\n");
    let later = Seed::new().u8(3).u16(30);
    c.seed(
        "http-exchange-v4",
        join(&[
            segment(0, SYN, 1000, 0, 0, &[]),
            segment(0, ACK, 0, 0, 0, &[]),
            segment(0, ACK, 0, 0, 0, request),
            app_write.clone(),
            segment(0, ACK, 0, 0, 0, &[]),
            segment(0, ACK | FIN, 0, 0, 0, &[]),
            Seed::new().u8(4).u8(0).u8(2).bytes(&[]),
            later.clone(),
            segment(0, ACK, 0, 0, 0, &[]),
        ]),
    );
    c.seed(
        "sack-hole-v6",
        join(&[
            segment(4, SYN, 7, 0, 0, &[]),
            segment(4, ACK, 0, 0, 0, &[]),
            Seed::new().u8(4).u8(0).u8(0).bytes(&[0x42; 8000]),
            segment(4, ACK | SACK, 0, 0, 2800, &[]),
            later,
            segment(4, ACK, 0, 1400, 0, &[]),
        ]),
    );
    c.seed(
        "syn-closed-port-and-rst",
        join(&[
            segment(16, SYN, 5, 0, 0, &[]),
            segment(1, SYN, 9, 0, 0, &[]),
            segment(1, 4, 0, 0, 0, &[]),
        ]),
    );
    c.seed(
        "udp-dns",
        Seed::new()
            .u8(2)
            .u8(2)
            .bytes(&dns_query("grafana.home.arpa", TYPE_A)),
    );
    let mut ping = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 100, 64, 0, 2, 100, 64, 0, 1,
    ];
    ping.extend_from_slice(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 0]);
    c.seed("raw-icmp-echo", Seed::new().u8(0).bytes(&ping));
    let mut fragment = client_v4_udp(b"frag");
    fragment[6] = 0x20;
    c.seed("raw-fragment", Seed::new().u8(0).bytes(&fragment));
}
