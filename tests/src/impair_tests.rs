use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Feeds datagrams 0..n (one byte: their index) at `t0`, returns what comes out at `t`.
fn run(imp: &mut Impairer, n: u8, t0: Instant, t: Instant) -> Vec<u8> {
    for i in 0..n {
        imp.handle_datagram(t0, vec![i]);
    }
    drain(imp, t)
}

fn drain(imp: &mut Impairer, t: Instant) -> Vec<u8> {
    std::iter::from_fn(|| imp.poll_transmit(t))
        .map(|p| p[0])
        .collect()
}

#[test]
fn passes_everything_in_order_without_impairments() {
    let t = Instant::now();
    let mut imp = Impairer::new(Impairment::default(), 1);
    assert_eq!(run(&mut imp, 10, t, t), (0..10).collect::<Vec<_>>());
    assert_eq!(imp.poll_timeout(), None);
    let s = imp.stats();
    assert_eq!((s.received, s.sent, s.dropped), (10, 10, 0));
}

#[test]
fn total_loss_drops_all() {
    let t = Instant::now();
    let mut imp = Impairer::new(
        Impairment {
            loss: 1.0,
            ..Default::default()
        },
        1,
    );
    assert!(run(&mut imp, 10, t, t).is_empty());
    assert_eq!(imp.stats().dropped, 10);
}

#[test]
fn duplicates_follow_their_original() {
    let t = Instant::now();
    let mut imp = Impairer::new(
        Impairment {
            duplicate: 1.0,
            ..Default::default()
        },
        1,
    );
    assert_eq!(run(&mut imp, 3, t, t), [0, 0, 1, 1, 2, 2]);
    assert_eq!(imp.stats().duplicated, 3);
}

#[test]
fn reorder_with_gap_one_swaps_pairs() {
    let t = Instant::now();
    let cfg = Impairment {
        reorder: 1.0,
        reorder_gap: 1,
        ..Default::default()
    };
    let mut imp = Impairer::new(cfg, 1);
    // 0 is held, 1 passes and releases it; 2 is held, 3 releases it; 4 is held.
    assert_eq!(run(&mut imp, 5, t, t), [1, 0, 3, 2]);
    assert_eq!(imp.stats().reordered, 3);
    // With no later datagram, the held one leaves at its deadline.
    assert_eq!(imp.poll_timeout(), Some(t + ms(5)));
    assert!(drain(&mut imp, t + ms(4)).is_empty());
    assert_eq!(drain(&mut imp, t + ms(5)), [4]);
    assert_eq!(imp.poll_timeout(), None);
}

#[test]
fn reordering_loses_and_invents_nothing() {
    let t = Instant::now();
    let cfg = Impairment {
        reorder: 0.3,
        reorder_gap: 3,
        ..Default::default()
    };
    let mut imp = Impairer::new(cfg, 42);
    let mut out = run(&mut imp, 200, t, t);
    out.extend(drain(&mut imp, t + ms(10)));
    assert_ne!(out, (0..200).collect::<Vec<_>>(), "some datagrams moved");
    out.sort_unstable();
    assert_eq!(out, (0..200).collect::<Vec<_>>());
    let s = imp.stats();
    assert_eq!((s.received, s.sent), (200, 200));
    assert!(s.reordered > 0);
}

#[test]
fn delay_holds_until_due() {
    let t = Instant::now();
    let mut imp = Impairer::new(
        Impairment {
            delay: ms(2),
            ..Default::default()
        },
        1,
    );
    assert!(run(&mut imp, 3, t, t + ms(1)).is_empty());
    assert_eq!(imp.poll_timeout(), Some(t + ms(2)));
    assert_eq!(drain(&mut imp, t + ms(2)), [0, 1, 2]);
}

#[test]
fn jitter_stays_within_bounds() {
    let t = Instant::now();
    let cfg = Impairment {
        delay: ms(2),
        jitter: ms(3),
        ..Default::default()
    };
    let mut imp = Impairer::new(cfg, 5);
    for i in 0..100u8 {
        imp.handle_datagram(t, vec![i]);
    }
    assert!(imp.poll_timeout().unwrap() >= t + ms(2));
    assert!(drain(&mut imp, t + ms(2) - Duration::from_nanos(1)).is_empty());
    assert_eq!(drain(&mut imp, t + ms(5)).len(), 100);
}

#[test]
fn loss_rate_matches_probability() {
    let t = Instant::now();
    let mut imp = Impairer::new(
        Impairment {
            loss: 0.02,
            ..Default::default()
        },
        1,
    );
    for _ in 0..100_000 {
        imp.handle_datagram(t, vec![0]);
        while imp.poll_transmit(t).is_some() {}
    }
    let s = imp.stats();
    assert!((1_500..2_500).contains(&s.dropped), "{s:?}");
    assert_eq!(s.sent + s.dropped, s.received);
}

#[test]
fn same_seed_same_impairments() {
    let cfg = Impairment {
        loss: 0.1,
        reorder: 0.1,
        duplicate: 0.1,
        jitter: ms(1),
        ..Default::default()
    };
    let t = Instant::now();
    let out = |seed| {
        let mut imp = Impairer::new(cfg.clone(), seed);
        let mut v = run(&mut imp, 250, t, t);
        v.extend(drain(&mut imp, t + ms(100)));
        v
    };
    assert_eq!(out(7), out(7));
    assert_ne!(out(7), out(8));
}

#[test]
fn validates_probabilities() {
    assert!(Impairment::default().validate().is_ok());
    assert!(Impairment {
        loss: 1.5,
        ..Default::default()
    }
    .validate()
    .is_err());
    assert!(Impairment {
        reorder: -0.1,
        ..Default::default()
    }
    .validate()
    .is_err());
    assert!(Impairment {
        reorder_gap: 0,
        ..Default::default()
    }
    .validate()
    .is_err());
}
