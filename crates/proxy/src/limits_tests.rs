use super::*;

fn addr(last: u8) -> Source {
    Source::Addr(IpAddr::from([10, 0, 0, last]))
}

#[test]
fn caps_in_all_and_per_source() {
    let limiter = ConnLimiter::new();
    let caps = ConnCaps {
        max_connections: 3,
        max_per_source: 2,
    };
    let a1 = limiter.try_open(addr(1), caps).unwrap();
    let _a2 = limiter.try_open(addr(1), caps).unwrap();
    assert_eq!(
        limiter.try_open(addr(1), caps).unwrap_err(),
        Limit::ConnectionsPerSource
    );
    let _b1 = limiter.try_open(addr(2), caps).unwrap();
    assert_eq!(
        limiter.try_open(addr(3), caps).unwrap_err(),
        Limit::Connections
    );
    drop(a1);
    assert_eq!(limiter.open(), 2);
    let _a3 = limiter.try_open(addr(1), caps).unwrap();
    // Refusals leave no entry behind; closed sources neither.
    assert_eq!(limiter.lock().by_source.len(), 2);
}

#[test]
fn zero_is_no_cap_and_peers_are_one_source() {
    let limiter = ConnLimiter::new();
    let caps = ConnCaps {
        max_connections: 0,
        max_per_source: 0,
    };
    let held: Vec<_> = (0..100)
        .map(|_| limiter.try_open(addr(1), caps).unwrap())
        .collect();
    assert_eq!(limiter.open(), 100);
    drop(held);
    assert!(limiter.lock().by_source.is_empty());
    let one = ConnCaps {
        max_connections: 0,
        max_per_source: 1,
    };
    let peer = || Source::Peer("key=".into());
    let _p = limiter.try_open(peer(), one).unwrap();
    assert!(limiter.try_open(peer(), one).is_err());
}
