//! The renewal planner on a fake clock: years of renewals, no sleeping.

use super::*;

const DAY: u64 = 24 * 60 * 60;
const T0: u64 = 1_800_000_000;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn ninety_days(from: u64) -> Validity {
    Validity {
        not_before: from,
        not_after: from + 90 * DAY,
    }
}

#[test]
fn new_names_are_due_at_once_and_only_once_in_flight() {
    let mut p = RenewalPlan::new();
    assert_eq!(p.set_names(&names(&["a.example", "b.example"])).0.len(), 2);
    assert_eq!(p.poll_timeout(), Some(0));
    assert_eq!(p.poll_due(T0).as_deref(), Some("a.example"));
    assert_eq!(p.poll_due(T0).as_deref(), Some("b.example"));
    // Both in flight: nothing more is due, nothing to wake up for.
    assert_eq!(p.poll_due(T0), None);
    assert_eq!(p.poll_timeout(), None);
    assert!(p.snapshot(T0).iter().all(|s| s.phase == Phase::Pending));
}

#[test]
fn renewal_is_due_when_a_third_of_the_lifetime_remains() {
    let mut p = RenewalPlan::new();
    p.disable_ari();
    p.set_names(&names(&["a.example"]));
    let name = p.poll_due(T0).unwrap();
    p.handle_issued(&name, ninety_days(T0), T0);
    // 60 days in: 30 of 90 left.
    let renew = T0 + 60 * DAY;
    assert_eq!(p.poll_timeout(), Some(renew));
    assert_eq!(p.poll_due(renew - 1), None);
    assert_eq!(p.snapshot(renew - 1)[0].phase, Phase::Valid);
    assert_eq!(p.snapshot(renew)[0].phase, Phase::Renewing);
    assert_eq!(p.poll_due(renew).as_deref(), Some("a.example"));

    // Renewed: the next renewal follows the new certificate. Ten years of
    // it without sleeping.
    let mut now = renew;
    for _ in 0..60 {
        p.handle_issued("a.example", ninety_days(now), now);
        now = p.poll_timeout().unwrap();
        assert_eq!(p.poll_due(now).as_deref(), Some("a.example"));
    }
    assert_eq!(now, T0 + 61 * 60 * DAY);
}

#[test]
fn failures_back_off_from_one_minute_doubling_to_six_hours() {
    let mut p = RenewalPlan::new();
    p.set_names(&names(&["a.example"]));
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..12 {
        let name = p.poll_due(now).expect("due");
        let at = p
            .handle_failed(&name, "connection refused".into(), None, now)
            .unwrap();
        assert_eq!(p.poll_due(at - 1), None, "not before the backoff");
        waits.push(at - now);
        now = at;
    }
    assert_eq!(
        waits,
        [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, 21600]
    );
    let s = &p.snapshot(now)[0];
    assert_eq!(s.phase, Phase::Pending);
    assert_eq!(s.last_error.as_deref(), Some("connection refused"));
    assert_eq!(s.failures, 12);

    // Success resets the backoff and the error.
    p.poll_due(now).unwrap();
    p.handle_issued("a.example", ninety_days(now), now);
    let s = &p.snapshot(now)[0];
    assert_eq!(
        (s.phase, s.failures, s.last_error.clone()),
        (Phase::Valid, 0, None)
    );
}

#[test]
fn a_failed_renewal_keeps_the_certificate_and_retries() {
    let mut p = RenewalPlan::new();
    p.disable_ari();
    p.set_names(&names(&["a.example"]));
    p.handle_loaded("a.example", ninety_days(T0), T0);
    let renew = T0 + 60 * DAY;
    p.poll_due(renew).unwrap();
    let retry = p
        .handle_failed("a.example", "dns update refused".into(), None, renew)
        .unwrap();
    assert_eq!(retry, renew + 60);
    let s = &p.snapshot(renew + 1)[0];
    assert_eq!(s.phase, Phase::Renewing);
    assert_eq!(
        s.cert,
        Some(ninety_days(T0)),
        "the old certificate is still served"
    );
    assert_eq!(s.next_order, retry);
    // Still failing at expiry: reported as expired.
    assert_eq!(p.snapshot(T0 + 90 * DAY)[0].phase, Phase::Expired);
}

#[test]
fn retry_after_from_the_ca_wins_over_a_shorter_backoff() {
    let mut p = RenewalPlan::new();
    p.set_names(&names(&["a.example"]));
    p.poll_due(T0).unwrap();
    let at = p
        .handle_failed("a.example", "rate limited".into(), Some(T0 + 3600), T0)
        .unwrap();
    assert_eq!(at, T0 + 3600);
    assert_eq!(p.poll_due(T0 + 3599), None);
    assert!(p.poll_due(T0 + 3600).is_some());
    // A Retry-After shorter than the backoff does not shorten it.
    let at = p
        .handle_failed(
            "a.example",
            "rate limited".into(),
            Some(T0 + 3601),
            T0 + 3600,
        )
        .unwrap();
    assert_eq!(at, T0 + 3600 + 120);
}

#[test]
fn the_cas_renewal_window_replaces_the_lifetime_rule() {
    let mut p = RenewalPlan::new();
    p.set_names(&names(&["a.example"]));
    p.handle_loaded("a.example", ninety_days(T0), T0);
    // ARI is fetched first, at once.
    assert_eq!(p.poll_ari(T0).as_deref(), Some("a.example"));
    assert_eq!(
        p.poll_ari(T0),
        None,
        "not twice while the answer is awaited"
    );
    // The CA suggests days 10-12 (e.g. before a mass revocation).
    let (start, end) = (T0 + 10 * DAY, T0 + 12 * DAY);
    p.handle_window("a.example", start, end, 7 * 3600, Some(60), T0);
    assert_eq!(
        p.poll_timeout(),
        Some(T0 + 3600),
        "recheck clamped to one hour"
    );
    assert_eq!(p.snapshot(T0)[0].next_order, start + 7 * 3600);
    assert_eq!(p.poll_due(start + 7 * 3600 - 1), None);
    // Every pick lies inside the window.
    for random in [0, 1, u64::MAX, 2 * DAY, 2 * DAY - 1] {
        p.handle_window("a.example", start, end, random, None, T0);
        let at = p.snapshot(T0)[0].next_order;
        assert!((start..end).contains(&at), "{at}");
    }
    // A window in the past: renew now.
    p.handle_window("a.example", T0 - DAY, T0 - 1, 5, None, T0);
    assert_eq!(p.poll_due(T0).as_deref(), Some("a.example"));
}

#[test]
fn without_ari_nothing_is_fetched() {
    let mut p = RenewalPlan::new();
    p.set_names(&names(&["a.example"]));
    p.handle_loaded("a.example", ninety_days(T0), T0);
    p.disable_ari();
    assert_eq!(p.poll_ari(T0), None);
    assert_eq!(p.poll_timeout(), Some(T0 + 60 * DAY));
}

#[test]
fn removed_names_are_forgotten_and_kept_names_keep_their_schedule() {
    let mut p = RenewalPlan::new();
    p.disable_ari();
    p.set_names(&names(&["a.example", "b.example"]));
    p.handle_loaded("a.example", ninety_days(T0), T0);
    let (added, removed) = p.set_names(&names(&["a.example", "c.example"]));
    assert_eq!(
        (added, removed),
        (names(&["c.example"]), names(&["b.example"]))
    );
    assert_eq!(p.names().collect::<Vec<_>>(), ["a.example", "c.example"]);
    assert_eq!(p.poll_due(T0).as_deref(), Some("c.example"));
    assert_eq!(p.poll_due(T0), None, "a.example is valid");
}
