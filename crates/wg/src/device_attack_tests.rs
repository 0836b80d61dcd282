//! What a sender who knows only the server's public key can do to the
//! device: two Devices (or a boringtun `Tunn` as the client) handshake over
//! a fake link at a fixed `now`, then forged packets with a valid mac1
//! (computed from the server's public key alone) arrive from elsewhere,
//! aimed at the peer's receiver indices.

use blake2::digest::consts::U16;
use blake2::digest::{FixedOutput, KeyInit, Update};
use blake2::{Blake2s256, Blake2sMac, Digest};
use boringtun::noise::Tunn;

use super::*;

const ATTACKER: &str = "203.0.113.66:4444";

/// Delivers at a fixed instant, so the gate's one-second windows and
/// budgets do not depend on how fast the test runs.
fn deliver_at(dev: &mut Device, now: Instant, from: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut out = vec![0u8; 2048];
    match dev.handle_datagram(now, from.parse().unwrap(), bytes, &mut out) {
        Incoming::Packet { packet, .. } => ("packet".into(), packet.to_vec()),
        Incoming::Reply { bytes, .. } => ("reply".into(), bytes.to_vec()),
        Incoming::Dropped(r) => (r.as_str().into(), vec![]),
        other => (format!("{other:?}"), vec![]),
    }
}

fn drops(dev: &Device, name: &str) -> u64 {
    dev.drops()
        .iter()
        .find(|(r, _)| r.as_str() == name)
        .map_or(0, |(_, n)| n)
}

/// mac1 over everything before it, keyed with HASH("mac1----" || server).
fn set_mac1(msg: &mut [u8], server: &PublicKey) {
    let mut h = Blake2s256::new();
    Digest::update(&mut h, b"mac1----");
    Digest::update(&mut h, server.as_bytes());
    let key: [u8; 32] = h.finalize().into();
    let n = msg.len();
    let mut mac = <Blake2sMac<U16> as KeyInit>::new_from_slice(&key).unwrap();
    Update::update(&mut mac, &msg[..n - 32]);
    msg[n - 32..n - 16].copy_from_slice(&mac.finalize_fixed());
}

/// A handshake response aimed at `receiver`, valid mac1, junk crypto.
fn forged_response(server: &PublicKey, receiver: u32) -> Vec<u8> {
    let mut m = vec![0x11u8; 92];
    m[..4].copy_from_slice(&[2, 0, 0, 0]);
    m[4..8].copy_from_slice(&0xabcd_u32.to_le_bytes());
    m[8..12].copy_from_slice(&receiver.to_le_bytes());
    m[76..].fill(0);
    set_mac1(&mut m, server);
    m
}

/// A cookie reply aimed at `receiver` with a junk nonce and ciphertext.
fn forged_cookie_reply(receiver: u32) -> Vec<u8> {
    let mut m = vec![0x22u8; 64];
    m[..4].copy_from_slice(&[3, 0, 0, 0]);
    m[4..8].copy_from_slice(&receiver.to_le_bytes());
    m
}

/// A boringtun client of `server` (with its own key), and its first
/// handshake initiation.
fn tunn_client(key: &PrivateKey, server: &PublicKey) -> (Tunn, Vec<u8>) {
    let mut t = Tunn::new(key.secret(), server.to_dalek(), None, None, 7, None);
    let mut out = vec![0u8; 256];
    match t.format_handshake_initiation(&mut out, true) {
        TunnResult::WriteToNetwork(b) => {
            let init = b.to_vec();
            (t, init)
        }
        other => panic!("{other:?}"),
    }
}

/// A new initiation from `t` (with mac2 once it holds a cookie).
fn again(t: &mut Tunn) -> Vec<u8> {
    let mut out = vec![0u8; 256];
    match t.format_handshake_initiation(&mut out, true) {
        TunnResult::WriteToNetwork(b) => b.to_vec(),
        other => panic!("{other:?}"),
    }
}

/// Hands `reply` (a cookie reply) to the boringtun client `t`.
fn take_cookie(t: &mut Tunn, reply: &[u8]) {
    assert_eq!(reply.first(), Some(&3), "a cookie reply");
    let mut out = vec![0u8; 256];
    assert!(
        matches!(t.decapsulate(None, reply, &mut out), TunnResult::Done),
        "the client accepts the device's cookie"
    );
}

/// A server device with one peer (100.64.0.1) whose key is returned, for
/// a boringtun client to use.
fn server_with_client() -> (PrivateKey, Device, PeerId) {
    let kc = PrivateKey::generate();
    let mut b = Device::new(PrivateKey::generate());
    let pb = b.add_peer(PeerSpec {
        public_key: kc.public_key(),
        preshared_key: None,
        allowed_ips: vec![prefix([100, 64, 0, 1], 32)],
        endpoint: None,
        persistent_keepalive: None,
    });
    (kc, b, pb)
}

/// Many initiations with a valid mac1 from an unknown key at one
/// address: the device is under load afterwards.
fn load(b: &mut Device, now: Instant) {
    let (_, init) = tunn_client(&PrivateKey::generate(), &b.public_key());
    for _ in 0..150 {
        deliver_at(b, now, ATTACKER, &init);
    }
}

#[test]
fn forged_responses_and_cookie_replies_do_not_move_the_endpoint() {
    let now = Instant::now();
    let (mut a, pa, mut b, pb) = pair();
    let first = handshake(&mut a, pa, &mut b);
    assert_eq!(deliver_at(&mut b, now, A_ADDR, &first).0, "packet");
    let here: SocketAddr = A_ADDR.parse().unwrap();
    assert_eq!(b.peer_endpoint(pb), Some(here));
    let before = b.peer_stats(pb).unwrap().rx_datagrams;

    let server = b.public_key();
    let mut answers = Vec::new();
    for round in 0..2u32 {
        for n in 0..256u32 {
            let idx = pb.0 << 8 | n;
            let r = deliver_at(
                &mut b,
                now,
                ATTACKER,
                &forged_response(&server, idx ^ round),
            );
            answers.push(r.0);
            deliver_at(&mut b, now, ATTACKER, &forged_cookie_reply(idx));
        }
    }
    assert_eq!(b.peer_endpoint(pb), Some(here), "answers: {answers:?}");
    assert_eq!(b.peer_stats(pb).unwrap().rx_datagrams, before);
    assert!(
        drops(&b, "handshake_rejected") > 0,
        "{:?}",
        b.drops().iter().collect::<Vec<_>>()
    );
    // The real client's traffic still flows, to and from where it is.
    let mut out = vec![0u8; 2048];
    let data = match a.encapsulate(&ipv4([100, 64, 0, 1], [100, 64, 0, 2]), &mut out) {
        Outgoing::Send(t) => t.bytes.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(deliver_at(&mut b, now, A_ADDR, &data).0, "packet");
    match b.encapsulate(&ipv4([100, 64, 0, 2], [100, 64, 0, 1]), &mut out) {
        Outgoing::Send(t) => assert_eq!(t.to, here),
        other => panic!("{other:?}"),
    }
}

/// Under load, the cookie the device gives a real client is the one the
/// path through the peer's `Tunn` accepts: one rate limiter, one secret.
/// Forged responses at the peer's indices come first, so a limiter of
/// the peer's own would be under load too.
#[test]
fn under_load_a_cookie_from_the_device_completes_the_handshake() {
    let now = Instant::now();
    let (kc, mut b, pb) = server_with_client();
    let server = b.public_key();
    load(&mut b, now);
    for n in 0..20u32 {
        deliver_at(
            &mut b,
            now,
            ATTACKER,
            &forged_response(&server, pb.0 << 8 | n),
        );
    }

    let (mut client, init) = tunn_client(&kc, &server);
    let (kind, cookie) = deliver_at(&mut b, now, A_ADDR, &init);
    assert_eq!(kind, "reply");
    take_cookie(&mut client, &cookie);
    let (kind, response) = deliver_at(&mut b, now, A_ADDR, &again(&mut client));
    assert_eq!(
        (kind.as_str(), response.first()),
        ("reply", Some(&2)),
        "a handshake response, not another cookie"
    );
    let mut out = vec![0u8; 256];
    let keepalive = match client.decapsulate(None, &response, &mut out) {
        TunnResult::WriteToNetwork(k) => k.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        deliver_at(&mut b, now, A_ADDR, &keepalive).0,
        "Handled { peer: PeerId(0) }"
    );
    assert_eq!(b.peer_endpoint(pb), Some(A_ADDR.parse().unwrap()));
}

/// Under load, a source that holds a valid cookie gets only its budget of
/// handshakes; another source's handshake still completes.
#[test]
fn a_source_over_its_budget_is_refused_while_another_completes() {
    let now = Instant::now();
    let (kc, mut b, pb) = server_with_client();
    let server = b.public_key();
    load(&mut b, now);
    // The attacker owns its address, so it can collect a cookie.
    let flooder = "198.51.100.9:5000";
    let (mut attacker, init) = tunn_client(&PrivateKey::generate(), &server);
    let (kind, cookie) = deliver_at(&mut b, now, flooder, &init);
    assert_eq!(kind, "reply");
    take_cookie(&mut attacker, &cookie);
    let mut reached_x25519 = 0;
    for _ in 0..40 {
        if deliver_at(&mut b, now, flooder, &again(&mut attacker)).0 == "unknown_key" {
            reached_x25519 += 1;
        }
    }
    assert!(reached_x25519 <= 5, "{reached_x25519} of 40 were looked up");
    assert!(drops(&b, "source_rate_limited") >= 35);

    let (mut client, init) = tunn_client(&kc, &server);
    let (_, cookie) = deliver_at(&mut b, now, A_ADDR, &init);
    take_cookie(&mut client, &cookie);
    let (kind, response) = deliver_at(&mut b, now, A_ADDR, &again(&mut client));
    assert_eq!((kind.as_str(), response.first()), ("reply", Some(&2)));
    assert_eq!(b.peer_endpoint(pb), Some(A_ADDR.parse().unwrap()));
}

/// A datagram longer than any WireGuard message at the MTU is refused
/// before any work, even when aimed at a real session.
#[test]
fn oversized_datagrams_are_refused() {
    let now = Instant::now();
    let (mut a, pa, mut b, pb) = pair();
    handshake(&mut a, pa, &mut b);
    let mut junk = vec![0u8; 1420 + 32 + 1];
    junk[0] = 4;
    junk[4..8].copy_from_slice(&(pb.0 << 8).to_le_bytes());
    assert_eq!(deliver_at(&mut b, now, ATTACKER, &junk).0, "oversized");
    let mut big = vec![0u8; 65_000];
    big[0] = 4;
    assert_eq!(deliver_at(&mut b, now, ATTACKER, &big).0, "oversized");
    // A full-size packet at the MTU still passes.
    let mut out = vec![0u8; 2048];
    let mut packet = ipv4([100, 64, 0, 1], [100, 64, 0, 2]);
    packet.resize(1420, 0);
    packet[2..4].copy_from_slice(&1420u16.to_be_bytes());
    let data = match a.encapsulate(&packet, &mut out) {
        Outgoing::Send(t) => t.bytes.to_vec(),
        other => panic!("{other:?}"),
    };
    assert_eq!(data.len(), 1420 + 32);
    assert_eq!(deliver_at(&mut b, now, A_ADDR, &data).0, "packet");
}
