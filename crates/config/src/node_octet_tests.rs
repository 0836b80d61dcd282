use super::*;

const NODE: NodeAddress = NodeAddress::Server(Some(Ipv4Addr::new(192, 168, 1, 21)));

#[test]
fn replaces_one_part_with_the_last_octet() {
    assert_eq!(
        expand("100.64.0.{octet}/16", NODE).unwrap(),
        "100.64.0.21/16"
    );
    assert_eq!(
        expand("100.64.{octet}.1/16", NODE).unwrap(),
        "100.64.21.1/16"
    );
    assert_eq!(expand("10.{octet}.0.1", NODE).unwrap(), "10.21.0.1");
}

#[test]
fn addresses_without_placeholder_are_unchanged() {
    for node in [NODE, NodeAddress::Server(None), NodeAddress::Client] {
        assert_eq!(expand("100.64.0.2/24", node).unwrap(), "100.64.0.2/24");
        assert_eq!(expand("fd00::2/64", node).unwrap(), "fd00::2/64");
    }
}

#[test]
fn misuse_is_explained() {
    let e = expand("100.64.0.{octet}/16", NodeAddress::Server(None)).unwrap_err();
    assert!(e.contains("WINGRESS_NODE_IP"), "{e}");
    let e = expand("100.64.0.{octet}/16", NodeAddress::Client).unwrap_err();
    assert!(e.contains("client config"), "{e}");
    let e = expand("100.64.{octet}.{octet}/16", NODE).unwrap_err();
    assert!(e.contains("2 times"), "{e}");
    assert!(expand("100.64.0.1{octet}/16", NODE).is_err());
    assert!(expand("fd00::{octet}/64", NODE).is_err());
}
