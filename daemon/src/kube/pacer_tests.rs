use std::time::{Duration, Instant};

use super::*;

const WINDOW: Duration = Duration::from_millis(100);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn nothing_before_the_barrier() {
    let t0 = Instant::now();
    let mut p = Pacer::new(WINDOW);
    p.handle_change(t0, false);
    p.handle_change(t0 + ms(5), false);
    assert_eq!(p.poll_timeout(), None);
    assert!(!p.handle_timeout(t0 + ms(1000)));
    assert!(!p.first_built());
}

#[test]
fn first_snapshot_at_once_when_the_barrier_opens() {
    let t0 = Instant::now();
    let mut p = Pacer::new(WINDOW);
    p.handle_change(t0, false);
    p.handle_change(t0 + ms(30), true);
    assert_eq!(p.poll_timeout(), Some(t0 + ms(30)));
    assert!(p.handle_timeout(t0 + ms(30)));
    assert!(p.first_built());
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn later_changes_wait_one_window_and_coalesce() {
    let t0 = Instant::now();
    let mut p = Pacer::new(WINDOW);
    p.handle_change(t0, true);
    assert!(p.handle_timeout(t0));
    p.handle_change(t0 + ms(10), true);
    p.handle_change(t0 + ms(50), true);
    p.handle_change(t0 + ms(90), true);
    assert_eq!(p.poll_timeout(), Some(t0 + ms(110)));
    assert!(!p.handle_timeout(t0 + ms(109)));
    assert!(p.handle_timeout(t0 + ms(110)));
    assert!(
        !p.handle_timeout(t0 + ms(500)),
        "one snapshot for the window"
    );
}

#[test]
fn steady_changes_still_get_a_snapshot_every_window() {
    let t0 = Instant::now();
    let mut p = Pacer::new(WINDOW);
    p.handle_change(t0, true);
    assert!(p.handle_timeout(t0));
    // 50 changes a second for a second: the window is not pushed back.
    let mut built = 0;
    for i in 1..=50 {
        let now = t0 + ms(20 * i);
        if p.poll_timeout().is_some_and(|d| d <= now) && p.handle_timeout(now) {
            built += 1;
        }
        p.handle_change(now, true);
    }
    assert!((9..=10).contains(&built), "{built} snapshots in a second");
}

#[test]
fn zero_window_builds_on_the_next_turn() {
    let t0 = Instant::now();
    let mut p = Pacer::new(Duration::ZERO);
    p.handle_change(t0, true);
    assert!(p.handle_timeout(t0));
    p.handle_change(t0 + ms(1), true);
    assert!(p.handle_timeout(t0 + ms(1)));
}
