//! `Device::handle_datagram` on what anyone on the internet can send:
//! datagrams from the client's address or an attacker's, handshake
//! messages optionally with a valid mac1 (which needs only the server's
//! public key) so they get past the device's and the peer's rate limiter.
//!
//! Input: up to 24 datagrams, each a flags byte (bit 0: from the
//! attacker, bit 1: fix mac1) and a length-prefixed datagram.
//!
//! Checked: nothing panics, and no datagram that did not authenticate moves
//! the peer's endpoint (a cookie reply or a drop leaves it where it was).
//!
//! Building a device costs four X25519 multiplications, slow under
//! coverage instrumentation, so one device serves every input that left it
//! as new: the next input gets a fresh device whenever one before sent a
//! handshake message with a valid mac1 (the rate limiters count those, and
//! only those) or got anything but a drop back.
#![no_main]

use std::cell::RefCell;
use std::time::Instant;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::{input, wg};
use wingress_wg::{Device, Incoming, PeerId};

/// Cookie replies (message type 3) answer without authenticating anyone.
const COOKIE_REPLY: u8 = 3;

thread_local! {
    static DEVICE: RefCell<Option<(Device, PeerId)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    DEVICE.with_borrow_mut(|slot| {
        let (dev, peer) = slot.get_or_insert_with(wg::server);
        let peer = *peer;
        let mut out = vec![0u8; 2048];
        let mut clean = true;
        for _ in 0..24 {
            if u.is_empty() {
                break;
            }
            let flags: u8 = u.arbitrary().unwrap_or(0);
            let mut datagram = input::bytes(&mut u, 1600).to_vec();
            if flags & 2 != 0 {
                wg::fix_mac1(&mut datagram);
            }
            let from = if flags & 1 != 0 {
                wg::ATTACKER_ADDR
            } else {
                wg::CLIENT_ADDR
            };
            let before = dev.peer_endpoint(peer);
            clean &= !wg::has_valid_mac1(&datagram);
            let result = dev.handle_datagram(Instant::now(), from, &datagram, &mut out);
            clean &= matches!(result, Incoming::Dropped(_));
            let authenticated = match result {
                Incoming::Packet { .. } | Incoming::Handled { .. } => true,
                Incoming::Reply { bytes, .. } => bytes.first() != Some(&COOKIE_REPLY),
                Incoming::CookieStored { .. } | Incoming::Dropped(_) => false,
            };
            if !authenticated {
                assert_eq!(
                    dev.peer_endpoint(peer),
                    before,
                    "an unauthenticated datagram moved the endpoint"
                );
            }
        }
        if !clean {
            *slot = None;
        }
    });
});
