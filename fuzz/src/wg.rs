//! WireGuard fixtures with fixed keys: the server [`Device`] as the daemon
//! runs it, a client made of a bare boringtun `Tunn` (so the harness can
//! encrypt any bytes, not only packets the device would route), the
//! handshake between them, and mac1 (which anyone who knows the server's
//! public key can compute, so an attacker's packets carry valid ones).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use blake2::digest::consts::U16;
use blake2::digest::{Digest, KeyInit, Mac};
use blake2::{Blake2s256, Blake2sMac};
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519;
use wingress_wg::{Device, Incoming, PeerId, PeerSpec, Prefix, PrivateKey};

pub const SERVER_KEY: [u8; 32] = [0x11; 32];
pub const CLIENT_KEY: [u8; 32] = [0x22; 32];
/// Where the client's datagrams come from.
pub const CLIENT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 51820);
/// Anyone else on the internet.
pub const ATTACKER_ADDR: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 66)), 4444);
/// The client's tunnel addresses: the source of its packets.
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 2);
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

pub const HANDSHAKE_INIT_LEN: usize = 148;
pub const HANDSHAKE_RESPONSE_LEN: usize = 92;

/// The server device with the client as its only peer (no endpoint yet).
pub fn server() -> (Device, PeerId) {
    let mut dev = Device::new(PrivateKey::from_bytes(SERVER_KEY));
    let peer = dev.add_peer(PeerSpec {
        public_key: PrivateKey::from_bytes(CLIENT_KEY).public_key(),
        preshared_key: None,
        allowed_ips: vec![
            Prefix::new(IpAddr::V4(CLIENT_V4), 32).expect("valid prefix"),
            Prefix::new(IpAddr::V6(CLIENT_V6), 128).expect("valid prefix"),
        ],
        endpoint: None,
        persistent_keepalive: None,
    });
    (dev, peer)
}

/// The client's side of the tunnel.
pub fn client() -> Tunn {
    let server_public = x25519::PublicKey::from(&x25519::StaticSecret::from(SERVER_KEY));
    Tunn::new(
        x25519::StaticSecret::from(CLIENT_KEY),
        server_public,
        None,
        None,
        7,
        None,
    )
}

/// A completed handshake: the client initiates, the server answers, the
/// client confirms with a keepalive. `None` if any step went otherwise
/// (which the targets treat as a broken fixture, not a finding).
pub fn handshake(server: &mut Device, client: &mut Tunn) -> Option<()> {
    let mut buf = vec![0u8; 2048];
    let init = match client.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(b) => b.to_vec(),
        _ => return None,
    };
    let mut out = vec![0u8; 2048];
    let response = match server.handle_datagram(Instant::now(), CLIENT_ADDR, &init, &mut out) {
        Incoming::Reply { bytes, .. } => bytes.to_vec(),
        _ => return None,
    };
    let keepalive = match client.decapsulate(None, &response, &mut buf) {
        TunnResult::WriteToNetwork(b) => b.to_vec(),
        _ => return None,
    };
    match server.handle_datagram(Instant::now(), CLIENT_ADDR, &keepalive, &mut out) {
        Incoming::Handled { .. } => Some(()),
        _ => None,
    }
}

/// Where mac1 sits in a handshake initiation or response, by the
/// message's type and length; `None` for other messages.
fn mac1_at(msg: &[u8]) -> Option<usize> {
    match (msg.first(), msg.len()) {
        (Some(1), HANDSHAKE_INIT_LEN) => Some(116),
        (Some(2), HANDSHAKE_RESPONSE_LEN) => Some(60),
        _ => None,
    }
}

/// The mac1 the server expects: MAC(HASH("mac1----" || server public
/// key), the message up to mac1).
fn mac1(covered: &[u8]) -> [u8; 16] {
    let server_public = x25519::PublicKey::from(&x25519::StaticSecret::from(SERVER_KEY));
    let key = Blake2s256::new()
        .chain_update(b"mac1----")
        .chain_update(server_public.as_bytes())
        .finalize();
    let mut mac = <Blake2sMac<U16> as KeyInit>::new_from_slice(&key).expect("32-byte key");
    mac.update(covered);
    mac.finalize().into_bytes().into()
}

/// Overwrites mac1 of a handshake initiation or response with the value
/// the server expects. Other messages are left alone.
pub fn fix_mac1(msg: &mut [u8]) {
    if let Some(at) = mac1_at(msg) {
        let m = mac1(&msg[..at]);
        msg[at..at + 16].copy_from_slice(&m);
    }
}

/// Whether `msg` is a handshake message with the mac1 the server expects:
/// one the rate limiters count, and act on.
pub fn has_valid_mac1(msg: &[u8]) -> bool {
    mac1_at(msg).is_some_and(|at| msg[at..at + 16] == mac1(&msg[..at]))
}
