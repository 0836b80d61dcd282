use super::*;

#[test]
fn durations_and_ranges() {
    assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    assert!(parse_duration("3h").is_err());
    let r = consecutive("10.99.0.254".parse().unwrap(), 3).unwrap();
    assert_eq!(r[2], "10.99.1.0".parse::<IpAddr>().unwrap());
    assert!(consecutive("255.255.255.255".parse().unwrap(), 2).is_err());
}
