use wingress_nat::stun::{binding_request, binding_success};

use super::*;

fn server() -> SocketAddr {
    "192.0.2.1:3478".parse().unwrap()
}

/// Junk shaped like STUN answers floods the port while a real answer
/// is on its way: the real one is delivered, the junk counted.
#[test]
fn only_answers_to_our_transactions_are_delivered() {
    let now = Instant::now();
    let mut side = SideChannel::default();
    let id = [7u8; 12];
    side.send(server(), binding_request(&id, None));
    let (to, _) = side.poll_transmit(now).unwrap();
    assert_eq!(to, server());
    let attacker: SocketAddr = "203.0.113.9:1".parse().unwrap();
    let public: SocketAddr = "198.51.100.4:41621".parse().unwrap();
    for i in 0..1000u32 {
        let mut junk_id = [0u8; 12];
        junk_id[..4].copy_from_slice(&i.to_le_bytes());
        side.deliver(now, attacker, &binding_success(&junk_id, public, None));
    }
    side.deliver(now, server(), &binding_success(&id, public, None));
    let (from, d) = side.try_recv().expect("the real answer");
    assert_eq!(from, server());
    assert_eq!(transaction_id(&d), Some(id));
    assert!(side.try_recv().is_none());
    assert_eq!(side.unsolicited, 1000);
    assert_eq!(side.dropped, 0);
}

#[test]
fn awaited_transactions_expire_and_stay_bounded() {
    let t0 = Instant::now();
    let mut side = SideChannel::default();
    let id = [1u8; 12];
    side.send(server(), binding_request(&id, None));
    side.poll_transmit(t0).unwrap();
    let public: SocketAddr = "198.51.100.4:41621".parse().unwrap();
    // A retransmission 30 s later renews the wait.
    side.send(server(), binding_request(&id, None));
    side.poll_transmit(t0 + Duration::from_secs(30)).unwrap();
    side.deliver(
        t0 + Duration::from_secs(60),
        server(),
        &binding_success(&id, public, None),
    );
    assert!(side.try_recv().is_some());
    // Past the wait the answer is junk.
    side.deliver(
        t0 + Duration::from_secs(71),
        server(),
        &binding_success(&id, public, None),
    );
    assert!(side.try_recv().is_none());
    assert_eq!(side.unsolicited, 1);
    for i in 0..1000u32 {
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&i.to_le_bytes());
        side.send(server(), binding_request(&id, None));
        side.poll_transmit(t0).unwrap();
    }
    assert_eq!(side.expected.len(), EXPECTED);
}
