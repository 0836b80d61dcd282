use k8s_openapi::api::networking::v1::Ingress;

use super::*;

type Item = Result<Event<Ingress>, ()>;

#[test]
fn a_failing_list_backs_off_exponentially() {
    // What the watcher yields while every list attempt fails: Init, then
    // the error, again and again.
    let mut b = WatchBackoff::default();
    let mut pauses = Vec::new();
    for _ in 0..6 {
        assert_eq!(b.pause_after(&Item::Ok(Event::Init)), None);
        pauses.push(b.pause_after(&Item::Err(())).unwrap());
    }
    // Jittered, but growing: the sixth pause is well past the first.
    assert!(pauses[0] <= Duration::from_millis(1600), "{pauses:?}");
    assert!(pauses[5] >= Duration::from_secs(8), "{pauses:?}");
}

#[test]
fn objects_reset_the_backoff() {
    let mut b = WatchBackoff::default();
    for _ in 0..6 {
        b.pause_after(&Item::Err(()));
    }
    assert_eq!(
        b.pause_after(&Item::Ok(Event::InitApply(Ingress::default()))),
        None
    );
    let first = b.pause_after(&Item::Err(())).unwrap();
    assert!(first <= Duration::from_millis(1600), "{first:?}");
    assert_eq!(
        b.pause_after(&Item::Ok(Event::Apply(Ingress::default()))),
        None
    );
    assert_eq!(b.pause_after(&Item::Ok(Event::InitDone)), None);
}
