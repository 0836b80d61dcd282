//! The STUN demultiplexer and parser (`wingress_nat::stun`), and the
//! probe that acts on answers (`StunProbe::handle_datagram`).
//!
//! Input: a flags byte, then up to four datagrams (length-prefixed). Flags
//! bit 0 puts the transaction id of the latest request the probe sent
//! into each datagram (bytes 8..20), so answers reach the probe's logic;
//! bit 1 sends them from the server's other address.
//!
//! Checked: nothing panics; every datagram the parser accepts is one the
//! demultiplexer hands to STUN (else the data plane would give it to
//! WireGuard); what the parser reads back from an encoded success response
//! is what was encoded.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::input;
use wingress_nat::stun::{self, Outcome, TransactionId};
use wingress_nat::{ProbeConfig, StunProbe};

const SERVER: &str = "192.0.2.1:3478";
const OTHER: &str = "192.0.2.2:3479";

fn check_parser(d: &[u8]) {
    let shaped = stun::looks_like_stun(d);
    let id = stun::transaction_id(d);
    let Ok(r) = stun::parse_binding_response(d) else {
        return;
    };
    assert!(shaped, "a parsed response the demultiplexer would not take");
    assert_eq!(Some(r.id), id);
    if let Outcome::Mapped(mapped) = r.outcome {
        let again =
            stun::parse_binding_response(&stun::binding_success(&r.id, mapped, r.other_address))
                .expect("an encoded success response parses");
        assert_eq!(again.outcome, Outcome::Mapped(mapped));
        assert_eq!(again.other_address, r.other_address);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let flags: u8 = u.arbitrary().unwrap_or(0);
    let now = Instant::now();
    let mut n = 0u8;
    let mut probe = StunProbe::new(
        ProbeConfig {
            servers: vec![SERVER.parse().expect("address")],
            local: SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 2), 41602),
        },
        Box::new(move || {
            n = n.wrapping_add(1);
            [n; 12]
        }),
        now,
    );
    let mut outstanding: Option<TransactionId> = None;
    for i in 0..4u32 {
        if u.is_empty() {
            break;
        }
        while let Some((_, request)) = probe.poll_transmit() {
            outstanding = stun::transaction_id(&request);
        }
        let mut d = input::bytes(&mut u, 1500).to_vec();
        if let (true, Some(id), Some(slot)) = (flags & 1 != 0, outstanding, d.get_mut(8..20)) {
            slot.copy_from_slice(&id);
        }
        check_parser(&d);
        let from: SocketAddr = if flags & 2 != 0 { OTHER } else { SERVER }
            .parse()
            .expect("address");
        let at = now + Duration::from_millis(u64::from(i) * 300);
        probe.handle_datagram(at, from, &d);
        probe.handle_timeout(at);
        while probe.poll_report().is_some() {}
    }
});
