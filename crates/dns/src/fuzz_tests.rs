//! Arbitrary and mutated input through the whole responder: it must never
//! panic, and everything it sends back must be a well-formed response
//! carrying the query's ID. Deterministic (a fixed xorshift seed), so a
//! failure reproduces.

use crate::query::tests::query;
use crate::wire::{TYPE_A, TYPE_AAAA, TYPE_SOA};
use crate::zone::tests::read;
use crate::{Action, Outside, Responder, Transport, Zone};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_queries_never_panic_and_replies_parse() {
    let mut zone = Zone::new(&["100.64.0.1".parse().unwrap()], 60, Outside::Forward);
    zone.add_host("grafana.home.arpa");
    zone.add_wildcard("home.arpa");
    zone.add_domain("home.arpa");
    let mut r = Responder::new(zone);
    let seeds = [
        query(1, "grafana.home.arpa", TYPE_A, None),
        query(2, "x.home.arpa", TYPE_AAAA, Some(1232)),
        query(3, "home.arpa", TYPE_SOA, Some(4096)),
        query(4, "example.org", TYPE_A, None),
    ];
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..200_000 {
        let mut m = seeds[round % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 if !m.is_empty() => {
                    let i = rng.below(m.len());
                    m[i] = rng.next() as u8;
                }
                1 => m.truncate(rng.below(m.len() + 1)),
                2 => m.push(rng.next() as u8),
                _ => {
                    let i = rng.below(m.len() + 1);
                    m.insert(i, rng.next() as u8);
                }
            }
        }
        let transport = if round % 2 == 0 {
            Transport::Udp { path_max: 1392 }
        } else {
            Transport::Tcp
        };
        if let Action::Reply(bytes) = r.handle(&m, transport) {
            let got = read(&bytes);
            assert_eq!(got.id, u16::from_be_bytes([m[0], m[1]]), "{m:?}");
            assert!(bytes.len() <= 1392);
        }
    }
    // Pure noise, every length up to 64.
    for len in 0..64 {
        for _ in 0..500 {
            let m: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if let Action::Reply(bytes) = r.handle(&m, Transport::Udp { path_max: 1392 }) {
                read(&bytes);
            }
        }
    }
}
