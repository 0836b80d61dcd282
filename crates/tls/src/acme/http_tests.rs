use super::*;

#[test]
fn retry_after_is_seconds_or_an_http_date() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    assert_eq!(
        parse_retry_after("120", now),
        Some(now + Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777))
    );
    assert_eq!(parse_retry_after("soon", now), None);
}

/// RFC 9110 §5.6.7: recipients accept all three date forms.
#[test]
fn retry_after_accepts_every_http_date_form() {
    let now = SystemTime::UNIX_EPOCH;
    let at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777));
    for form in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        assert_eq!(parse_retry_after(form, now), at, "{form}");
    }
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 +0000", now),
        None
    );
    assert_eq!(parse_retry_after("-5", now), None);
}
