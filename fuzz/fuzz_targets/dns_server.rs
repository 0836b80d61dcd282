//! The in-tunnel DNS server (`wingress_dns::Responder::handle`): a query
//! from a peer in, the answer, a forward or nothing out; and for forwards,
//! the upstream reply matched and relayed back (`reply_matches`,
//! `relay_reply`, `servfail`).
//!
//! Input: a transport byte (UDP with one of three path sizes, or TCP), the
//! query (length-prefixed), and an upstream reply (the rest).
//!
//! Checked: nothing panics; an answer carries the query's ID and fits the
//! transport; a relayed reply carries the client's ID and fits too.
#![no_main]

use std::cell::RefCell;

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use wingress_dns::{
    relay_reply, reply_matches, servfail, with_id, Action, Outside, Responder, Transport, Zone,
};
use wingress_fuzz::input;

const PATHS: [usize; 3] = [512, 1232, 1392];
/// The ID the forwarder gives the upstream query.
const UPSTREAM_ID: u16 = 0x5a5a;

fn responder(outside: Outside) -> Responder {
    let addresses = [
        "100.64.0.1".parse().expect("ip"),
        "fd00::1".parse().expect("ip"),
    ];
    let mut zone = Zone::new(&addresses, 60, outside);
    zone.add_host("grafana.home.arpa");
    zone.add_host("Photos.Home.Arpa.");
    zone.add_wildcard("apps.home.arpa");
    zone.add_domain("home.arpa");
    zone.add_domain("example");
    Responder::new(zone)
}

thread_local! {
    // Counters are all the state a responder keeps between messages.
    static SERVERS: RefCell<[Responder; 2]> =
        RefCell::new([responder(Outside::Forward), responder(Outside::Refuse)]);
}

fn fits(reply: &[u8], transport: Transport) -> bool {
    match transport {
        Transport::Tcp => reply.len() <= usize::from(u16::MAX),
        Transport::Udp { path_max } => reply.len() <= path_max,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let how: u8 = u.arbitrary().unwrap_or(0);
    let query = input::bytes(&mut u, 4096);
    let upstream = u.take_rest();
    let transport = match how % 4 {
        3 => Transport::Tcp,
        n => Transport::Udp {
            path_max: PATHS[usize::from(n)],
        },
    };
    let action = SERVERS.with_borrow_mut(|s| s[usize::from(how >> 7)].handle(query, transport));
    match action {
        Action::Drop => {}
        Action::Reply(reply) => {
            assert_eq!(reply.get(..2), query.get(..2), "the reply's id");
            assert!(
                fits(&reply, transport),
                "{} bytes on {transport:?}",
                reply.len()
            );
        }
        Action::Forward(f) => {
            assert_eq!(Some(&f.id.to_be_bytes()[..]), query.get(..2));
            let sent = with_id(query, UPSTREAM_ID);
            let fail = servfail(&sent, f.max).expect("a forwarded query parses");
            assert!(fail.len() <= f.max || fail.len() <= 12 + f.question_len);
            if reply_matches(&sent, upstream) {
                let relayed = relay_reply(upstream, f.id, f.question_len, f.max);
                assert_eq!(relayed[..2], f.id.to_be_bytes());
                assert!(relayed.len() <= f.max.max(12 + f.question_len));
            }
        }
    }
});
