use super::*;

#[test]
fn parses_tcp_report() {
    let json = r#"{"start":{},"intervals":[],"end":{
            "sum_sent":{"bytes":500,"bits_per_second":800000000.0,"retransmits":3},
            "sum_received":{"bytes":400,"bits_per_second":750000000.5}}}"#;
    let r = parse_report(json, false).unwrap();
    assert_eq!(r.bits_per_second, 750000000.5);
    assert_eq!(r.bytes, 400);
    assert_eq!(r.retransmits, Some(3));
    assert!((r.gbps() - 0.75).abs() < 1e-6);
}

#[test]
fn parses_udp_report() {
    let json = r#"{"end":{"sum":{"bytes":1000,"bits_per_second":5e8,"lost_percent":1.5}}}"#;
    let r = parse_report(json, true).unwrap();
    assert_eq!(r.lost_percent, Some(1.5));
    assert_eq!(r.bits_per_second, 5e8);
}

#[test]
fn reports_iperf_errors() {
    let json = r#"{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}"#;
    let e = parse_report(json, false).unwrap_err().to_string();
    assert!(e.contains("Connection refused"), "{e}");
    assert!(parse_report("", false).is_err());
}

#[test]
fn builds_arguments() {
    let c = Iperf3Client::default().seconds(3).reverse(true).udp("100M");
    let a = c.args("100.64.0.2".parse().unwrap(), 5201).join(" ");
    assert_eq!(
        a,
        "-c 100.64.0.2 -p 5201 -J --connect-timeout 5000 -t 3 -O 1 -R -u -b 100M"
    );
}
