use std::time::{Duration, SystemTime};

use super::*;
use crate::kube::Kind;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
}

const INGRESS: StreamId = StreamId {
    kind: Kind::Ingress,
    index: 0,
};
const SECRET: StreamId = StreamId {
    kind: Kind::Secret,
    index: 1,
};

#[test]
fn healthy_until_an_error() {
    let mut h = HealthTracker::new();
    h.handle_event(INGRESS, at(1));
    let v = h.view();
    assert_eq!(v.last_event, Some(at(1)));
    assert_eq!(v.last_contact, Some(at(1)));
    assert_eq!(v.broken_since, None);
    assert_eq!(v.error, None);
    assert!(!v.synced);
    h.handle_snapshot([1, 2, 3, 4], at(2));
    assert!(h.view().synced);
    assert_eq!(h.view().objects, [1, 2, 3, 4]);
}

#[test]
fn broken_since_the_first_error_until_every_stream_recovers() {
    let mut h = HealthTracker::new();
    h.handle_error(INGRESS, "Ingress watch: connection refused".into(), at(10));
    h.handle_error(SECRET, "Secret watch: connection refused".into(), at(12));
    h.handle_error(INGRESS, "Ingress watch: again".into(), at(20));
    assert_eq!(h.view().broken_since, Some(at(10)));
    assert_eq!(h.view().error.as_deref(), Some("Ingress watch: again"));
    assert_eq!(h.failing().count(), 2);
    h.handle_event(INGRESS, at(30));
    assert_eq!(h.view().broken_since, Some(at(12)));
    assert!(h.view().error.is_some());
    h.handle_event(SECRET, at(31));
    assert_eq!(h.view().broken_since, None);
    assert_eq!(h.view().error, None);
}

#[test]
fn a_probe_clears_only_errors_from_before_it_was_sent() {
    let mut h = HealthTracker::new();
    h.handle_error(INGRESS, "e".into(), at(10));
    // Sent before the error: proves nothing about it.
    h.handle_probe(INGRESS, at(5), at(11));
    assert_eq!(h.view().broken_since, Some(at(10)));
    assert_eq!(h.view().last_contact, Some(at(11)));
    h.handle_probe(INGRESS, at(15), at(16));
    assert_eq!(h.view().broken_since, None);
    assert_eq!(h.view().error, None);
}

#[test]
fn write_errors_do_not_make_routes_stale() {
    let mut h = HealthTracker::new();
    h.handle_write(Some("status of a/b: 403".into()));
    assert_eq!(h.view().broken_since, None);
    assert_eq!(h.view().write_error.as_deref(), Some("status of a/b: 403"));
    h.handle_write(None);
    assert_eq!(h.view().write_error, None);
}
