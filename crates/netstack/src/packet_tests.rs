use super::*;

#[test]
fn udp_round_trip_through_the_classifier() {
    let src: SocketAddr = "100.64.0.1:4000".parse().unwrap();
    let dst: SocketAddr = "100.64.0.2:53".parse().unwrap();
    let mut buf = Vec::new();
    emit_udp(src, dst, b"hello", 7, &mut buf).unwrap();
    let ip = Ipv4Packet::new_checked(&buf[..]).unwrap();
    assert!(ip.verify_checksum());
    match classify(&buf).unwrap() {
        Header::Udp {
            src: s,
            dst: d,
            payload: (a, b),
        } => {
            assert_eq!((s, d), (src, dst));
            assert_eq!(&buf[a..b], b"hello");
        }
        other => panic!("{other:?}"),
    }
    let v6s: SocketAddr = "[fd00::1]:4000".parse().unwrap();
    let v6d: SocketAddr = "[fd00::2]:53".parse().unwrap();
    emit_udp(v6s, v6d, b"hi", 0, &mut buf).unwrap();
    assert!(matches!(classify(&buf), Some(Header::Udp { .. })));
    assert!(emit_udp(src, v6d, b"x", 0, &mut buf).is_none());
}

/// A TCP segment from 100.64.0.1:4000 to 100.64.0.2:80.
fn segment(control: TcpControl, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = (
        "100.64.0.1:4000".parse().unwrap(),
        "100.64.0.2:80".parse().unwrap(),
    );
    tcp_segment(src, dst, control, 1000, ack, payload)
}

#[test]
fn a_refused_syn_gets_an_rst_acknowledging_it() {
    let syn = segment(TcpControl::Syn, None, b"");
    let mut out = Vec::new();
    emit_rst(&syn, 9, &mut out).unwrap();
    let ip = Ipv4Packet::new_checked(&out[..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(ip.src_addr().to_string(), "100.64.0.2");
    assert_eq!(ip.dst_addr().to_string(), "100.64.0.1");
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
    assert!(tcp.rst() && tcp.ack() && !tcp.syn());
    assert_eq!((tcp.src_port(), tcp.dst_port()), (80, 4000));
    assert_eq!(tcp.ack_number(), TcpSeqNumber(1001));
    assert!(emit_rst(&[0x45, 0, 0], 0, &mut out).is_none());
}

#[test]
fn a_stripped_segment_keeps_its_ack_and_window() {
    let mut seg = segment(TcpControl::Fin, Some(77), &[5u8; 300]);
    assert!(matches!(
        classify(&seg),
        Some(Header::Tcp { data: 300, .. })
    ));
    assert!(strip_payload(&mut seg));
    let ip = Ipv4Packet::new_checked(&seg[..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(usize::from(ip.total_len()), seg.len());
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
    assert!(tcp.payload().is_empty() && !tcp.fin() && tcp.ack());
    assert_eq!(tcp.ack_number(), TcpSeqNumber(77));
    assert_eq!(
        (tcp.seq_number(), tcp.window_len()),
        (TcpSeqNumber(1000), 512)
    );
    // Nothing left to strip.
    assert!(!strip_payload(&mut seg));
}

#[test]
fn syn_with_rst_or_fin_is_no_connection_attempt() {
    for control in [TcpControl::Syn, TcpControl::Rst] {
        let mut seg = segment(control, None, b"");
        if control == TcpControl::Rst {
            let at = 20 + 13;
            seg[at] |= 0x02; // SYN as well
        }
        let syn_only = matches!(classify(&seg), Some(Header::Tcp { syn_only: true, .. }));
        assert_eq!(syn_only, control == TcpControl::Syn);
    }
}

#[test]
fn garbage_and_truncation_are_rejected() {
    assert_eq!(classify(&[]), None);
    assert_eq!(classify(&[0x45, 0, 0]), None);
    let mut buf = Vec::new();
    emit_udp(
        "1.1.1.1:1".parse().unwrap(),
        "2.2.2.2:2".parse().unwrap(),
        b"abc",
        0,
        &mut buf,
    )
    .unwrap();
    buf.truncate(buf.len() - 2);
    assert_eq!(classify(&buf), None);
    assert_eq!(classify(&[0x15; 40]), None);
}
