use super::*;

#[test]
fn parses_dump() {
    let text = "cPRIV=\tcPUB=\t51820\toff\n\
                    pA=\t(none)\t10.99.0.2:51820\t100.64.0.2/32,10.0.0.0/8\t1700000000\t1234\t5678\t25\n\
                    pB=\t(none)\t(none)\t(none)\t0\t0\t0\toff\n";
    let peers = parse_dump(text).unwrap();
    assert_eq!(peers.len(), 2);
    assert_eq!(peers[0].endpoint.as_deref(), Some("10.99.0.2:51820"));
    assert_eq!(peers[0].allowed_ips, ["100.64.0.2/32", "10.0.0.0/8"]);
    assert_eq!(
        peers[0].latest_handshake,
        Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    assert_eq!(
        (
            peers[0].rx_bytes,
            peers[0].tx_bytes,
            peers[0].persistent_keepalive
        ),
        (1234, 5678, Some(25))
    );
    assert_eq!(peers[1].endpoint, None);
    assert!(peers[1].allowed_ips.is_empty());
    assert_eq!(peers[1].latest_handshake, None);
    assert_eq!(peers[1].persistent_keepalive, None);
}

#[test]
fn reads_wg_quick_configs() {
    let q = WgQuick::parse(
        "[Interface]\nPrivateKey = K=\nAddress = 100.64.0.3/32, fd00::3/128\nDNS = 100.64.0.1\n\n\
             [Peer]\nPublicKey = P=\nAllowedIPs = 100.64.0.0/24\nEndpoint = 10.99.0.2:41602\n",
    )
    .unwrap();
    assert_eq!(q.private_key, "K=");
    assert_eq!(q.addresses, ["100.64.0.3/32", "fd00::3/128"]);
    assert_eq!(q.dns, ["100.64.0.1"]);
    assert_eq!(q.allowed_ips, ["100.64.0.0/24"]);
    assert!(WgQuick::parse("[Peer]\nPublicKey = P=\n").is_err());
}

#[test]
fn rejects_short_lines() {
    assert!(parse_dump("iface\nonly\ttwo\n").is_err());
}
