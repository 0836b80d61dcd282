use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use super::{timeout, with_grace};

fn of(values: &[&'static str]) -> Option<Duration> {
    let mut h = HeaderMap::new();
    for v in values {
        h.append("grpc-timeout", HeaderValue::from_static(v));
    }
    timeout(&h)
}

#[test]
fn grpc_timeouts_parse_as_the_spec_writes_them() {
    assert_eq!(of(&["5S"]), Some(Duration::from_secs(5)));
    assert_eq!(of(&["2H"]), Some(Duration::from_secs(7200)));
    assert_eq!(of(&["3M"]), Some(Duration::from_secs(180)));
    assert_eq!(of(&["799m"]), Some(Duration::from_millis(799)));
    assert_eq!(of(&["10u"]), Some(Duration::from_micros(10)));
    assert_eq!(of(&["99999999n"]), Some(Duration::from_nanos(99_999_999)));
    assert_eq!(
        of(&["99999999H"]),
        Some(Duration::from_secs(99_999_999 * 3600))
    );
    for bad in ["", "S", "5", "5s", "123456789S", "-5S", " 5S", "5 S", "5SS"] {
        assert_eq!(of(&[bad]), None, "{bad:?}");
    }
    assert_eq!(of(&[]), None);
    assert_eq!(of(&["1S", "2S"]), None);
}

#[test]
fn a_deadline_gets_a_second_of_grace_and_a_ceiling() {
    assert_eq!(
        with_grace(Duration::from_millis(800)),
        Duration::from_millis(1800)
    );
    let longest = with_grace(of(&["99999999H"]).unwrap());
    assert_eq!(longest, Duration::from_secs(30 * 24 * 3600 + 1));
}
