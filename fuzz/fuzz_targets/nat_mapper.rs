//! The port-mapping state machine (`wingress_nat::PortMapper`) fed what a
//! host on the LAN can send it: PCP and NAT-PMP datagrams, SSDP answers,
//! and answers to its HTTP requests (device description, SOAP), with the
//! clock moving, until it is released. The parsers have their own targets
//! (`port_mapping`, `upnp`); this one reaches what the state machine does
//! with whatever they accept.
//!
//! Input: a byte choosing the protocols tried and their order, then up to
//! 32 operations, each a kind byte and its fields:
//! - 0: a datagram from the gateway's port 5351 (length-prefixed);
//! - 1: an SSDP datagram (length-prefixed), from the gateway or from
//!   another LAN host (which the mapper must ignore);
//! - 2: the answer to the latest HTTP request: status u16 (or, with 0, a
//!   transport error) and body (length-prefixed);
//! - 3: the clock moves by u16 seconds;
//! - 4: `release`.
//!
//! Checked: nothing panics, and `Released` is reported only after
//! `release`, and only once.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_fuzz::input;
use wingress_nat::{HttpResponse, MapperConfig, MapperEvent, MapperOutput, PortMapper, Protocol};

/// Every order of one, two or three protocols, by index.
fn protocols(choice: u8) -> Vec<Protocol> {
    const ALL: [Protocol; 3] = [Protocol::Pcp, Protocol::NatPmp, Protocol::Upnp];
    let first = ALL[usize::from(choice % 3)];
    let rest: Vec<Protocol> = ALL.into_iter().filter(|p| *p != first).collect();
    match (choice / 3) % 4 {
        0 => vec![first],
        1 => vec![first, rest[0]],
        2 => vec![first, rest[1], rest[0]],
        _ => vec![first, rest[0], rest[1]],
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let choice: u8 = u.arbitrary().unwrap_or(0);
    let mut now = Instant::now();
    let mut m = PortMapper::new(
        MapperConfig {
            protocols: protocols(choice),
            gateway: Ipv4Addr::new(192, 168, 10, 1),
            client: Ipv4Addr::new(192, 168, 10, 2),
            internal_port: 41602,
            external_port: 41602,
            lease: Duration::from_secs(7200),
            check_interval: Duration::from_secs(60),
        },
        [0xAB; 12],
        now,
    );
    let mut http_id = None;
    let (mut releasing, mut released) = (false, false);
    for _ in 0..32 {
        while let Some(out) = m.poll_output() {
            if let MapperOutput::Http { id, .. } = out {
                http_id = Some(id);
            }
        }
        while let Some(event) = m.poll_event() {
            if let MapperEvent::Released { .. } = event {
                assert!(releasing, "released without release()");
                assert!(!released, "released twice");
                released = true;
            }
        }
        let _ = (m.snapshot(), m.mapping(), m.poll_timeout());
        if u.is_empty() {
            break;
        }
        let kind: u8 = u.arbitrary().unwrap_or(0);
        match kind % 5 {
            0 => m.handle_pmp(now, input::bytes(&mut u, 1100)),
            1 => {
                // From the gateway, or from another LAN host (ignored).
                let host = if u.arbitrary().unwrap_or(true) { 1 } else { 3 };
                let from = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, host), 1900);
                m.handle_ssdp(now, from, input::bytes(&mut u, 1500))
            }
            2 => {
                let status: u16 = u.arbitrary().unwrap_or(0);
                let body = String::from_utf8_lossy(input::bytes(&mut u, 16 << 10)).into_owned();
                let result = match status {
                    0 => Err(body),
                    s => Ok(HttpResponse { status: s, body }),
                };
                if let Some(id) = http_id {
                    m.handle_http(now, id, result);
                }
            }
            3 => {
                let secs: u16 = u.arbitrary().unwrap_or(0);
                now += Duration::from_secs(u64::from(secs));
                m.handle_timeout(now);
            }
            _ => {
                releasing = true;
                m.release(now);
            }
        }
    }
});
