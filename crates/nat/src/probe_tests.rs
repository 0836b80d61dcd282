use std::net::Ipv4Addr;

use super::*;

const S1: &str = "192.0.2.1:3478";
const S2: &str = "192.0.2.2:3478";
const ALT: &str = "192.0.2.2:3479";
const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 168, 10, 2), 41602);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn counter() -> Box<dyn FnMut() -> TransactionId> {
    let mut n = 0u8;
    Box::new(move || {
        n = n.wrapping_add(1);
        [n; 12]
    })
}

fn probe(servers: &[&str], now: Instant) -> StunProbe {
    StunProbe::new(
        ProbeConfig {
            servers: servers.iter().map(|s| addr(s)).collect(),
            local: LOCAL,
        },
        counter(),
        now,
    )
}

fn sent(p: &mut StunProbe) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| p.poll_transmit()).collect()
}

fn id(bytes: &[u8]) -> TransactionId {
    stun::transaction_id(bytes).unwrap()
}

fn is_change(bytes: &[u8]) -> bool {
    bytes.len() > 28 && bytes[20..22] == [0x00, 0x03]
}

#[test]
fn two_servers_same_port_and_an_open_filter_mean_a_static_forward() {
    let t0 = Instant::now();
    let mut p = probe(&[S1, S2], t0);
    let first = sent(&mut p);
    assert_eq!(
        first.iter().map(|(to, _)| *to).collect::<Vec<_>>(),
        [addr(S1), addr(S2)]
    );
    let public = addr("203.0.113.2:41602");
    let (to, req) = &first[0];
    let answer = stun::binding_success(&id(req), public, Some(addr(ALT)));
    assert!(p.handle_datagram(t0, *to, &answer));
    // The first answer naming an alternate address starts the filtering test.
    let change = sent(&mut p);
    assert!(matches!(&change[..], [(to, b)] if *to == addr(S1) && is_change(b)));
    let (to2, req2) = &first[1];
    assert!(p.handle_datagram(t0, *to2, &stun::binding_success(&id(req2), public, None)));
    assert!(p.poll_report().is_none(), "waits for the filtering test");
    // The server answers from its other address and port: it got in.
    let answer = stun::binding_success(&id(&change[0].1), public, None);
    assert!(p.handle_datagram(t0, addr(ALT), &answer));
    let r = p.poll_report().unwrap();
    assert_eq!(r.public, Some(public));
    assert_eq!(r.mapping, MappingBehaviour::EndpointIndependent);
    assert_eq!(r.filtering, Filtering::Open);
    assert_eq!(r.port_preserved(LOCAL), Some(true));
    assert!(r.static_forward(LOCAL));
    // Next round after the refresh interval.
    assert_eq!(p.poll_timeout(), Some(t0 + REFRESH));
}

#[test]
fn a_filtering_nat_that_preserves_ports_is_not_a_static_forward() {
    let t0 = Instant::now();
    let mut p = probe(&[S1], t0);
    let first = sent(&mut p);
    let public = addr("203.0.113.2:41602");
    let answer = stun::binding_success(&id(&first[0].1), public, Some(addr(ALT)));
    p.handle_datagram(t0, addr(S1), &answer);
    let change = sent(&mut p);
    assert_eq!(change.len(), 1);
    // The answer from the other address never gets through: four sends,
    // then 2 s.
    let mut now = t0;
    let mut resends = 0;
    while p.poll_report().is_none() {
        now = p.poll_timeout().unwrap();
        p.handle_timeout(now);
        resends += sent(&mut p).len();
    }
    assert_eq!(resends, 3);
    assert_eq!(now - t0, Duration::from_millis(500 + 1000 + 2000 + 2000));
    let r = p.report().unwrap();
    assert_eq!(r.filtering, Filtering::Filtered);
    assert_eq!(r.port_preserved(LOCAL), Some(true));
    assert_eq!(r.mapping, MappingBehaviour::Unknown, "one server only");
    assert!(!r.static_forward(LOCAL));
}

#[test]
fn different_ports_per_server_is_endpoint_dependent_mapping() {
    let t0 = Instant::now();
    let mut p = probe(&[S1, S2], t0);
    let first = sent(&mut p);
    p.handle_datagram(
        t0,
        addr(S1),
        &stun::binding_success(&id(&first[0].1), addr("203.0.113.2:1000"), None),
    );
    p.handle_datagram(
        t0,
        addr(S2),
        &stun::binding_success(&id(&first[1].1), addr("203.0.113.2:1001"), None),
    );
    let r = p.poll_report().unwrap();
    assert_eq!(r.mapping, MappingBehaviour::EndpointDependent);
    assert_eq!(
        r.public,
        Some(addr("203.0.113.2:1000")),
        "the first server's view"
    );
    assert_eq!(r.filtering, Filtering::Unknown);
    assert_eq!(r.port_preserved(LOCAL), Some(false));
}

#[test]
fn silent_servers_get_rfc_8489_retransmissions_then_a_retry() {
    let t0 = Instant::now();
    let mut p = probe(&[S1], t0);
    let mut times = vec![Duration::ZERO];
    assert_eq!(sent(&mut p).len(), 1);
    while p.poll_report().is_none() {
        let now = p.poll_timeout().unwrap();
        p.handle_timeout(now);
        for _ in sent(&mut p) {
            times.push(now - t0);
        }
    }
    let ms: Vec<u128> = times.iter().map(|d| d.as_millis()).collect();
    // Rc = 7 requests, RTO 500 ms doubling.
    assert_eq!(ms, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    let r = p.report().unwrap();
    assert_eq!(r.public, None);
    assert_eq!(
        r.observations[0].error.as_deref(),
        Some("no answer after 7 tries")
    );
    // Given up at 31.5 + 8 = 39.5 s; next round 30 s later.
    assert_eq!(
        p.poll_timeout(),
        Some(t0 + Duration::from_millis(39_500) + Duration::from_secs(30))
    );
}

#[test]
fn foreign_and_broken_datagrams_are_not_taken() {
    let t0 = Instant::now();
    let mut p = probe(&[S1], t0);
    let first = sent(&mut p);
    // Someone else's transaction.
    let other = stun::binding_success(&[0xEE; 12], addr("198.51.100.9:1"), None);
    assert!(!p.handle_datagram(t0, addr(S1), &other));
    // Our id, but a corrupted fingerprint.
    let mut bad = stun::binding_success(&id(&first[0].1), addr("203.0.113.2:1"), None);
    let n = bad.len();
    bad[n - 1] ^= 1;
    assert!(!p.handle_datagram(t0, addr(S1), &bad));
    assert!(!p.handle_datagram(t0, addr(S1), &[0; 3]));
    assert_eq!(p.unmatched, 3);
    assert!(p.report().is_none());
    // The real answer still counts.
    let good = stun::binding_success(&id(&first[0].1), addr("203.0.113.2:1"), None);
    assert!(p.handle_datagram(t0, addr(S1), &good));
    assert!(p.report().is_some());
}

#[test]
fn keepalives_follow_the_public_address() {
    let t0 = Instant::now();
    let mut p = probe(&[S1, S2], t0);
    let first = sent(&mut p);
    for (to, req) in &first {
        p.handle_datagram(
            t0,
            *to,
            &stun::binding_success(&id(req), addr("203.0.113.2:5000"), None),
        );
    }
    p.poll_report().unwrap();
    p.set_keepalive(Some(Duration::from_secs(25)), t0);
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(25)));
    let now = t0 + Duration::from_secs(25);
    p.handle_timeout(now);
    let ka = sent(&mut p);
    assert!(matches!(&ka[..], [(to, _)] if *to == addr(S1)), "{ka:?}");
    // Same address: nothing to report.
    p.handle_datagram(
        now,
        addr(S1),
        &stun::binding_success(&id(&ka[0].1), addr("203.0.113.2:5000"), None),
    );
    assert!(p.poll_report().is_none());
    let now = now + Duration::from_secs(25);
    p.handle_timeout(now);
    let ka = sent(&mut p);
    // The NAT moved us to another port.
    p.handle_datagram(
        now,
        addr(S1),
        &stun::binding_success(&id(&ka[0].1), addr("203.0.113.2:6000"), None),
    );
    assert_eq!(
        p.poll_report().unwrap().public,
        Some(addr("203.0.113.2:6000"))
    );
}

#[test]
fn no_servers_no_traffic() {
    let t0 = Instant::now();
    let mut p = probe(&[], t0);
    assert!(sent(&mut p).is_empty());
    assert_eq!(p.poll_timeout(), None);
    p.handle_timeout(t0 + Duration::from_secs(3600));
    assert!(sent(&mut p).is_empty() && p.report().is_none());
}
