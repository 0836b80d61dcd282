use super::*;

fn slots(per_peer: u32, ceiling: u32) -> PeerSlots {
    PeerSlots::new("x", "x_total", per_peer, ceiling)
}

impl PeerSlots {
    fn in_use(&self) -> usize {
        self.0.in_use.get()
    }
}

#[test]
fn one_peer_at_its_cap_leaves_room_for_the_others() {
    let s = slots(2, 5);
    let (a, b) = (Some(PeerId(1)), Some(PeerId(2)));
    let held_a: Vec<Slot> = (0..2).map(|_| s.take(a).unwrap()).collect();
    assert!(s.take(a).is_none());
    assert!(s.take(a).is_none());
    assert_eq!(s.refusals(a), [("x", 2), ("x_total", 0)]);
    let held_b: Vec<Slot> = (0..2).map(|_| s.take(b).unwrap()).collect();
    assert_eq!((s.held(a), s.held(b), s.in_use()), (2, 2, 4));
    drop(held_a);
    assert_eq!((s.held(a), s.in_use()), (0, 2));
    assert!(s.take(a).is_some(), "a slot freed is a slot again");
    drop(held_b);
    assert_eq!(s.in_use(), 0);
}

#[test]
fn the_ceiling_holds_whatever_the_per_peer_caps() {
    let s = slots(2, 3);
    let held: Vec<Slot> = (1..=3).map(|p| s.take(Some(PeerId(p))).unwrap()).collect();
    assert!(s.take(Some(PeerId(4))).is_none());
    assert_eq!(s.refusals(Some(PeerId(4))), [("x", 0), ("x_total", 1)]);
    drop(held);
    assert!(s.take(Some(PeerId(4))).is_some());
}

#[test]
fn a_reload_changes_the_cap_for_new_slots() {
    let caps = PeerCaps::new(&LimitsConfig {
        peer_udp_flows: 1,
        ..LimitsConfig::default()
    });
    let a = Some(PeerId(1));
    let first = caps.udp_flows.take(a).unwrap();
    assert!(caps.udp_flows.take(a).is_none());
    caps.apply(&LimitsConfig {
        peer_udp_flows: 2,
        ..LimitsConfig::default()
    });
    let second = caps.udp_flows.take(a).unwrap();
    caps.apply(&LimitsConfig {
        peer_udp_flows: 1,
        ..LimitsConfig::default()
    });
    // Held slots stay; none new until under the lowered cap.
    assert_eq!(caps.udp_flows.held(a), 2);
    drop(first);
    assert!(caps.udp_flows.take(a).is_none());
    drop(second);
    assert!(caps.udp_flows.take(a).is_some());
    let reasons: Vec<_> = caps.refusals(a).filter(|(_, n)| *n > 0).collect();
    assert_eq!(reasons, [("udp_flows", 2)]);
}

#[test]
fn tcp_limits_follow_the_section() {
    let c = LimitsConfig::default();
    let t = tcp_limits(&c);
    assert_eq!(t.peer_half_open, 64);
    assert_eq!(t.peer_buffer, 32 << 20);
    assert_eq!(t.send_stall_timeout, c.send_stall_timeout);
    // The netstack's own defaults are the section's.
    assert_eq!(t, TcpLimits::default());
}
