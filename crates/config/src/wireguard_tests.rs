use super::*;

#[test]
fn peer_names() {
    assert!(parse_peer_name("laptop").is_ok());
    assert!(parse_peer_name("Anna.phone_2-x").is_ok());
    assert!(parse_peer_name(&"a".repeat(64)).is_ok());
    assert!(parse_peer_name(&"a".repeat(65)).is_err());
    assert!(parse_peer_name("").is_err());
    assert!(parse_peer_name("my laptop").is_err());
    assert!(parse_peer_name("née").is_err());
}

#[test]
fn tags() {
    assert!(is_tag("admins"));
    assert!(is_tag("team-2"));
    assert!(is_tag(&"a".repeat(63)));
    assert!(!is_tag(&"a".repeat(64)));
    assert!(!is_tag(""));
    assert!(!is_tag("Admins"));
    assert!(!is_tag("a_b"));
}

#[test]
fn interface_addresses() {
    assert!(parse_interface_address("100.64.0.2/24").is_ok());
    assert!(parse_interface_address("100.64.0.1/32").is_ok());
    assert!(parse_interface_address("100.64.0.0/31").is_ok());
    assert!(parse_interface_address("fd00::/64").is_ok());
    assert!(parse_interface_address("100.64.0.0/24")
        .unwrap_err()
        .contains("is the network address"));
    assert!(parse_interface_address("0.0.0.0/0").is_err());
    assert!(parse_interface_address("224.0.0.1/32").is_err());
    assert!(parse_interface_address("100.64.0.1/33").is_err());
}
