use super::*;

#[test]
fn renders_what_wg_quick_reads() {
    let key: PrivateKey = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
        .parse()
        .unwrap();
    let endpoint: Endpoint = "203.0.113.7:41602".parse().unwrap();
    let conf = ClientConf {
        private_key: &key,
        address: "100.64.0.3/32".parse().unwrap(),
        dns: Some("100.64.0.1".parse().unwrap()),
        server_key: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
            .parse()
            .unwrap(),
        endpoint: &endpoint,
        allowed_ips: "100.64.0.0/24".parse().unwrap(),
    };
    assert_eq!(
            conf.to_string(),
            "[Interface]\nPrivateKey = dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\nAddress = 100.64.0.3/32\n\
             DNS = 100.64.0.1\n\n[Peer]\nPublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n\
             Endpoint = 203.0.113.7:41602\nAllowedIPs = 100.64.0.0/24\nPersistentKeepalive = 25\n"
        );
    let v6: Endpoint = "[2001:db8::7]:41602".parse().unwrap();
    let conf = ClientConf {
        dns: None,
        endpoint: &v6,
        ..conf
    };
    let text = conf.to_string();
    assert!(text.contains("Endpoint = [2001:db8::7]:41602\n"), "{text}");
    assert!(!text.contains("DNS"), "{text}");
}
