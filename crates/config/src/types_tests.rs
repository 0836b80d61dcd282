use super::*;

fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

#[test]
fn port_formula() {
    assert_eq!(port_for_node_ip(Ipv4Addr::new(10, 99, 0, 2)), 41602);
    assert_eq!(port_for_node_ip(Ipv4Addr::new(192, 168, 1, 254)), 41854);
    assert_eq!(port_for_node_ip(Ipv4Addr::new(10, 0, 0, 255)), 41855);
}

#[test]
fn node_ip_accepts_ipv4_and_explains_the_rest() {
    assert_eq!(
        parse_node_ip(" 10.99.0.2 "),
        Ok(Ipv4Addr::new(10, 99, 0, 2))
    );
    assert_eq!(
        parse_node_ip("::ffff:10.0.0.7"),
        Ok(Ipv4Addr::new(10, 0, 0, 7))
    );
    assert_eq!(
        parse_node_ip("fd00::2").unwrap_err(),
        "node ip `fd00::2` is IPv6; the port formula needs the node's IPv4 address"
    );
    assert!(parse_node_ip("node-1")
        .unwrap_err()
        .contains("is not an IPv4 address"));
    assert!(parse_node_ip("10.0.0.2/24")
        .unwrap_err()
        .contains("is not an IPv4 address"));
    assert!(parse_node_ip("0.0.0.0")
        .unwrap_err()
        .contains("unspecified"));
}

#[test]
fn cidr_parse_and_display() {
    assert_eq!(
        cidr("100.64.0.1/32"),
        Cidr {
            addr: "100.64.0.1".parse().unwrap(),
            prefix_len: 32
        }
    );
    assert_eq!(cidr("100.64.0.1").prefix_len, 32);
    assert_eq!(cidr("fd00::1").prefix_len, 128);
    assert_eq!(cidr("100.64.0.2/24").to_string(), "100.64.0.2/24");
    assert_eq!(cidr("fd00::/64").to_string(), "fd00::/64");
    assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
}

#[test]
fn cidr_errors() {
    assert_eq!(
        "nope/24".parse::<Cidr>(),
        Err(CidrError::Address("nope".into()))
    );
    assert_eq!(
        "10.0.0.1/x".parse::<Cidr>(),
        Err(CidrError::Prefix("x".into()))
    );
    assert_eq!(
        "10.0.0.1/".parse::<Cidr>(),
        Err(CidrError::Prefix("".into()))
    );
    assert_eq!(
        "10.0.0.1/+8".parse::<Cidr>(),
        Err(CidrError::Prefix("+8".into()))
    );
    assert_eq!(
        "10.0.0.1/33".parse::<Cidr>().unwrap_err().to_string(),
        "prefix length 33 is too long for IPv4 (at most 32)"
    );
    assert!("fd00::/129".parse::<Cidr>().is_err());
    assert!("10.0.0.1/999".parse::<Cidr>().is_err());
}

#[test]
fn cidr_network_contains_overlaps() {
    assert_eq!(cidr("100.64.0.2/24").network(), cidr("100.64.0.0/24"));
    assert_eq!(cidr("10.1.2.3/0").network(), cidr("0.0.0.0/0"));
    assert_eq!(cidr("fd00::1:2/112").network(), cidr("fd00::1:0/112"));

    let net = cidr("100.64.0.0/24");
    assert!(net.contains("100.64.0.200".parse().unwrap()));
    assert!(!net.contains("100.64.1.1".parse().unwrap()));
    assert!(!net.contains("::1".parse().unwrap()));
    assert!(cidr("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
    assert!(cidr("100.64.0.1/32").contains("100.64.0.1".parse().unwrap()));

    assert!(net.overlaps(&cidr("100.64.0.1/32")));
    assert!(cidr("100.64.0.1/32").overlaps(&net));
    assert!(!net.overlaps(&cidr("100.64.1.0/24")));
    assert!(!cidr("100.64.0.1/32").overlaps(&cidr("100.64.0.2/32")));
    assert!(!cidr("0.0.0.0/0").overlaps(&cidr("::/0")));
    assert!(cidr("::/0").overlaps(&cidr("fd00::1")));
}

#[test]
fn endpoints() {
    assert_eq!(
        "10.99.0.2:41602".parse::<Endpoint>(),
        Ok(Endpoint::Addr("10.99.0.2:41602".parse().unwrap()))
    );
    assert_eq!(
        "[fd00::2]:51820".parse::<Endpoint>(),
        Ok(Endpoint::Addr("[fd00::2]:51820".parse().unwrap()))
    );
    let host: Endpoint = "vpn.example.com:51820".parse().unwrap();
    assert_eq!(
        host,
        Endpoint::Host {
            host: "vpn.example.com".into(),
            port: 51820
        }
    );
    assert_eq!(host.to_string(), "vpn.example.com:51820");

    assert!(matches!(
        "vpn.example.com".parse::<Endpoint>(),
        Err(HostPortError::MissingPort(_))
    ));
    assert!(matches!(
        "host:0".parse::<Endpoint>(),
        Err(HostPortError::Port(_))
    ));
    assert!(matches!(
        "host:99999".parse::<Endpoint>(),
        Err(HostPortError::Port(_))
    ));
    assert!(matches!(
        "host:+80".parse::<Endpoint>(),
        Err(HostPortError::Port(_))
    ));
    assert!(matches!(
        "10.0.0.256:80".parse::<Endpoint>(),
        Err(HostPortError::Host(_))
    ));
    assert!(matches!(
        "bad host:80".parse::<Endpoint>(),
        Err(HostPortError::Host(_))
    ));
    assert!(matches!(
        "fd00::2:51820".parse::<Endpoint>(),
        Err(HostPortError::UnbracketedIpv6(_))
    ));
    assert!(matches!(
        "fd00::1".parse::<Endpoint>(),
        Err(HostPortError::UnbracketedIpv6(_))
    ));
    assert!(matches!(
        "fd00::g:51820".parse::<Endpoint>(),
        Err(HostPortError::Host(_))
    ));
    assert!(matches!(
        "[nope]:80".parse::<Endpoint>(),
        Err(HostPortError::Host(_))
    ));
}

#[test]
fn backends() {
    let b: Backend = "127.0.0.1:5201".parse().unwrap();
    assert_eq!(
        b,
        Backend {
            host: "127.0.0.1".into(),
            port: 5201
        }
    );
    let b: Backend = "[::1]:80".parse().unwrap();
    assert_eq!(
        b,
        Backend {
            host: "::1".into(),
            port: 80
        }
    );
    assert_eq!(b.to_string(), "[::1]:80");
    let b: Backend = "svc.ns.svc.cluster.local:80".parse().unwrap();
    assert_eq!(b.host, "svc.ns.svc.cluster.local");
    assert_eq!(b.to_string(), "svc.ns.svc.cluster.local:80");
    assert!("localhost:8080".parse::<Backend>().is_ok());
    assert!("svc.cluster.local.:80".parse::<Backend>().is_ok());
    assert!("-bad:80".parse::<Backend>().is_err());
    assert!(":80".parse::<Backend>().is_err());
}
