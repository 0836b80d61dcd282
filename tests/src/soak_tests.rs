use super::*;

#[test]
fn slope_of_a_line_and_of_too_little() {
    let line = vec![(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)];
    assert_eq!(slope(line), Some(2.0));
    assert_eq!(slope(vec![(1.0, 5.0)]), None);
    assert_eq!(slope(vec![(1.0, 5.0), (1.0, 6.0)]), None);
    let flat = slope(vec![(0.0, 4.0), (1.0, 5.0), (2.0, 4.0), (3.0, 5.0)]).unwrap();
    assert!((flat - 0.2).abs() < 1e-9, "{flat}");
}

#[test]
fn throughput_per_minute() {
    let report = SoakReport {
        warmup: Duration::from_secs(10),
        duration: Duration::from_secs(170),
        runs: vec![
            (Duration::from_secs(5), 1.0),
            (Duration::from_secs(60), 2.0),
            (Duration::from_secs(75), 3.0),
            (Duration::from_secs(185), 4.0),
        ],
        ..SoakReport::default()
    };
    assert_eq!(
        report.per_minute_gbps(),
        vec![Some(1.5), Some(3.0), Some(4.0)]
    );
}
