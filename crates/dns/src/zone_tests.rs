use std::net::IpAddr;

use super::*;
use crate::query::tests::query;
use crate::wire::{HEADER_LEN, TYPE_NS, TYPE_OPT};

/// What tests read back from a response.
#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) id: u16,
    pub(crate) rcode: u8,
    pub(crate) aa: bool,
    pub(crate) tc: bool,
    pub(crate) ra: bool,
    pub(crate) answers: Vec<(u16, Vec<u8>)>,
    pub(crate) authority: Vec<u16>,
    pub(crate) additional: Vec<u16>,
}

fn skip_name(m: &[u8], mut at: usize) -> usize {
    loop {
        let len = m[at];
        if len == 0 {
            return at + 1;
        }
        if len >= 0xc0 {
            return at + 2;
        }
        at += 1 + usize::from(len);
    }
}

pub(crate) fn read(m: &[u8]) -> Read {
    let u16at = |at: usize| u16::from_be_bytes([m[at], m[at + 1]]);
    let counts = [u16at(6), u16at(8), u16at(10)];
    let mut at = HEADER_LEN;
    if u16at(4) == 1 {
        at = skip_name(m, at) + 4;
    }
    let mut sections: [Vec<(u16, Vec<u8>)>; 3] = Default::default();
    for (i, n) in counts.iter().enumerate() {
        for _ in 0..*n {
            at = skip_name(m, at);
            let rtype = u16at(at);
            let len = usize::from(u16at(at + 8));
            sections[i].push((rtype, m[at + 10..at + 10 + len].to_vec()));
            at += 10 + len;
        }
    }
    assert_eq!(at, m.len(), "no trailing bytes");
    let [answers, authority, additional] = sections;
    Read {
        id: u16at(0),
        rcode: m[3] & 0x0f,
        aa: m[2] & 0x04 != 0,
        tc: m[2] & 0x02 != 0,
        ra: m[3] & 0x80 != 0,
        answers,
        authority: authority.into_iter().map(|r| r.0).collect(),
        additional: additional.into_iter().map(|r| r.0).collect(),
    }
}

fn zone(outside: Outside, addrs: &[&str]) -> Zone {
    let addrs: Vec<IpAddr> = addrs.iter().map(|a| a.parse().unwrap()).collect();
    let mut z = Zone::new(&addrs, 60, outside);
    z.add_host("grafana.home.arpa");
    z.add_host("a.b.home.arpa");
    z.add_wildcard("apps.lan");
    z.add_domain("home.arpa");
    z.add_domain("apps.lan");
    z
}

const UDP: Transport = Transport::Udp { path_max: 1392 };

fn ask(r: &mut Responder, name: &str, qtype: u16) -> Read {
    match r.handle(&query(42, name, qtype, None), UDP) {
        Action::Reply(bytes) => read(&bytes),
        other => panic!("{name}: expected a reply, got {other:?}"),
    }
}

#[test]
fn route_hosts_get_the_tunnel_address() {
    let mut r = Responder::new(zone(Outside::Refuse, &["100.64.0.1"]));
    let a = ask(&mut r, "grafana.home.arpa", TYPE_A);
    assert_eq!(
        (a.id, a.rcode, a.aa, a.tc, a.ra),
        (42, 0, true, false, false)
    );
    assert_eq!(a.answers, [(TYPE_A, vec![100, 64, 0, 1])]);
    // Any case; wildcards at any depth.
    let a = ask(&mut r, "GRAFANA.home.Arpa", TYPE_A);
    assert_eq!(a.answers.len(), 1);
    let a = ask(&mut r, "x.y.apps.lan", TYPE_A);
    assert_eq!(a.answers, [(TYPE_A, vec![100, 64, 0, 1])]);
    // No IPv6 tunnel address: AAAA is NODATA with the SOA.
    let aaaa = ask(&mut r, "grafana.home.arpa", TYPE_AAAA);
    assert_eq!((aaaa.rcode, aaaa.answers.len()), (0, 0));
    assert_eq!(aaaa.authority, [TYPE_SOA]);
    // Other types too.
    let mx = ask(&mut r, "grafana.home.arpa", 15);
    assert_eq!((mx.rcode, mx.answers.len(), mx.authority.len()), (0, 0, 1));
}

#[test]
fn ipv6_tunnels_answer_aaaa_and_any_gets_both() {
    let mut r = Responder::new(zone(Outside::Refuse, &["100.64.0.1", "fd00::1"]));
    let aaaa = ask(&mut r, "grafana.home.arpa", TYPE_AAAA);
    let v6: Ipv6Addr = "fd00::1".parse().unwrap();
    assert_eq!(aaaa.answers, [(TYPE_AAAA, v6.octets().to_vec())]);
    let any = ask(&mut r, "grafana.home.arpa", TYPE_ANY);
    assert_eq!(any.answers.len(), 2);
    let mut r = Responder::new(zone(Outside::Refuse, &["fd00::1"]));
    let a = ask(&mut r, "grafana.home.arpa", TYPE_A);
    assert_eq!(
        (a.rcode, a.answers.len()),
        (0, 0),
        "no IPv4 address: NODATA"
    );
}

#[test]
fn other_names_in_the_domains_do_not_exist() {
    let mut r = Responder::new(zone(Outside::Forward, &["100.64.0.1"]));
    let nx = ask(&mut r, "nope.home.arpa", TYPE_A);
    assert_eq!((nx.rcode, nx.aa, nx.ra), (3, true, true));
    assert_eq!(nx.authority, [TYPE_SOA]);
    // The apex exists (SOA), and so does the empty non-terminal above a.b.
    let apex = ask(&mut r, "home.arpa", TYPE_SOA);
    assert_eq!((apex.rcode, apex.answers.len()), (0, 1));
    assert_eq!(apex.answers[0].0, TYPE_SOA);
    let ns = ask(&mut r, "home.arpa", TYPE_NS);
    assert_eq!((ns.rcode, ns.answers.len(), ns.authority.len()), (0, 0, 1));
    let ent = ask(&mut r, "b.home.arpa", TYPE_A);
    assert_eq!((ent.rcode, ent.answers.len()), (0, 0));
    let below = ask(&mut r, "x.a.b.home.arpa", TYPE_A);
    assert_eq!(below.rcode, 3);
    // The wildcard's own base is the apex, not a host.
    let base = ask(&mut r, "apps.lan", TYPE_A);
    assert_eq!((base.rcode, base.answers.len()), (0, 0));
    // Zone transfers and other classes are refused.
    assert_eq!(ask(&mut r, "home.arpa", TYPE_AXFR).rcode, 5);
    let s = r.stats();
    assert_eq!((s.nxdomain, s.answered, s.refused), (2, 4, 1));
}

#[test]
fn names_outside_are_forwarded_or_refused() {
    let mut r = Responder::new(zone(Outside::Forward, &["100.64.0.1"]));
    let q = query(7, "example.org", TYPE_A, Some(4096));
    let question_len = q.len() - HEADER_LEN - 11;
    assert_eq!(
        r.handle(&q, UDP),
        Action::Forward(Forward {
            id: 7,
            question_len,
            max: 1392
        })
    );
    assert_eq!(
        r.handle(&query(7, "example.org", TYPE_A, None), Transport::Tcp),
        Action::Forward(Forward {
            id: 7,
            question_len,
            max: 65535
        })
    );
    // Without EDNS a UDP client takes 512 bytes.
    match r.handle(&query(7, "example.org", TYPE_A, None), UDP) {
        Action::Forward(f) => assert_eq!(f.max, 512),
        other => panic!("{other:?}"),
    }
    // "arpa", above the domains, is not ours either.
    assert!(matches!(
        r.handle(&query(7, "arpa", TYPE_A, None), UDP),
        Action::Forward(_)
    ));
    assert_eq!(r.stats().forwarded, 4);

    let mut r = Responder::new(zone(Outside::Refuse, &["100.64.0.1"]));
    let refused = ask(&mut r, "example.org", TYPE_A);
    assert_eq!((refused.rcode, refused.aa, refused.ra), (5, false, false));
    assert_eq!(r.stats().refused, 1);
}

#[test]
fn edns_queries_get_an_opt_and_new_versions_badvers() {
    let mut r = Responder::new(zone(Outside::Refuse, &["100.64.0.1"]));
    let Action::Reply(bytes) = r.handle(&query(1, "grafana.home.arpa", TYPE_A, Some(1232)), UDP)
    else {
        panic!()
    };
    assert_eq!(read(&bytes).additional, [TYPE_OPT]);
    let mut q = query(1, "grafana.home.arpa", TYPE_A, Some(1232));
    let n = q.len();
    q[n - 5] = 1; // EDNS version 1
    let Action::Reply(bytes) = r.handle(&q, UDP) else {
        panic!()
    };
    let got = read(&bytes);
    assert_eq!((got.rcode, got.answers.len()), (0, 0));
    assert_eq!(bytes[bytes.len() - 6], 1, "extended rcode 16 = BADVERS");
}

#[test]
fn malformed_input_is_answered_formerr_or_dropped_and_counted() {
    let mut r = Responder::new(zone(Outside::Forward, &["100.64.0.1"]));
    assert_eq!(r.handle(b"short", UDP), Action::Drop);
    let mut q = query(5, "grafana.home.arpa", TYPE_A, None);
    q.truncate(20);
    let Action::Reply(bytes) = r.handle(&q, UDP) else {
        panic!()
    };
    let got = read(&bytes);
    assert_eq!((got.id, got.rcode), (5, 1));
    let s = r.stats();
    assert_eq!((s.dropped, s.malformed), (1, 1));
}

#[test]
fn a_reload_swaps_the_zone() {
    let mut r = Responder::new(zone(Outside::Refuse, &["100.64.0.1"]));
    assert_eq!(ask(&mut r, "new.home.arpa", TYPE_A).rcode, 3);
    let mut z = zone(Outside::Refuse, &["100.64.0.9"]);
    z.add_host("new.home.arpa");
    r.set_zone(z);
    let a = ask(&mut r, "new.home.arpa", TYPE_A);
    assert_eq!(a.answers, [(TYPE_A, vec![100, 64, 0, 9])]);
    assert_eq!(r.stats().nxdomain, 1, "counters survive");
}
