use super::*;

#[test]
fn advertise_is_used_only_when_it_is_an_endpoint() {
    let e = advertised("[nat]\nadvertise = \"vpn.example.net:41602\"\n").unwrap();
    assert_eq!(e.to_string(), "vpn.example.net:41602");
    assert!(advertised("[nat]\nadvertise = \"auto\"\n").is_none());
    assert!(advertised("[wireguard]\naddress = \"100.64.0.1/24\"\n").is_none());
}

