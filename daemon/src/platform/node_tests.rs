use super::*;

#[test]
fn flag_wins_and_bad_flags_are_errors() {
    let env = Env {
        node_ip: Some("10.0.0.9".into()),
        state_directory: None,
    };
    let a = node_addr_for_port(Some("192.168.1.20"), None, &env).unwrap();
    assert_eq!((port_of(&a), a.source), (41620, AddrSource::Flag));
    let a = node_addr_for_port(None, None, &env).unwrap();
    assert_eq!(
        (port_of(&a), a.source),
        (
            41609,
            AddrSource::Config(NodeIpSource::Env("WINGRESS_NODE_IP"))
        )
    );
    let e = node_addr_for_port(Some("fd00::1"), None, &env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("IPv6"), "{e}");
}

#[test]
fn private_ranges() {
    for ip in [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.10.2",
        "100.64.0.1",
        "100.127.255.254",
    ] {
        assert!(is_private(ip.parse().unwrap()), "{ip}");
    }
    for ip in ["8.8.8.8", "100.128.0.1", "172.32.0.1", "203.0.113.2"] {
        assert!(!is_private(ip.parse().unwrap()), "{ip}");
    }
}

#[test]
fn detection_finds_an_address_or_nothing() {
    // Whatever this machine has, a detected address is IPv4 and not
    // loopback, and says how it was found.
    if let Some(a) = detect() {
        assert!(!a.ip.is_loopback() && !a.ip.is_unspecified());
        assert!(a.source.to_string().starts_with("detected: "));
    }
}

#[test]
fn sources_read_well() {
    assert_eq!(
        AddrSource::Config(NodeIpSource::Env("K8S_NODE_IP")).to_string(),
        "K8S_NODE_IP"
    );
    assert_eq!(
        AddrSource::Config(NodeIpSource::Config).to_string(),
        "[node].ip in the config"
    );
}
