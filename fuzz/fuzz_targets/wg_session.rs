//! The WireGuard device after a completed handshake, so fuzz input gets
//! past decryption into what follows (the inner packet's checks and the
//! source-address filter).
//!
//! Input: up to eight operations, each a kind byte and a length-prefixed
//! body:
//! - 0: the body as a raw datagram from an attacker's address;
//! - 1: the body as a raw datagram from the client's address;
//! - 2: the body as the plaintext of a data packet the client encrypts;
//! - 3: the same, sent from a new address (the client roaming).
//!
//! Checked: a raw datagram never yields a packet and never moves the
//! endpoint; an encrypted one always decrypts (it is not refused as a
//! forgery or replay), a packet it yields is the start of its plaintext
//! and comes from the client's tunnel address, and the endpoint follows
//! the authenticated datagram (or, when the plaintext is not an IP packet,
//! stays: see the match below).
//!
//! The handshake costs several X25519 multiplications, slow under coverage
//! instrumentation, so one session serves all inputs: only counters move
//! between them, and the endpoint is put back before each input.
#![no_main]

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use arbitrary::Unstructured;
use boringtun::noise::{Tunn, TunnResult};
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::{input, wg};
use wingress_wg::{Device, DropReason, Incoming, PeerId};

/// Where the client roams to.
const ROAMED: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)), 40000);

struct Session {
    server: Device,
    peer: PeerId,
    client: Tunn,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn session() -> Session {
    let (mut server, peer) = wg::server();
    let mut client = wg::client();
    wg::handshake(&mut server, &mut client).expect("the fixture's handshake completes");
    Session {
        server,
        peer,
        client,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    SESSION.with_borrow_mut(|slot| {
        let s = slot.get_or_insert_with(session);
        s.server.set_peer_endpoint(s.peer, wg::CLIENT_ADDR);
        let mut sealed = vec![0u8; 2048];
        let mut out = vec![0u8; 2048];
        for _ in 0..8 {
            if u.is_empty() {
                break;
            }
            let kind: u8 = u.arbitrary().unwrap_or(0);
            let body = input::bytes(&mut u, 1500);
            match kind % 4 {
                k @ (0 | 1) => {
                    let from = if k == 0 {
                        wg::ATTACKER_ADDR
                    } else {
                        wg::CLIENT_ADDR
                    };
                    let before = s.server.peer_endpoint(s.peer);
                    let result = s
                        .server
                        .handle_datagram(Instant::now(), from, body, &mut out);
                    assert!(
                        !matches!(result, Incoming::Packet { .. } | Incoming::Handled { .. }),
                        "a datagram nobody encrypted authenticated: {result:?}"
                    );
                    assert_eq!(s.server.peer_endpoint(s.peer), before, "endpoint moved");
                }
                k => {
                    let from = if k == 2 { wg::CLIENT_ADDR } else { ROAMED };
                    let datagram = match s.client.encapsulate(body, &mut sealed) {
                        TunnResult::WriteToNetwork(d) => d,
                        _ => panic!("the client has a session"),
                    };
                    let datagram_len = datagram.len();
                    let before = s.server.peer_endpoint(s.peer);
                    let mut roams = true;
                    match s
                        .server
                        .handle_datagram(Instant::now(), from, datagram, &mut out)
                    {
                        Incoming::Packet { peer, packet } => {
                            assert_eq!(peer, s.peer);
                            assert!(body.starts_with(packet), "the packet is not the plaintext");
                            // The source as the plaintext's header gives it: the
                            // packet is cut to the header's length field, which
                            // may be shorter than the header itself.
                            let v4 = body[0] >> 4 == 4 && body[12..16] == wg::CLIENT_V4.octets();
                            let v6 = body[0] >> 4 == 6 && body[8..24] == wg::CLIENT_V6.octets();
                            assert!(v4 || v6, "a packet from outside the allowed IPs");
                        }
                        Incoming::Handled { .. } => {
                            assert!(body.is_empty(), "only a keepalive is consumed")
                        }
                        Incoming::Dropped(DropReason::SourceNotAllowed) => {}
                        // boringtun refuses a plaintext that is not an IP
                        // packet as an error, and the device then leaves
                        // the endpoint alone (the kernel module roams on
                        // any packet that decrypts): either is accepted.
                        Incoming::Dropped(DropReason::Malformed) => roams = false,
                        // Longer than any data message at the tunnel's MTU:
                        // refused before decryption, the endpoint left alone.
                        Incoming::Dropped(DropReason::Oversized)
                            if datagram_len > s.server.max_datagram() =>
                        {
                            roams = false
                        }
                        other => panic!("an authenticated data packet was refused: {other:?}"),
                    }
                    let now = s.server.peer_endpoint(s.peer);
                    assert!(
                        now == Some(from) || (!roams && now == before),
                        "endpoint {now:?} after a packet from {from}"
                    );
                }
            }
        }
    });
});
