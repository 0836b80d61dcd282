use super::*;

fn upstream(weights: &[u32], checked: bool) -> Upstream {
    let addrs: Vec<BackendAddr> = (0..weights.len())
        .map(|i| BackendAddr {
            host: "127.0.0.1".into(),
            port: 8000 + i as u16,
            scheme: crate::spec::BackendScheme::Http,
        })
        .collect();
    Upstream::new(&addrs, weights, checked)
}

fn counts(up: &Upstream, n: usize, now: Instant) -> Vec<usize> {
    let mut counts = vec![0; up.backends.len()];
    for _ in 0..n {
        counts[up.pick(now, None).unwrap()] += 1;
    }
    counts
}

#[test]
fn smooth_weighted_round_robin() {
    let now = Instant::now();
    let up = upstream(&[5, 1, 1], false);
    let order: Vec<usize> = (0..7).map(|_| up.pick(now, None).unwrap()).collect();
    // nginx's documented sequence for weights 5,1,1.
    assert_eq!(order, [0, 0, 1, 0, 2, 0, 0]);
    assert_eq!(counts(&upstream(&[3, 1], false), 1000, now), [750, 250]);
    assert_eq!(upstream(&[], false).pick(now, None), None);
    assert_eq!(counts(&upstream(&[1, 0], false), 10, now), [10, 0]);
}

#[test]
fn passive_ejection_expires_without_checks() {
    let now = Instant::now();
    let up = upstream(&[1, 1], false);
    assert!(up.eject(0, now));
    assert!(!up.eject(0, now));
    assert_eq!(counts(&up, 4, now), [0, 4]);
    assert_eq!(up.pick(now, Some(1)), None);
    let later = now + PASSIVE_EJECTION;
    assert!(up.is_up(0, later));
}

#[test]
fn checked_backends_wait_for_a_good_check() {
    let now = Instant::now();
    let up = upstream(&[1, 1], true);
    up.eject(1, now);
    assert!(!up.is_up(1, now + Duration::from_secs(3600)));
    assert!(up.set_healthy(1, true));
    assert!(!up.set_healthy(1, true));
    assert!(up.is_up(1, now));
    up.set_healthy(0, false);
    up.set_healthy(1, false);
    assert_eq!(up.pick(now, None), None);
}
