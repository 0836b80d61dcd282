use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use super::*;

const A_ADDR: &str = "10.0.0.1:51820";
const B_ADDR: &str = "10.0.0.2:51820";

/// A minimal IPv4 header (no payload) from `src` to `dst`.
fn ipv4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut p = vec![0u8; 20];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&20u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p
}

fn prefix(a: [u8; 4], len: u8) -> Prefix {
    Prefix::new(IpAddr::V4(Ipv4Addr::from(a)), len).unwrap()
}

/// A client `a` (100.64.0.1) that knows `b`'s endpoint, and a server `b`
/// (100.64.0.2) that learns `a`'s endpoint from the handshake.
fn pair() -> (Device, PeerId, Device, PeerId) {
    let ka = PrivateKey::generate();
    let kb = PrivateKey::generate();
    let mut a = Device::new(ka.clone());
    let mut b = Device::new(kb.clone());
    let pa = a.add_peer(PeerSpec {
        public_key: kb.public_key(),
        preshared_key: None,
        allowed_ips: vec![prefix([100, 64, 0, 0], 24)],
        endpoint: Some(B_ADDR.parse().unwrap()),
        persistent_keepalive: None,
    });
    let pb = b.add_peer(PeerSpec {
        public_key: ka.public_key(),
        preshared_key: None,
        allowed_ips: vec![prefix([100, 64, 0, 1], 32)],
        endpoint: None,
        persistent_keepalive: None,
    });
    (a, pa, b, pb)
}

/// Delivers `bytes` from `from` to `dev` and returns what came out, copied.
fn deliver(dev: &mut Device, from: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut out = vec![0u8; 2048];
    match dev.handle_datagram(Instant::now(), from.parse().unwrap(), bytes, &mut out) {
        Incoming::Packet { packet, .. } => ("packet".into(), packet.to_vec()),
        Incoming::Reply { bytes, .. } => ("reply".into(), bytes.to_vec()),
        Incoming::Handled { .. } => ("handled".into(), vec![]),
        Incoming::CookieStored { .. } => ("cookie_stored".into(), vec![]),
        Incoming::Dropped(r) => (r.as_str().into(), vec![]),
    }
}

/// Runs a full handshake started by a packet from `a`; returns the first
/// data datagram `a` had queued.
fn handshake(a: &mut Device, pa: PeerId, b: &mut Device) -> Vec<u8> {
    let mut out = vec![0u8; 2048];
    let init = match a.encapsulate(&ipv4([100, 64, 0, 1], [100, 64, 0, 2]), &mut out) {
        Outgoing::Send(t) => t.bytes.to_vec(),
        other => panic!("expected a handshake initiation, got {other:?}"),
    };
    let (kind, response) = deliver(b, A_ADDR, &init);
    assert_eq!(kind, "reply");
    let (kind, keepalive) = deliver(a, B_ADDR, &response);
    assert_eq!(kind, "reply");
    assert_eq!(deliver(b, A_ADDR, &keepalive).0, "handled");
    let queued = a
        .poll_queued(pa, &mut out)
        .expect("queued packet")
        .bytes
        .to_vec();
    assert!(a.poll_queued(pa, &mut out).is_none());
    queued
}

#[test]
fn handshake_then_data_both_ways() {
    let (mut a, pa, mut b, pb) = pair();
    let first = handshake(&mut a, pa, &mut b);
    let (kind, packet) = deliver(&mut b, A_ADDR, &first);
    assert_eq!(kind, "packet");
    assert_eq!(packet, ipv4([100, 64, 0, 1], [100, 64, 0, 2]));
    assert_eq!(b.peer_endpoint(pb), Some(A_ADDR.parse().unwrap()));

    let mut out = vec![0u8; 2048];
    let reply = match b.encapsulate(&ipv4([100, 64, 0, 2], [100, 64, 0, 1]), &mut out) {
        Outgoing::Send(t) => {
            assert_eq!(t.to, A_ADDR.parse::<SocketAddr>().unwrap());
            t.bytes.to_vec()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(deliver(&mut a, B_ADDR, &reply).0, "packet");
    // Initiation, confirming keepalive, data.
    assert_eq!(b.peer_stats(pb).unwrap().rx_datagrams, 3);
    assert!(b.peer_stats(pb).unwrap().since_handshake.is_some());
}

#[test]
fn spoofed_source_is_dropped_and_counted() {
    let (mut a, pa, mut b, _) = pair();
    handshake(&mut a, pa, &mut b);
    let mut out = vec![0u8; 2048];
    // 100.64.0.9 is inside a's route to b, but not inside b's allowed IPs for a.
    let spoof = match a.encapsulate(&ipv4([100, 64, 0, 9], [100, 64, 0, 2]), &mut out) {
        Outgoing::Send(t) => t.bytes.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(deliver(&mut b, A_ADDR, &spoof).0, "source_not_allowed");
    assert_eq!(b.drops().get(DropReason::SourceNotAllowed), 1);
}

#[test]
fn unknown_key_and_garbage_are_dropped_and_counted() {
    let (_, _, mut b, _) = pair();
    // A stranger that knows b's public key but is not in b's table.
    let mut stranger = Device::new(PrivateKey::generate());
    let sp = stranger.add_peer(PeerSpec {
        public_key: b.public_key(),
        preshared_key: None,
        allowed_ips: vec![prefix([0, 0, 0, 0], 0)],
        endpoint: Some(B_ADDR.parse().unwrap()),
        persistent_keepalive: None,
    });
    let mut out = vec![0u8; 2048];
    let init = stranger.initiate(sp, &mut out).unwrap().bytes.to_vec();
    assert_eq!(deliver(&mut b, "10.0.0.9:1", &init).0, "unknown_key");
    assert_eq!(deliver(&mut b, "10.0.0.9:1", b"hello").0, "malformed");
    // A data message for a session index nobody has.
    let mut data = vec![0u8; 64];
    data[0] = 4;
    data[4..8].copy_from_slice(&(77u32 << 8).to_le_bytes());
    assert_eq!(deliver(&mut b, "10.0.0.9:1", &data).0, "unknown_index");
    assert_eq!(b.drops().total(), 3);
}

#[test]
fn replayed_data_is_dropped() {
    let (mut a, pa, mut b, _) = pair();
    let first = handshake(&mut a, pa, &mut b);
    assert_eq!(deliver(&mut b, A_ADDR, &first).0, "packet");
    assert_eq!(deliver(&mut b, A_ADDR, &first).0, "replay");
}

#[test]
fn roaming_updates_the_endpoint() {
    let (mut a, pa, mut b, pb) = pair();
    handshake(&mut a, pa, &mut b);
    let mut out = vec![0u8; 2048];
    let p = match a.encapsulate(&ipv4([100, 64, 0, 1], [100, 64, 0, 2]), &mut out) {
        Outgoing::Send(t) => t.bytes.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(deliver(&mut b, "10.0.0.7:4000", &p).0, "packet");
    assert_eq!(b.peer_endpoint(pb), Some("10.0.0.7:4000".parse().unwrap()));
}

/// WireGuard's roaming rule: the endpoint follows the source of the latest
/// *authenticated* packet (a phone moving from Wi-Fi to 5G, a NAT that
/// rebinds), never a replay or a forgery from somewhere else; replies go
/// to the new address at once.
#[test]
fn roaming_follows_only_authenticated_packets() {
    let (mut a, pa, mut b, pb) = pair();
    let first = handshake(&mut a, pa, &mut b);
    assert_eq!(deliver(&mut b, A_ADDR, &first).0, "packet");
    let mut out = vec![0u8; 2048];
    let mut data =
        |a: &mut Device| match a.encapsulate(&ipv4([100, 64, 0, 1], [100, 64, 0, 2]), &mut out) {
            Outgoing::Send(t) => t.bytes.to_vec(),
            other => panic!("{other:?}"),
        };
    // The NAT rebinds: the next packet comes from another port.
    let moved = data(&mut a);
    assert_eq!(deliver(&mut b, "198.51.100.2:30001", &moved).0, "packet");
    let here: SocketAddr = "198.51.100.2:30001".parse().unwrap();
    assert_eq!(b.peer_endpoint(pb), Some(here));
    let mut reply_buf = vec![0u8; 2048];
    match b.encapsulate(&ipv4([100, 64, 0, 2], [100, 64, 0, 1]), &mut reply_buf) {
        Outgoing::Send(t) => assert_eq!(t.to, here, "replies follow the peer"),
        other => panic!("{other:?}"),
    }
    // Someone replays that packet from elsewhere: dropped, endpoint kept.
    assert_eq!(deliver(&mut b, "203.0.113.66:9", &moved).0, "replay");
    // A forged data packet (right index, wrong tag) from elsewhere: same.
    let mut forged = data(&mut a);
    let n = forged.len();
    forged[n - 1] ^= 0xFF;
    assert_eq!(
        deliver(&mut b, "203.0.113.66:9", &forged).0,
        "decrypt_failed"
    );
    assert_eq!(b.peer_endpoint(pb), Some(here));
    // Packets from the old address still authenticate and move it back
    // (the peer roamed back): the latest authenticated source wins.
    let back = data(&mut a);
    assert_eq!(deliver(&mut b, A_ADDR, &back).0, "packet");
    assert_eq!(b.peer_endpoint(pb), Some(A_ADDR.parse().unwrap()));
}

#[test]
fn no_route_and_no_endpoint() {
    let (_, _, mut b, _) = pair();
    let mut out = vec![0u8; 2048];
    assert!(matches!(
        b.encapsulate(&ipv4([100, 64, 0, 2], [8, 8, 8, 8]), &mut out),
        Outgoing::Dropped(DropReason::NoRoute)
    ));
    assert!(matches!(
        b.encapsulate(&ipv4([100, 64, 0, 2], [100, 64, 0, 1]), &mut out),
        Outgoing::Dropped(DropReason::NoEndpoint)
    ));
}

#[test]
fn new_allowed_ips_apply_without_a_new_handshake() {
    let (mut a, pa, mut b, pb) = pair();
    let first = handshake(&mut a, pa, &mut b);
    assert_eq!(deliver(&mut b, A_ADDR, &first).0, "packet");
    b.set_allowed_ips(pb, vec![prefix([100, 64, 0, 9], 32)]);
    assert_eq!(b.peer_for_addr("100.64.0.1".parse().unwrap()), None);
    assert_eq!(b.peer_for_addr("100.64.0.9".parse().unwrap()), Some(pb));
    let mut out = vec![0u8; 2048];
    let mut send = |a: &mut Device, src| match a.encapsulate(&ipv4(src, [100, 64, 0, 2]), &mut out)
    {
        Outgoing::Send(t) => t.bytes.to_vec(),
        other => panic!("the session is still up: {other:?}"),
    };
    let old = send(&mut a, [100, 64, 0, 1]);
    assert_eq!(deliver(&mut b, A_ADDR, &old).0, "source_not_allowed");
    let new = send(&mut a, [100, 64, 0, 9]);
    assert_eq!(deliver(&mut b, A_ADDR, &new).0, "packet");

    let status = b.peer_status(pb).unwrap();
    assert_eq!(status.allowed_ips, ["100.64.0.9/32"]);
    assert_eq!(status.endpoint, Some(A_ADDR.parse().unwrap()));
    // Two 20-byte packets got through; the refused one is not counted.
    assert_eq!(status.rx_bytes, 40);
    assert!(status.latest_handshake_secs.is_some());
    assert_eq!(status.public_key, a.public_key().to_base64());
}

#[test]
fn prefixes_display_in_canonical_form() {
    assert_eq!(prefix([100, 64, 0, 7], 24).to_string(), "100.64.0.0/24");
    let v6 = Prefix::new("fd00::1".parse().unwrap(), 64).unwrap();
    assert_eq!(v6.to_string(), "fd00::/64");
}

#[path = "device_attack_tests.rs"]
mod attack;
