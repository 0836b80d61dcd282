use super::*;

#[test]
fn probes_follow_readiness_draining_and_the_heartbeat() {
    let t0 = Instant::now();
    let h = Health::new(t0);
    h.beat(t0);
    assert_eq!(h.live(t0), Probe::Ok);
    assert_eq!(h.readiness(t0), Probe::Starting);
    h.set_ready(true);
    assert_eq!(h.readiness(t0), Probe::Ok);
    let late = t0 + STALL_AFTER - Duration::from_millis(1);
    assert_eq!((h.live(late), h.readiness(late)), (Probe::Ok, Probe::Ok));
    let stuck = t0 + STALL_AFTER;
    assert_eq!(h.live(stuck), Probe::Stalled);
    assert_eq!(h.readiness(stuck), Probe::Stalled);
    h.beat(stuck);
    assert_eq!(h.live(stuck), Probe::Ok);
    h.start_draining();
    assert_eq!(
        (h.live(stuck), h.readiness(stuck)),
        (Probe::Ok, Probe::Draining)
    );
    assert!(!h.ready());
}
